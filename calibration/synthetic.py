"""Runs of a simulated "real" arm whose parameters are known: the ground truth of the self-test.

The arm is the default scene with its joint parameters changed, its servos receiving every setpoint
``latency`` seconds late, and its joint states reported with Gaussian sensor noise, as a real arm's
driver would report them. It is simulated step by step with ``mj_step``, not through the
replay the fit uses; what the two share is the scene, how parameters are written into it, and the model
of the trajectory controller.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from calibration.bags import BagWriter
from calibration.joint_log import CommandMessage, MeasuredStates
from calibration.parameters import ArmParameters, apply_parameters
from sim.scene import SceneHandles
from sim.trajectory import TrajectoryFollower
from wm_planner.config import RobotSpec
from wm_planner.control import Trajectory

__all__ = ["SensorNoise", "SyntheticRun", "simulate_run", "write_run_bag"]


@dataclass(frozen=True)
class SensorNoise:
    """Standard deviations of the white noise on reported joint positions (rad) and velocities (rad/s)."""

    position: float = 2e-5
    velocity: float = 2e-3


@dataclass(frozen=True)
class SyntheticRun:
    """What a recorder would have logged: joint states, and the trajectory command at ``stamp`` 1 s."""

    states: MeasuredStates
    command: CommandMessage


def simulate_run(
    model: mujoco.MjModel,
    robot: RobotSpec,
    truth: ArmParameters,
    trajectory: Trajectory,
    start: np.ndarray,
    *,
    noise: SensorNoise,
    seed: int,
    settle: float = 1.0,
) -> SyntheticRun:
    """Hold ``start [J]`` for ``settle`` s, then send ``trajectory`` (stamped at ``settle``) and run until
    it ends plus half a second. Joint states are reported every physics step from 0.1 s before the
    command; their stamps are the time of the state they report."""
    model = copy.copy(model)
    handles = SceneHandles.of(model, robot.joint_names)
    apply_parameters(model, handles, truth)
    data = mujoco.MjData(model)
    data.qpos[handles.arm_qpos] = start
    data.ctrl[handles.actuators] = start
    mujoco.mj_forward(model, data)
    rng = np.random.default_rng(seed)
    follower = TrajectoryFollower(start)
    times = np.arange(1, len(trajectory.positions) + 1) * trajectory.dt
    follower.follow(
        settle,
        times,
        trajectory.positions,
        trajectory.velocities,
        now=settle,
        current=start,
        current_velocity=np.zeros_like(start),
    )
    dt = model.opt.timestep
    steps = round((settle + times[-1] + 0.5) / dt)
    stamps, q, qd = [], [], []
    for k in range(steps):
        data.ctrl[handles.actuators] = follower.sample(k * dt - truth.latency)[0]
        mujoco.mj_step(model, data)
        t = (k + 1) * dt
        if t >= settle - 0.1:
            stamps.append(t)
            q.append(data.qpos[handles.arm_qpos].copy())
            qd.append(data.qvel[handles.arm_dof].copy())
    q, qd = np.array(q), np.array(qd)
    states = MeasuredStates(
        np.array(stamps),
        q + rng.normal(0.0, noise.position, q.shape),
        qd + rng.normal(0.0, noise.velocity, qd.shape),
    )
    command = CommandMessage(settle, trajectory.positions, times, trajectory.velocities)
    return SyntheticRun(states, command)


def write_run_bag(
    run: SyntheticRun, path: str | Path, joint_names: tuple[str, ...], *, command_topic: str
) -> Path:
    """Write ``run`` as a rosbag2 MCAP bag, as the recorder would: ``/joint_states`` and the trajectory on
    ``command_topic``, each logged at its stamp."""
    with BagWriter(path) as bag:
        types = bag.store.types
        js, jt, point, header = (
            types["sensor_msgs/msg/JointState"],
            types["trajectory_msgs/msg/JointTrajectory"],
            types["trajectory_msgs/msg/JointTrajectoryPoint"],
            types["std_msgs/msg/Header"],
        )
        time_msg, duration = types["builtin_interfaces/msg/Time"], types["builtin_interfaces/msg/Duration"]

        def stamp(t: float):
            ns = round(t * 1e9)
            return time_msg(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)

        command = run.command
        arrival = command.stamp if command.received is None else command.received
        # Logged as received: in arrival order, the command among the states; a receive time never goes
        # back even where a stamp does.
        at = int(np.searchsorted(run.states.stamps, arrival))
        events = [(t, "state", i) for i, t in enumerate(run.states.stamps)]
        events.insert(at, (arrival, "command", None))
        received = 0
        for t, kind, i in events:
            received = max(received, round(t * 1e9))
            if kind == "command":
                points = [
                    point(
                        positions=p,
                        velocities=v,
                        accelerations=np.zeros(0),
                        effort=np.zeros(0),
                        time_from_start=duration(sec=int(dt_ // 1), nanosec=round((dt_ % 1) * 1e9)),
                    )
                    for p, v, dt_ in zip(command.values, command.velocities, command.times, strict=True)
                ]
                msg = jt(
                    header=header(stamp=stamp(command.stamp), frame_id=""),
                    joint_names=list(joint_names),
                    points=points,
                )
                bag.write(command_topic, "trajectory_msgs/msg/JointTrajectory", received, msg)
            else:
                msg = js(
                    header=header(stamp=stamp(t), frame_id=""),
                    name=list(joint_names),
                    position=run.states.position[i],
                    velocity=run.states.velocity[i],
                    effort=np.zeros(0),
                )
                bag.write("/joint_states", "sensor_msgs/msg/JointState", received, msg)
    return Path(path)
