"""The loop on its own thread: inputs posted from elsewhere are applied in order before the next
decision, periods keep their rate, refused inputs are reported with their source."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from wm_planner.control import Decision, Goal, GoalKind, LoopRunner, Mode, Rejected
from wm_planner.control.supervisor import Supervisor

from .test_supervisor import HOME, JOINT_GOAL, supervisor

PERIOD = 0.02


class Recorder:
    def __init__(self) -> None:
        self.decisions: list[tuple[Decision, float, bool]] = []
        self.rejected: list[tuple[str, str]] = []

    def report(self, decision: Decision, now: float, period: bool) -> None:
        self.decisions.append((decision, now, period))

    def reject(self, source: str, error: Rejected) -> None:
        self.rejected.append((source, error.reason))


def runner() -> tuple[LoopRunner, Recorder]:
    recorder = Recorder()
    return LoopRunner(supervisor(), PERIOD, report=recorder.report, rejected=recorder.reject), recorder


def test_posted_inputs_drive_the_loop_at_its_period_and_refusals_are_reported() -> None:
    loop, recorder = runner()
    t0 = time.monotonic()
    loop.post("/joint_states", lambda s: s.joint_state(HOME, np.zeros(7), t0, now=time.monotonic(), clock=t0))
    loop.call(Supervisor.activate)
    loop.post("~/joint_goal", lambda s: s.set_goal(Goal(GoalKind.JOINTS, JOINT_GOAL)))
    loop.start()
    stop = threading.Event()

    def driver() -> None:  # a perfect arm publishing its state at 100 Hz from another thread
        while not stop.is_set():
            decision = loop.supervisor.last
            q = HOME if decision.step is None else decision.step.command.position
            now = time.monotonic()
            loop.post(
                "/joint_states",
                lambda s, q=q, now=now: s.joint_state(q, np.zeros(7), now, now=now, clock=now),
            )
            time.sleep(0.01)

    thread = threading.Thread(target=driver)
    thread.start()
    time.sleep(0.5)
    loop.post("~/goal", lambda s: s.set_goal(Goal(GoalKind.END_EFFECTOR, np.array([9.0, 0.0, 0.0]))))
    time.sleep(0.1)
    stop.set()
    thread.join()
    loop.stop()
    periods = [now for _, now, period in recorder.decisions if period]
    assert 20 <= len(periods) <= 32  # 0.6 s at 50 Hz
    assert np.median(np.diff(periods)) == pytest.approx(PERIOD, rel=0.2)
    modes = {decision.mode for decision, _, period in recorder.decisions if period}
    assert Mode.PLAN in modes
    assert ("~/goal", "out_of_bounds") in recorder.rejected
    assert loop.supervisor.goal is not None and loop.supervisor.goal.kind == GoalKind.JOINTS  # kept


def test_call_returns_on_the_loop_thread_and_raises_there_errors_here() -> None:
    loop, _ = runner()
    loop.start()
    try:
        names = loop.call(lambda s: threading.current_thread().name)
        assert names == "control loop"
        with pytest.raises(Rejected):
            loop.call(lambda s: s.set_goal(Goal(GoalKind.JOINTS, np.full(7, 9.0))))
    finally:
        loop.stop()
    assert loop.call(lambda s: threading.current_thread().name) != "control loop"
