"""What a log's commands said: the setpoints as the servos saw them some time later, and the path they
asked the arm to follow."""

from __future__ import annotations

import numpy as np

from calibration.logs.joint_log import JointLog

__all__ = ["delayed", "reference_path"]


def delayed(time: np.ndarray, command: np.ndarray, latency: float) -> np.ndarray:
    """``command [T, J]`` as the servos see it ``latency`` seconds later, linearly interpolated between
    grid points (so a fit can move the latency smoothly) and held at the first value before it."""
    shifted = time - latency
    return np.stack([np.interp(shifted, time, command[:, j]) for j in range(command.shape[1])], axis=1)


def reference_path(log: JointLog, latency: float) -> np.ndarray:
    """Where the commands said the arm should be ``[T, J]``, ``latency`` seconds late: the position
    setpoint, or the integrated velocity setpoint from the first measured position. The no-physics
    baseline a calibrated scene has to beat."""
    commanded = delayed(log.time, log.command, latency)
    if log.command_kind != "velocity":
        return commanded
    return log.position[0] + log.dt * np.concatenate(
        [np.zeros((1, commanded.shape[1])), np.cumsum(commanded[:-1], 0)]
    )
