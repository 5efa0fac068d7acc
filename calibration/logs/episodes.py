"""A log as the world model sees an episode: observations every control period, and as actions the
change of the commanded path over each period."""

from __future__ import annotations

import numpy as np

from calibration.logs.commands import reference_path
from calibration.logs.joint_log import BadLogError, JointLog
from wm_planner.observation import ObservationBuilder

__all__ = ["log_episode"]


def log_episode(
    log: JointLog,
    control_period: float,
    builder: ObservationBuilder,
    object_poses: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The log as a model sees an episode: ``observations [T+1, O]`` from the measured joints (and
    ``object_poses [len(log.time), 7]``, else the object at rest) every control period, and
    ``actions [T, J]``, the change of the commanded path over each period (the integrated setpoint, for
    a velocity-commanded arm)."""
    stride = round(control_period / log.dt)
    if stride < 1 or abs(stride * log.dt - control_period) > 1e-9:
        raise BadLogError(
            f"{log.name}: control period {control_period} s is not a whole number of {log.dt} s log steps"
        )
    at = np.arange(0, len(log.time), stride)
    poses = [None] * len(log.time) if object_poses is None else object_poses
    observations = np.array([builder.build(log.position[i], log.velocity[i], poses[i]) for i in at])
    path = reference_path(log, 0.0)
    return observations.astype(np.float32), np.diff(path[at], axis=0).astype(np.float32)
