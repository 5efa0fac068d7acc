"""``LoopRunner``: a :class:`Supervisor` run at its control period on a thread of its own.

Inputs arrive on other threads (a ROS executor, a driver's callback) and are posted to the runner, which
applies them in order on its thread, as soon as they arrive and always before the next period's plan. So
a plan never delays a joint state, the supervisor is only ever touched by one thread (no lock), and the
newest state is the one each plan starts from. Between periods the runner checks the watchdog four times
a period, so a stale stream is braked within a quarter period of going stale.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

from wm_planner.control.inputs import Rejected
from wm_planner.control.supervisor import Decision, Supervisor

__all__ = ["LoopRunner"]

T = TypeVar("T")

Report = Callable[[Decision, float, bool], None]
"""``report(decision, now, period)``: a decision to publish; ``period`` False for a watchdog's brake."""


class LoopRunner:
    """Runs ``supervisor`` every ``period`` s on its own thread while started.

    ``report`` receives each decision; ``rejected(source, error)`` each posted input the supervisor
    refused. ``clock``: the steady clock inputs are stamped with on arrival (``now``).
    """

    def __init__(
        self,
        supervisor: Supervisor,
        period: float,
        *,
        report: Report,
        rejected: Callable[[str, Rejected], None],
        clock: Callable[[], float] = time.monotonic,
        max_queued: int = 10_000,
    ) -> None:
        if not period > 0.0:
            raise ValueError(f"period must be positive, got {period}")
        self.supervisor = supervisor
        self.period = period
        self.clock = clock
        self.overruns = 0
        """Periods that started late by more than a whole period (the loop fell behind and skipped)."""
        self._report = report
        self._rejected = rejected
        self._posted: deque[tuple[str, Callable[[Supervisor], object], Future[object] | None]] = deque(
            maxlen=max_queued
        )
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    def post(self, source: str, apply: Callable[[Supervisor], object]) -> None:
        """Apply ``apply(supervisor)`` on the loop's thread before its next decision (here and now when
        the loop is not running); a :class:`Rejected` it raises is reported as from ``source``."""
        self._posted.append((source, apply, None))
        if self._thread is None:
            self._drain()
        else:
            self._wake.set()

    def call(self, apply: Callable[[Supervisor], T], timeout_s: float = 5.0) -> T:
        """Apply ``apply(supervisor)`` on the loop's thread (or here, when it is not running) and return
        its result; exceptions propagate to the caller."""
        if self._thread is None:
            self._drain()
            return apply(self.supervisor)
        future: Future[object] = Future()
        self._posted.append(("", apply, future))
        self._wake.set()
        return future.result(timeout_s)  # type: ignore[return-value]

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="control loop", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (after the decision in progress); posted inputs are applied first."""
        if self._thread is None:
            return
        self._stopping.set()
        self._wake.set()
        self._thread.join()
        self._thread = None
        self._drain()

    def _drain(self) -> None:
        while self._posted:
            source, apply, future = self._posted.popleft()
            if future is not None:
                try:
                    future.set_result(apply(self.supervisor))
                except Exception as error:  # handed to the caller, who waits for it
                    future.set_exception(error)
                continue
            try:
                apply(self.supervisor)
            except Rejected as error:
                self._rejected(source, error)

    def _run(self) -> None:
        check = self.period / 4.0
        next_period = self.clock() + self.period
        while not self._stopping.is_set():
            self._drain()
            now = self.clock()
            if now >= next_period:
                if now - next_period > self.period:
                    self.overruns += 1
                    next_period = now
                next_period += self.period
                self._report(self.supervisor.tick(now), now, True)
            else:
                decision = self.supervisor.watch(now)
                if decision is not None:
                    self._report(decision, now, False)
            self._wake.wait(max(0.0, min(next_period, self.clock() + check) - self.clock()))
            self._wake.clear()
