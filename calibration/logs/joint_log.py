"""``JointLog``: one run of the arm on one time grid, and how logged streams are put on it.

Commands arrive as trajectories, position setpoints or velocity setpoints at their own times and
measurements as joint states at theirs. The grid is the physics step: a position setpoint is
reconstructed at every grid time the way joint_trajectory_controller would have sampled it
(:class:`sim.trajectory.TrajectoryFollower`), a velocity setpoint is held until the next, and the measured
positions, velocities and efforts are interpolated onto the same times.

Times here are seconds from the start of the log, computed from integer nanoseconds: epoch stamps
(about 1.7e9 s) as float seconds are only good to about 2.4e-7 s, enough to put a command one physics
step late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from sim.trajectory import TrajectoryFollower

__all__ = [
    "COMMAND_KINDS",
    "BadLogError",
    "CommandMessage",
    "JointLog",
    "MeasuredStates",
    "align",
    "check_stamps",
]


COMMAND_KINDS = ("position", "velocity", "trajectory")
"""What a command topic carries: position setpoints (a forward position controller), velocity setpoints
(rad/s, a forward velocity controller) or trajectories (joint_trajectory_controller)."""

_SAME_TIME = 1e-9
"""Stamps are whole nanoseconds: two times within this are the same time."""


class BadLogError(ValueError):
    """A log that cannot be used; the message names the log, the topic and what is wrong."""


@dataclass(frozen=True)
class JointLog:
    """A run on a uniform grid.

    time: [T] s from the grid's start (the first command, or the first joint state of a log that starts
    mid-run); command: [T, J] the setpoint the controller followed, positions (rad) or with
    ``command_kind == "velocity"`` velocities (rad/s); position, velocity: [T, J] measured (interpolated
    onto the grid); effort: [T, J] measured joint torques (N·m) when the log has them.
    ``skipped``: messages left out, by topic and reason (joint states that do not carry the arm's
    joints, such as a gripper's).
    """

    name: str
    joint_names: tuple[str, ...]
    time: np.ndarray
    command: np.ndarray
    position: np.ndarray
    velocity: np.ndarray
    command_kind: str = "position"
    effort: np.ndarray | None = None
    skipped: dict[str, int] = field(default_factory=dict)
    start_ns: int = 0
    """The clock time of ``time[0]`` in integer nanoseconds (the log's own stamps, an epoch, say)."""

    @property
    def dt(self) -> float:
        return float(self.time[1] - self.time[0])

    @property
    def duration(self) -> float:
        return float(self.time[-1] - self.time[0])

    def window(self, start: float, end: float) -> JointLog:
        """The part of the run between ``start`` and ``end`` (s on :attr:`time`), re-based to zero."""
        keep = (self.time >= start - 1e-9) & (self.time <= end + 1e-9)
        if keep.sum() < 2:
            raise ValueError(f"log {self.name!r} has no samples between {start} and {end} s")
        return replace(
            self,
            time=self.time[keep] - self.time[keep][0],
            command=self.command[keep],
            position=self.position[keep],
            velocity=self.velocity[keep],
            effort=None if self.effort is None else self.effort[keep],
        )


@dataclass(frozen=True)
class MeasuredStates:
    """Joint states as received: stamps [M] (s), position, velocity and effort [M, J] (velocity and effort
    may be None); ``skipped`` counts messages left out, by reason."""

    stamps: np.ndarray
    position: np.ndarray
    velocity: np.ndarray | None
    effort: np.ndarray | None = None
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CommandMessage:
    """One command: a trajectory (``times [K]`` after ``stamp``, ``values [K, J]`` positions, optional
    ``velocities``) or, with ``times`` None, a setpoint ``values [1, J]`` (positions or velocities, as the
    topic's kind says) held from ``stamp``.

    ``received``: when it arrived, if known. A trajectory stamped ahead of its arrival (as
    joint_trajectory_controller allows) blends from the setpoint at arrival to its first point; one that
    arrives after its stamp is replayed from the stamp, and the fitted latency takes up the delay.
    """

    stamp: float
    values: np.ndarray
    times: np.ndarray | None = None
    velocities: np.ndarray | None = None
    received: float | None = None

    @property
    def taken(self) -> float:
        """When the command replaces the one before it (s)."""
        return self.stamp if self.received is None else min(self.received, self.stamp)


def check_stamps(stamps: np.ndarray, *, log: str, topic: str, max_gap: float | None = None) -> None:
    """Raise :class:`BadLogError` for stamps that go backwards, or (with ``max_gap``) leave a gap."""
    if len(stamps) == 0:
        raise BadLogError(f"{log}: topic {topic} has no messages")
    steps = np.diff(stamps)
    back = np.flatnonzero(steps < 0)
    if len(back):
        i = int(back[0]) + 1
        raise BadLogError(
            f"{log}: topic {topic}: stamps are not monotonic: message {i} at {stamps[i]:.6f} s comes after "
            f"{stamps[i - 1]:.6f} s ({len(back)} such messages)"
        )
    if max_gap is not None and len(steps):
        gap = int(np.argmax(steps))
        if steps[gap] > max_gap:
            raise BadLogError(
                f"{log}: topic {topic}: no message for {steps[gap]:.3f} s after {stamps[gap]:.3f} s "
                f"(at most {max_gap:.3f} s allowed)"
            )


def align(
    name: str,
    joint_names: Sequence[str],
    states: MeasuredStates,
    commands: Sequence[CommandMessage],
    *,
    dt: float,
    kind: str = "trajectory",
    origin_ns: int = 0,
) -> JointLog:
    """Put ``commands`` of ``kind`` (see :data:`COMMAND_KINDS`) and ``states`` on one grid of step ``dt``,
    from the first command (or the first joint state, for a log that starts mid-run) to the last state.
    Times are seconds after ``origin_ns`` on the log's clock.

    Before the first command a position controller holds the first measured position, as a trajectory
    controller does when it starts, and a velocity controller commands zero.
    """
    if kind not in COMMAND_KINDS:
        raise ValueError(f"command kind must be one of {COMMAND_KINDS}, got {kind!r}")
    if not commands:
        raise BadLogError(f"{name}: no commands in the log")
    start, end = max(commands[0].stamp, float(states.stamps[0])), float(states.stamps[-1])
    if end - start < 10 * dt:
        raise BadLogError(f"{name}: joint states end {end - start:.3f} s after the first command")
    time = np.arange(0.0, end - start + _SAME_TIME, dt)
    grid = start + time
    position = _interpolate(states.stamps, states.position, grid)
    velocity = (
        np.gradient(position, time, axis=0)
        if states.velocity is None
        else _interpolate(states.stamps, states.velocity, grid)
    )
    effort = None if states.effort is None else _interpolate(states.stamps, states.effort, grid)
    if kind == "velocity":
        command = _held(grid, commands, np.zeros(len(joint_names)))
    else:
        command = _setpoints(grid, commands, _interpolate(states.stamps, states.position, grid[:1])[0])
    return JointLog(
        name,
        tuple(joint_names),
        time,
        command,
        position,
        velocity,
        command_kind="velocity" if kind == "velocity" else "position",
        effort=effort,
        skipped=dict(states.skipped),
        start_ns=origin_ns + round(start * 1e9),
    )


def _interpolate(stamps: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return np.stack([np.interp(grid, stamps, values[:, j]) for j in range(values.shape[1])], axis=1)


def _held(grid: np.ndarray, commands: Sequence[CommandMessage], before: np.ndarray) -> np.ndarray:
    """Each grid time's latest setpoint ``[T, J]`` (``before`` until the first)."""
    taken = np.array([c.taken for c in commands])
    latest = np.searchsorted(taken, grid + _SAME_TIME, side="right") - 1
    values = np.stack([before, *(c.values[-1] for c in commands)])
    return values[latest + 1]


def _setpoints(grid: np.ndarray, commands: Sequence[CommandMessage], hold: np.ndarray) -> np.ndarray:
    """The setpoint ``[T, J]`` at each grid time, replaying ``commands`` into a trajectory follower."""
    follower = TrajectoryFollower(hold)
    out = np.empty((len(grid), len(hold)))
    k = 0
    for i, t in enumerate(grid):
        while k < len(commands) and commands[k].taken <= t + _SAME_TIME:
            command = commands[k]
            if command.times is None:
                follower.hold(command.values[-1])
            else:
                current, velocity = follower.sample(command.taken)
                follower.follow(
                    command.stamp,
                    command.times,
                    command.values,
                    command.velocities,
                    now=command.taken,
                    current=current,
                    current_velocity=velocity,
                )
            k += 1
        out[i] = follower.sample(t)[0]
    return out
