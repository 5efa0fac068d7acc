"""Joint trajectories followed the way ros2_control's joint_trajectory_controller follows them.

A new trajectory replaces the old one from its start time; the arm's state at that moment becomes the
first knot, so the motion toward the first point is interpolated too. Between knots, positions with
velocities give a cubic Hermite spline and positions alone a straight line; after the last point the
position holds. A forward position command (forward_command_controller) is a constant target.
"""

from __future__ import annotations

import numpy as np

__all__ = ["TrajectoryFollower"]


class TrajectoryFollower:
    """The position setpoint ``[J]`` at any time, from the latest trajectory or position command."""

    def __init__(self, position: np.ndarray) -> None:
        self.hold(position)

    def hold(self, position: np.ndarray) -> None:
        """Hold ``position [J]`` from now on (a forward position command, or after a reset)."""
        position = np.asarray(position, dtype=np.float64)
        self._times = np.zeros(1)
        self._positions = position[None].copy()
        self._velocities: np.ndarray | None = None

    def follow(
        self,
        start: float,
        times: np.ndarray,
        positions: np.ndarray,
        velocities: np.ndarray | None,
        *,
        now: float,
        current: np.ndarray,
        current_velocity: np.ndarray,
    ) -> None:
        """Follow ``positions [K, J]`` (and ``velocities [K, J]``) at ``start + times [K]`` (s).

        The setpoint at ``now`` and ``current_velocity`` become the first knot.
        """
        times = start + np.asarray(times, dtype=np.float64)
        keep = times > now
        if not keep.any():
            self.hold(positions[-1])
            return
        self._times = np.concatenate([[now], times[keep]])
        self._positions = np.concatenate([np.asarray(current, np.float64)[None], positions[keep]])
        self._velocities = (
            None
            if velocities is None
            else np.concatenate([np.asarray(current_velocity, np.float64)[None], velocities[keep]])
        )

    @property
    def end_time(self) -> float:
        return float(self._times[-1])

    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Setpoint ``position [J]`` and ``velocity [J]`` at time ``t``."""
        times, positions = self._times, self._positions
        if t >= times[-1]:
            return positions[-1].copy(), np.zeros(positions.shape[1])
        if t <= times[0]:
            velocity = np.zeros(positions.shape[1]) if self._velocities is None else self._velocities[0]
            return positions[0].copy(), velocity.copy()
        k = int(np.searchsorted(times, t, side="right")) - 1
        span = times[k + 1] - times[k]
        s = (t - times[k]) / span
        p0, p1 = positions[k], positions[k + 1]
        if self._velocities is None:
            return p0 + s * (p1 - p0), (p1 - p0) / span
        m0, m1 = self._velocities[k] * span, self._velocities[k + 1] * span
        h00, h10, h01, h11 = 2 * s**3 - 3 * s**2 + 1, s**3 - 2 * s**2 + s, -2 * s**3 + 3 * s**2, s**3 - s**2
        d00, d10, d01, d11 = 6 * s**2 - 6 * s, 3 * s**2 - 4 * s + 1, -6 * s**2 + 6 * s, 3 * s**2 - 2 * s
        position = h00 * p0 + h10 * m0 + h01 * p1 + h11 * m1
        velocity = (d00 * p0 + d10 * m0 + d01 * p1 + d11 * m1) / span
        return position, velocity
