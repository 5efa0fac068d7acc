from __future__ import annotations

import math

import numpy as np
import pytest

from wm_planner.planning import Plan
from wm_planner.safety import PlanFallback, Problem, StateWatchdog


def test_watchdog_goes_stale_after_the_timeout_and_counts_each_outage() -> None:
    dog = StateWatchdog(0.03)
    assert dog.stale(0.0) and math.isinf(dog.age(0.0))
    dog.feed(1.0)
    assert not dog.stale(1.029)
    assert dog.stale(1.031)
    assert dog.stale(1.2)
    dog.feed(1.21)
    assert not dog.stale(1.22)
    assert dog.stale(1.5)
    assert dog.stale_events == 2
    with pytest.raises(ValueError, match="timeout"):
        StateWatchdog(0.0)


def plan(actions: np.ndarray, *, cost: float = 1.0, late: bool = False) -> Plan:
    return Plan(actions, cost, np.zeros((len(actions), 3)), 1, 0.02 if late else 0.001, 0.0, late)


def test_fallback_shifts_the_last_good_plan_then_holds() -> None:
    fallback = PlanFallback(max_reuse=2)
    good = np.arange(8, dtype=np.float32).reshape(4, 2)
    assert fallback.judge(plan(good)).problem is None
    first = fallback.judge(plan(good * 0, late=True))
    assert np.array_equal(first.actions, np.concatenate([good[1:], np.zeros((1, 2))]))
    assert first.problem == Problem.PLAN_LATE and "late" in first.detail
    second = fallback.judge(plan(good, cost=math.nan))
    assert np.array_equal(second.actions[:2], good[2:]) and second.problem == Problem.PLAN_INVALID
    third = fallback.judge(plan(good, late=True))
    assert third.actions is None and "holding" in third.detail
    assert (fallback.deadline_misses, fallback.invalid_plans, fallback.fallbacks) == (2, 1, 3)


def test_non_finite_actions_are_invalid() -> None:
    actions = np.zeros((3, 2), dtype=np.float32)
    actions[1, 0] = np.inf
    assert PlanFallback(max_reuse=1).judge(plan(actions)).actions is None
