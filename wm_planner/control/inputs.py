"""Checks on what the control loop is told: measured joint states and object poses.

A failed check raises :class:`Rejected` with a short ``reason`` key, so callers count rejections by
reason; nothing rejected reaches the planner or the arm.
"""

from __future__ import annotations

import numpy as np

from wm_planner.config import RobotSpec

__all__ = ["Rejected", "check_finite", "check_measured", "max_travel"]

MEASURED_SLACK_RAD = 0.05
"""How far past a joint limit a measurement may be (encoder offsets, overshoot into a soft stop)."""
MEASURED_SPEED_FACTOR = 1.5
"""How much faster than its velocity limit a joint may be measured moving (noise, overshoot)."""


class Rejected(ValueError):
    """An input that must not be acted on; ``reason`` is a short key for counting."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def check_finite(values: np.ndarray, field: str) -> np.ndarray:
    """``values`` as float64, or :class:`Rejected` (``non_finite``) naming ``field``."""
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise Rejected("non_finite", f"{field} holds NaN or Inf: {array.tolist()}")
    return array


def check_measured(robot: RobotSpec, q: np.ndarray, qd: np.ndarray | None) -> None:
    """Refuse joint states no arm can be in: far past its limits, or moving far beyond its speed."""
    far = (q < robot.lower() - MEASURED_SLACK_RAD) | (q > robot.upper() + MEASURED_SLACK_RAD)
    if far.any():
        raise Rejected("out_of_limits", f"positions {np.round(q, 4).tolist()} beyond the joint limits")
    if qd is not None and np.any(np.abs(qd) > MEASURED_SPEED_FACTOR * np.asarray(robot.velocity_limits)):
        raise Rejected("too_fast", f"velocities {np.round(qd, 4).tolist()} beyond the arm's limits")


def max_travel(robot: RobotSpec, seconds: float) -> np.ndarray:
    """Farthest each joint can plausibly move in ``seconds`` ``[J]`` (measurement noise included)."""
    speed = MEASURED_SPEED_FACTOR * np.asarray(robot.velocity_limits)
    return np.asarray(speed * max(seconds, 0.0) + MEASURED_SLACK_RAD)
