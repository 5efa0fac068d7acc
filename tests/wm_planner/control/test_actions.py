"""ActionController on a known system: a point whose imagined position is the start plus the summed
actions, built through the planning factory as ``wm-planner gym-eval`` builds it."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from wm_planner.config import PlannerConfig, SafetyConfig
from wm_planner.control import RolloutSource, build_action_controller
from wm_planner.data.layout import Layout
from wm_planner.planning import Imagined

LAYOUT = Layout.of(("position", 2, "m"))
LOW, HIGH = np.array([-0.1, -0.1]), np.array([0.1, 0.3])


def point(obs: np.ndarray):
    def rollout(actions: np.ndarray) -> Imagined:
        return Imagined(obs[None, None, :].astype(np.float32) + np.cumsum(actions, axis=1))

    return rollout


def nowhere(obs: np.ndarray):
    def rollout(actions: np.ndarray) -> Imagined:
        return Imagined(np.full((*actions.shape[:2], 2), np.nan, dtype=np.float32))

    return rollout


def controller(bind=point, *, max_reuse: int = 2):
    source = RolloutSource("test", bind, LAYOUT, ("CPUExecutionProvider",))
    return build_action_controller(
        source,
        action_low=LOW,
        action_high=HIGH,
        planner=PlannerConfig(samples=64, horizon=8, iterations=2, elites=8),
        safety=SafetyConfig(max_plan_reuse=max_reuse),
    )


def to(goal: np.ndarray):
    return lambda features, actions: np.linalg.norm(features - goal, axis=-1).sum(axis=1)


def test_actions_bring_the_point_to_the_goal_within_the_bounds() -> None:
    ctl, position, goal = controller(), np.zeros(2), np.array([0.5, -0.4])
    ctl.start(to(goal), seed=0)
    actions = []
    for _ in range(20):
        step = ctl.step(position)
        assert step.mode == "plan" and step.plan is not None
        actions.append(step.action)
        position = position + step.action
    assert np.linalg.norm(position - goal) < 0.05
    assert np.all(np.array(actions) >= LOW - 1e-6) and np.all(np.array(actions) <= HIGH + 1e-6)


def test_the_hold_action_is_the_centre_of_the_bounds_without_a_goal() -> None:
    step = controller().step(np.zeros(2))
    assert step.mode == "hold" and step.problem == "no goal"
    assert np.allclose(step.action, [0.0, 0.1])


def test_an_invalid_plan_reuses_the_last_good_one_then_holds() -> None:
    ctl = controller(max_reuse=2)
    ctl.start(to(np.array([1.0, 1.0])), seed=0)
    good = ctl.step(np.zeros(2))
    ctl.judge.bind = nowhere
    steps = [ctl.step(np.zeros(2)) for _ in range(3)]
    assert [s.mode for s in steps] == ["fallback", "fallback", "hold"]
    assert np.allclose(steps[0].action, good.plan.actions[1]) and np.allclose(steps[2].action, [0.0, 0.1])
    assert ctl.judge.fallback.invalid_plans == 3


def test_the_same_seed_plans_the_same_actions() -> None:
    runs = []
    for _ in range(2):
        ctl = controller()
        ctl.start(to(np.array([0.3, 0.3])), seed=7)
        runs.append(ctl.step(np.zeros(2)).action)
    assert np.array_equal(runs[0], runs[1])


def test_a_config_that_asks_for_another_search_than_the_bundles_is_warned_and_shaped() -> None:
    source = RolloutSource("test", point, LAYOUT, ("CPUExecutionProvider",), samples=32, horizon=8)
    with pytest.warns(UserWarning, match="samples 256 -> 32"):
        shaped = source.shape(PlannerConfig(samples=256, iterations=3))
    assert (shaped.samples, shaped.horizon, shaped.iterations) == (32, 8, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert source.shape(None).samples == 32  # nothing asked, nothing to warn about
        assert source.shape(PlannerConfig(iterations=3)).samples == 32
