"""``JointLog``: one run of the arm on one time grid, and how logged streams are put on it.

Commands arrive as trajectories or position setpoints at their own times and measurements as joint states
at theirs. The grid is the physics step: the setpoint is reconstructed at every grid time the way
joint_trajectory_controller would have sampled it (:class:`sim.trajectory.TrajectoryFollower`), and the
measured positions and velocities are interpolated onto the same times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from sim.trajectory import TrajectoryFollower

__all__ = [
    "BadLogError",
    "CommandMessage",
    "JointLog",
    "MeasuredStates",
    "align",
    "check_stamps",
]


class BadLogError(ValueError):
    """A log that cannot be used; the message names the log, the topic and what is wrong."""


@dataclass(frozen=True)
class JointLog:
    """A run on a uniform grid.

    time: [T] s from the first command; command: [T, J] the position setpoint the controller followed;
    position, velocity: [T, J] measured (interpolated onto the grid).
    """

    name: str
    joint_names: tuple[str, ...]
    time: np.ndarray
    command: np.ndarray
    position: np.ndarray
    velocity: np.ndarray

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
        )


@dataclass(frozen=True)
class MeasuredStates:
    """Joint states as received: stamps [M] (s), position and velocity [M, J] (velocity may be None)."""

    stamps: np.ndarray
    position: np.ndarray
    velocity: np.ndarray | None


@dataclass(frozen=True)
class CommandMessage:
    """One command: a trajectory (``times [K]`` after ``stamp``, ``positions [K, J]``, optional
    ``velocities``) or, with ``times`` None, a position setpoint ``positions [1, J]`` held from ``stamp``.

    ``received``: when it arrived, if known. A trajectory stamped ahead of its arrival (as
    joint_trajectory_controller allows) blends from the setpoint at arrival to its first point; one that
    arrives after its stamp is replayed from the stamp, and the fitted latency takes up the delay.
    """

    stamp: float
    positions: np.ndarray
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
) -> JointLog:
    """Put ``commands`` and ``states`` on one grid of step ``dt`` from the first command to the last state.

    Before the first command the controller holds the first measured position, as a trajectory controller
    does when it starts.
    """
    if not commands:
        raise BadLogError(f"{name}: no commands in the log")
    start, end = commands[0].stamp, float(states.stamps[-1])
    if end - start < 10 * dt:
        raise BadLogError(f"{name}: joint states end {end - start:.3f} s after the first command")
    if states.stamps[0] > start + dt:
        raise BadLogError(
            f"{name}: the first joint state is {states.stamps[0] - start:.3f} s after the first command; "
            "the start state is unknown"
        )
    time = np.arange(0.0, end - start + 1e-9, dt)
    grid = start + time
    position = _interpolate(states.stamps, states.position, grid)
    velocity = (
        np.gradient(position, time, axis=0)
        if states.velocity is None
        else _interpolate(states.stamps, states.velocity, grid)
    )
    command = _setpoints(grid, commands, position[0])
    return JointLog(name, tuple(joint_names), time, command, position, velocity)


def _interpolate(stamps: np.ndarray, values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return np.stack([np.interp(grid, stamps, values[:, j]) for j in range(values.shape[1])], axis=1)


def _setpoints(grid: np.ndarray, commands: Sequence[CommandMessage], hold: np.ndarray) -> np.ndarray:
    """The setpoint ``[T, J]`` at each grid time, replaying ``commands`` into a trajectory follower."""
    follower = TrajectoryFollower(hold)
    out = np.empty((len(grid), len(hold)))
    k = 0
    for i, t in enumerate(grid):
        while k < len(commands) and commands[k].taken <= t + 1e-12:
            command = commands[k]
            if command.times is None:
                follower.hold(command.positions[-1])
            else:
                current, velocity = follower.sample(command.taken)
                follower.follow(
                    command.stamp,
                    command.times,
                    command.positions,
                    command.velocities,
                    now=command.taken,
                    current=current,
                    current_velocity=velocity,
                )
            k += 1
        out[i] = follower.sample(t)[0]
    return out
