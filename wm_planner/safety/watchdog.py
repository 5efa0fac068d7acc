"""The stale-state watchdog: a plan is only as good as the state it starts from.

Time is whatever monotonic clock the caller uses (a steady clock on the robot, so that a stalled
simulation clock cannot freeze the watchdog along with the data it watches).
"""

from __future__ import annotations

import math

__all__ = ["StateWatchdog"]


class StateWatchdog:
    """Says whether the latest measured state arrived within ``timeout_s``."""

    def __init__(self, timeout_s: float) -> None:
        if not timeout_s > 0.0:
            raise ValueError(f"state timeout must be positive, got {timeout_s} s")
        self.timeout_s = timeout_s
        self._last: float | None = None
        self.stale_events = 0
        self._was_stale = True

    def feed(self, now_s: float) -> None:
        """A valid state arrived at ``now_s``."""
        self._last = now_s

    def age(self, now_s: float) -> float:
        """Seconds since the latest state; infinite before the first."""
        return math.inf if self._last is None else now_s - self._last

    def stale(self, now_s: float) -> bool:
        """True when the latest state is older than the timeout; counts each fresh-to-stale change."""
        stale = self.age(now_s) > self.timeout_s
        if stale and not self._was_stale:
            self.stale_events += 1
        self._was_stale = stale
        return stale

    def clear(self) -> None:
        """Forget the latest state (after a reset): stale until the next one arrives."""
        self._last = None
        self._was_stale = True
