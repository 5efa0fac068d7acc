"""What a log's commands said: the setpoints as the servos saw them some time later, and the path they
asked the arm to follow."""

from __future__ import annotations

import numpy as np

from calibration.logs.joint_log import JointLog

__all__ = ["delayed", "integrated", "reference_path"]


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
    return integrated(commanded, log.position[0], log.dt)


def integrated(velocities: np.ndarray, start: np.ndarray, dt: float) -> np.ndarray:
    """Positions ``[T, J]`` reached by following ``velocities [T, J]`` from ``start [J]``, each held for
    ``dt``: row ``t`` sums the velocities before it, not its own (the arm is at ``start`` at ``t = 0``)."""
    before = np.concatenate([np.zeros((1, velocities.shape[1])), np.cumsum(velocities[:-1], 0)])
    return start + dt * before
