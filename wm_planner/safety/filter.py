"""The command filter: every command that reaches the arm goes through it, whatever the planner said.

Commands are joint positions, one per control period. The filter works on the step ``d = p1 - p0`` from
the previous command ``p0`` and keeps, in this order:

1. finiteness: a target with NaN or Inf is replaced by "stop here" (a smooth hold);
2. the velocity limits: ``|d| <= v_max dt``, by one common scale factor, so the direction is kept
   (after the limits were lowered while moving, a joint above its new limit slows down to it at its
   acceleration limit instead of at once);
3. braking room: no joint moves faster than it can still stop, decelerating at its limit, before its
   position limit minus the margin; again one common factor;
4. the acceleration limits: ``|d - d_prev| <= a_max dt^2``, scaling the change by one common factor;
5. braking room per joint after (4), which can only slow a joint down within its acceleration limit.

From a command history that was itself filtered, the result is within every limit and continuous with
the previous command. A history the filter did not make (the first command after a reset from a moving
arm) may not be: then position and velocity limits win over continuity, and the result says so.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from wm_planner.config import RobotSpec, SafetyConfig

__all__ = ["CommandFilter", "FilteredCommand", "stoppable_step"]


def stoppable_step(room: np.ndarray, acc_step: np.ndarray) -> np.ndarray:
    """Largest step after which steps shrinking by ``acc_step`` each stop within ``room``; ``[J]``.

    With k further steps, s + (s - a) + ... + (s - k a) = room; k is the most braking steps that fit.
    """
    room = np.maximum(room, 0.0)
    k = np.floor((np.sqrt(1.0 + 8.0 * room / acc_step) - 1.0) / 2.0)
    step: np.ndarray = room / (k + 1.0) + acc_step * k / 2.0
    return step


@dataclass(frozen=True)
class FilteredCommand:
    """A safe command: joint ``position [J]`` and ``velocity [J]`` (rad/s, over the control period), and
    which limits changed the target (``non_finite``, ``velocity``, ``braking``, ``acceleration``,
    ``position``); empty when the target passed unchanged."""

    position: np.ndarray
    velocity: np.ndarray
    limited: tuple[str, ...]


def _common_scale(step: np.ndarray, allowed: np.ndarray) -> float:
    """Largest factor in [0, 1] with ``|factor * step| <= allowed`` everywhere."""
    moving = np.abs(step) > 0.0
    if not moving.any():
        return 1.0
    with np.errstate(over="ignore"):  # a subnormal step gives an infinite ratio, which min() ignores
        return float(min(1.0, np.min(allowed[moving] / np.abs(step[moving]))))


class CommandFilter:
    """Stateful filter of joint position commands for one robot (see the module docstring).

    ``reset(position)`` starts it from the arm's measured position at rest (or moving, with
    ``velocity``); each call ``filter(target)`` then returns the next safe command and remembers it.
    """

    def __init__(self, robot: RobotSpec, config: SafetyConfig | None = None) -> None:
        self.config = config or SafetyConfig()
        self._robot = robot
        dt = robot.control_period
        self.dt = dt
        margin = self.config.position_margin
        self.lower = np.asarray(robot.position_lower, dtype=np.float64) + margin
        self.upper = np.asarray(robot.position_upper, dtype=np.float64) - margin
        if np.any(self.lower >= self.upper):
            raise ValueError(f"position_margin {margin} rad leaves no room between some joint limits")
        self.max_step = self.config.speed_scale * np.asarray(robot.velocity_limits, dtype=np.float64) * dt
        self.acc_step = (
            self.config.acceleration_scale * np.asarray(robot.acceleration_limits, dtype=np.float64) * dt * dt
        )
        self._position: np.ndarray = (self.lower + self.upper) / 2.0
        self._step = np.zeros_like(self._position)

    @property
    def position(self) -> np.ndarray:
        """The last command ``[J]``."""
        return np.array(self._position)

    def reset(self, position: np.ndarray, velocity: np.ndarray | None = None) -> None:
        """Start from the measured ``position [J]`` (clamped into the limits) and ``velocity [J]``."""
        position = np.asarray(position, dtype=np.float64)
        if position.shape != self._position.shape or not np.all(np.isfinite(position)):
            raise ValueError(
                f"reset position must be {self._position.size} finite values, got {position.tolist()}"
            )
        self._position = np.clip(position, self.lower, self.upper)
        step = np.zeros_like(position) if velocity is None else np.asarray(velocity, np.float64) * self.dt
        self._step = np.where(np.isfinite(step), np.clip(step, -self.max_step, self.max_step), 0.0)

    @property
    def step(self) -> np.ndarray:
        """The last command's step ``[J]`` (rad per period): where the next one's acceleration starts."""
        return np.array(self._step)

    @property
    def at_rest(self) -> bool:
        """True when the last command did not move."""
        return not np.any(self._step)

    def retuned(self, config: SafetyConfig) -> CommandFilter:
        """A filter with the limits of ``config`` that goes on from this one's last command. The margin
        cannot change: the last command might lie outside the new one."""
        if config.position_margin != self.config.position_margin:
            raise ValueError(
                "position_margin cannot change while commanding: the last command may lie outside"
            )
        retuned = CommandFilter(self._robot, config)
        retuned._position, retuned._step = self._position, self._step
        return retuned

    def fork(self) -> CommandFilter:
        """An independent filter in this one's state, to preview commands without committing them."""
        return copy.copy(self)  # filter() rebinds its arrays instead of writing into them

    def hold(self) -> FilteredCommand:
        """The next command of a smooth stop where the arm is."""
        return self.filter(self._position)

    def filter(self, target: np.ndarray) -> FilteredCommand:
        """The safe next command toward the joint position ``target [J]``."""
        target = np.asarray(target, dtype=np.float64)
        if target.shape != self._position.shape:
            raise ValueError(f"command must have {self._position.size} joints, got shape {target.shape}")
        limited: list[str] = []
        p0, previous = self._position, self._step
        if not np.all(np.isfinite(target)):
            limited.append("non_finite")
            target = p0
        step = target - p0
        # Within the velocity limits, or slowing down to them at the acceleration limit.
        max_step = np.maximum(self.max_step, np.abs(previous) - self.acc_step)
        scale = _common_scale(step, max_step)
        if scale < 1.0:
            limited.append("velocity")
            step = step * scale
        up = stoppable_step(self.upper - p0, self.acc_step)
        down = stoppable_step(p0 - self.lower, self.acc_step)
        scale = _common_scale(step, np.where(step < 0.0, down, up))
        if scale < 1.0:
            limited.append("braking")
            step = step * scale
        change = step - previous
        scale = _common_scale(change, self.acc_step)
        if scale < 1.0:
            limited.append("acceleration")
            step = previous + change * scale
        braked = np.clip(step, -down, up)
        if not np.array_equal(braked, step) and "braking" not in limited:
            limited.append("braking")
        step = np.clip(braked, -max_step, max_step)
        position = np.clip(p0 + step, self.lower, self.upper)
        if not np.array_equal(position, p0 + step):
            limited.append("position")
        self._step = position - p0
        self._position = position
        return FilteredCommand(position.copy(), self._step / self.dt, tuple(limited))
