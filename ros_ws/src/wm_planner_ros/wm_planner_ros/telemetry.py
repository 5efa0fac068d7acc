"""What the planner node reports: loop rate, plan latency percentiles and counts of what went wrong."""

from __future__ import annotations

from collections import Counter, deque

import numpy as np

__all__ = ["Telemetry"]


class Telemetry:
    """Sliding windows of the last ``window`` control ticks and plan latencies, plus event counters."""

    def __init__(self, window: int = 500) -> None:
        self._ticks: deque[float] = deque(maxlen=window)
        self._latencies: deque[float] = deque(maxlen=window)
        self.rejected: Counter[str] = Counter()
        self.modes: Counter[str] = Counter()

    def tick(self, now_s: float) -> None:
        """The control timer fired (the loop rate counts these, whatever the period then did)."""
        self._ticks.append(now_s)

    def stepped(self, mode: str) -> None:
        """A command was published in ``mode`` (plan, fallback, hold)."""
        self.modes[mode] += 1

    def planned(self, latency_s: float) -> None:
        self._latencies.append(latency_s)

    def reject(self, reason: str) -> int:
        """Count a rejected input; returns how many of this reason so far."""
        self.rejected[reason] += 1
        return self.rejected[reason]

    def loop_rate_hz(self) -> float:
        if len(self._ticks) < 2:
            return 0.0
        return (len(self._ticks) - 1) / (self._ticks[-1] - self._ticks[0])

    def latency_ms(self, percentile: float) -> float:
        if not self._latencies:
            return 0.0
        return 1000.0 * float(np.percentile(np.fromiter(self._latencies, float), percentile))

    def clear_windows(self) -> None:
        """Start the rate and latency windows afresh (after a pause in the loop)."""
        self._ticks.clear()
        self._latencies.clear()
