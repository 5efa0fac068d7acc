"""A "real" arm whose drive lies outside every class the calibration fits.

Real arms in velocity mode run a cascaded loop inside their drive: the commanded velocity arrives late,
is smoothed by a command filter, and a fast velocity loop (PI on the velocity error, gravity compensated)
turns it into motor torque. Rotor inertia, motor friction and damping act on the motor side, and the
torque sensor sits after the gearbox, so the logged effort is the torque the link receives, not the
motor's. Neither the MuJoCo servo (no command filter, one PD law) nor the shaped delay (no dynamics) is
this drive: the self-test against it checks that calibration picks the class that tracks best and beats
the delay baseline, rather than recovering parameters that do not exist.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import mujoco
import numpy as np

from calibration.ground_truth.synthetic import (
    SensorNoise,
    SyntheticRun,
    velocity_commands,
    velocity_setpoints,
)
from calibration.logs.commands import delayed, integrated
from calibration.logs.joint_log import MeasuredStates
from calibration.model.shaped import low_pass
from sim.scene import SceneHandles
from sim.twin import reflected_inertia
from wm_planner.config import RobotSpec
from wm_planner.control import Trajectory

__all__ = ["CascadedDrive", "simulate_drive_run"]


@dataclass(frozen=True)
class CascadedDrive:
    """The drive: ``latency`` (s) before a first-order command filter (``filter_time_constant``, s), then
    a velocity PI loop at ``loop_hz`` whose closed loop has natural frequency ``bandwidth_hz`` and damping
    ratio one on each joint's reflected inertia."""

    latency: float = 0.008
    filter_time_constant: float = 0.02
    bandwidth_hz: float = 12.0
    loop_hz: float = 1000.0

    def gains(self, inertia: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Proportional (N·m·s/rad) and integral (N·m/rad) gains ``[J]`` for reflected ``inertia [J]``."""
        omega = 2.0 * np.pi * self.bandwidth_hz
        return 2.0 * inertia * omega, inertia * omega**2


def _as_motors(model: mujoco.MjModel, actuators: np.ndarray) -> None:
    """The arm's position servos turned into torque motors: force = ctrl, within the force range."""
    model.actuator_gainprm[actuators, 0] = 1.0
    model.actuator_biasprm[actuators, :3] = 0.0
    model.actuator_ctrllimited[actuators] = 0


def simulate_drive_run(
    model: mujoco.MjModel,
    robot: RobotSpec,
    drive: CascadedDrive,
    trajectory: Trajectory,
    start: np.ndarray,
    *,
    noise: SensorNoise,
    seed: int,
    settle: float = 1.0,
) -> SyntheticRun:
    """Hold ``start [J]`` for ``settle`` s, then send ``trajectory``'s velocities as setpoints, one per
    loop period, and run until it ends plus half a second. Joint states (link-side efforts) are reported
    every loop period from 0.1 s before the first command. ``model`` is the arm as it really is (masses,
    rotor inertia, friction); its servos are replaced by the drive."""
    model = copy.copy(model)
    model.opt.timestep = 1.0 / drive.loop_hz
    handles = SceneHandles.of(model, robot.joint_names)
    dof, act = handles.arm_dof, handles.actuators
    _as_motors(model, act)
    kv, ki = drive.gains(reflected_inertia(model, start, dof))
    data = mujoco.MjData(model)
    data.qpos[handles.arm_qpos] = start
    mujoco.mj_forward(model, data)

    dt = model.opt.timestep
    grid, setpoints = velocity_setpoints(trajectory, start, dt=dt, settle=settle)
    steps = len(grid)
    arrived = delayed(grid, setpoints, drive.latency)
    velocity_ref = low_pass(arrived, np.full(len(start), drive.filter_time_constant), dt)
    position_ref = integrated(velocity_ref, start, dt)

    rng = np.random.default_rng(seed)
    stamps, q, qd, link = [], [], [], []
    armature = model.dof_armature[dof]
    for k in range(steps):
        position_error = position_ref[k] - data.qpos[handles.arm_qpos]
        data.ctrl[act] = kv * (velocity_ref[k] - data.qvel[dof]) + ki * position_error
        before = data.qvel[dof].copy()
        mujoco.mj_step(model, data)
        acceleration = (data.qvel[dof] - before) / dt
        # What the link receives: the motor's torque and the drive's gravity compensation (in
        # qfrc_passive) less what the rotor's inertia, the motor's friction and damping took (data still
        # holds the step's forces).
        motor_side = data.qfrc_passive[dof] + data.qfrc_constraint[dof] - armature * acceleration
        received = data.qfrc_actuator[dof] + motor_side
        t = (k + 1) * dt
        if t >= settle - 0.1:
            stamps.append(t)
            q.append(data.qpos[handles.arm_qpos].copy())
            qd.append(data.qvel[dof].copy())
            link.append(received)
    positions, velocities, efforts = np.array(q), np.array(qd), np.array(link)
    states = MeasuredStates(
        np.array(stamps),
        positions + rng.normal(0.0, noise.position, positions.shape),
        velocities + rng.normal(0.0, noise.velocity, velocities.shape),
        efforts + rng.normal(0.0, noise.effort, efforts.shape),
    )
    return SyntheticRun(states, velocity_commands(grid, setpoints, settle), "velocity")
