"""The joint torque a torque-sensing arm reports, read off the simulated one.

A real arm reports the torque its controller applies at each joint: the servo's torque plus the gravity
compensation (here MuJoCo's ``gravcomp``). MuJoCo's implicit integrators apply the servo's velocity
term at the end of each step, so the torque that actually moved the arm over a step is the servo's torque
at its start less ``dt · kv · q̈`` (and the rigid-body equations hold for that torque, as they do for a
real arm's sensed one).
"""

from __future__ import annotations

import mujoco
import numpy as np

from sim.scene import SceneHandles

__all__ = ["applied_torque"]


def applied_torque(
    model: mujoco.MjModel, data: mujoco.MjData, handles: SceneHandles, qvel_before: np.ndarray
) -> np.ndarray:
    """The arm's joint torques ``[J]`` over the step ``mj_step`` just took from arm velocities
    ``qvel_before [J]`` (``data`` still holds the forces it computed at the step's start)."""
    dof = handles.arm_dof
    acceleration = (data.qvel[dof] - qvel_before) / model.opt.timestep
    kv = -model.actuator_biasprm[handles.actuators, 2]
    return data.qfrc_actuator[dof] + data.qfrc_gravcomp[dof] - model.opt.timestep * kv * acceleration
