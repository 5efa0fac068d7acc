"""Planners on problems with known answers: identity and integrator rollouts with quadratic costs."""

from __future__ import annotations

import numpy as np
import pytest

from wm_planner.planning import CEM, MPPI, Imagined, PlannerConfig, make_planner

ALGORITHMS = ["mppi", "cem"]
LOW, HIGH = -np.ones(3), np.ones(3)


def identity_rollout(actions: np.ndarray) -> Imagined:
    return Imagined(features=actions.copy())


def quadratic_to(target: np.ndarray):
    def cost(features: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return ((features - target) ** 2).sum(axis=(1, 2))

    return cost


def planner(algorithm: str, **overrides) -> MPPI | CEM:
    config = PlannerConfig(
        **{"algorithm": algorithm, "samples": 128, "horizon": 8, "iterations": 4, **overrides}
    )
    return make_planner(config, action_low=LOW, action_high=HIGH, seed=0)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_planner_finds_the_minimum_of_a_quadratic(algorithm: str) -> None:
    """A constant target: replanning refines the plan; the last step is new each time (hold-filled)."""
    target = np.array([0.3, -0.5, 0.7])
    p = planner(algorithm)
    first = p.plan(identity_rollout, quadratic_to(target))
    for _ in range(30):
        plan = p.plan(identity_rollout, quadratic_to(target))
    hold_cost = quadratic_to(target)(np.zeros((1, 8, 3)), None)[0]
    assert first.cost < hold_cost
    assert plan.cost < first.cost / 4
    np.testing.assert_allclose(plan.actions[:6], np.tile(target, (6, 1)), atol=0.1)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_integrator_moves_toward_the_goal_at_the_bound(algorithm: str) -> None:
    """x' = x + a from x0 = 0 toward a goal 5 steps away: the optimum is full speed toward it."""
    goal = np.array([5.0, -5.0, 0.0])

    def integrator(actions: np.ndarray) -> Imagined:
        return Imagined(features=np.cumsum(actions, axis=1))

    p = planner(algorithm)
    for _ in range(5):
        plan = p.plan(integrator, quadratic_to(goal))
    # Sampling leaves the first action within a few tenths of the optimum [1, -1, 0] (seeds 0-19 checked).
    assert plan.first[0] > 0.75 and plan.first[1] < -0.75 and abs(plan.first[2]) < 0.6


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_candidates_stay_within_bounds_when_the_optimum_is_outside(algorithm: str) -> None:
    seen: list[np.ndarray] = []

    def recording(actions: np.ndarray) -> Imagined:
        seen.append(actions.copy())
        return Imagined(features=actions.copy())

    p = planner(algorithm, noise_std=3.0)
    for _ in range(5):
        plan = p.plan(recording, quadratic_to(np.array([4.0, -4.0, 0.0])))
    everything = np.concatenate(seen)
    assert everything.min() >= -1.0 and everything.max() <= 1.0
    assert plan.actions[:4, 0].min() > 0.75 and plan.actions[:4, 1].max() < -0.75


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_warm_start_shifts_the_previous_plan(algorithm: str) -> None:
    p = planner(algorithm, iterations=1)
    ramp = np.linspace(-0.8, 0.8, 8)[:, None] * np.ones(3)
    cost = quadratic_to(ramp)
    first = p.plan(identity_rollout, cost)
    captured: list[np.ndarray] = []

    def recording(actions: np.ndarray) -> Imagined:
        captured.append(actions.copy())
        return Imagined(features=actions.copy())

    p.plan(recording, cost)
    np.testing.assert_allclose(captured[0][1, :-1], first.actions[1:])
    np.testing.assert_allclose(captured[0][1, -1], np.zeros(3))
    np.testing.assert_allclose(captured[0][2], np.zeros((8, 3)))
    p.reset()
    p.plan(recording, cost)
    np.testing.assert_allclose(captured[1][0], np.zeros((8, 3)))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_same_seed_same_plans(algorithm: str) -> None:
    cost = quadratic_to(np.array([0.2, 0.1, -0.3]))
    a, b = planner(algorithm), planner(algorithm)
    for _ in range(3):
        np.testing.assert_array_equal(
            a.plan(identity_rollout, cost).actions, b.plan(identity_rollout, cost).actions
        )
    c = make_planner(
        PlannerConfig(algorithm=algorithm, samples=128, horizon=8, iterations=4),
        action_low=LOW,
        action_high=HIGH,
        seed=1,
    )
    assert not np.array_equal(c.plan(identity_rollout, cost).actions, a.plan(identity_rollout, cost).actions)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_nan_costs_never_win_and_an_all_nan_model_holds(algorithm: str) -> None:
    target = np.array([0.5, 0.5, 0.5])

    def half_nan(actions: np.ndarray) -> Imagined:
        features = actions.copy()
        features[actions[:, 0, 0] > 0.1] = np.nan
        return Imagined(features=features)

    plan = planner(algorithm).plan(half_nan, quadratic_to(target))
    assert np.isfinite(plan.cost) and plan.actions[0, 0] <= 0.1

    broken = planner(algorithm).plan(lambda a: Imagined(np.full_like(a, np.nan)), quadratic_to(target))
    assert broken.cost == np.inf
    np.testing.assert_array_equal(broken.actions, np.zeros((8, 3)))


def test_model_penalty_is_added_to_the_cost() -> None:
    def penalised(actions: np.ndarray) -> Imagined:
        return Imagined(features=actions.copy(), penalty=100.0 * (actions[:, :, 0] > 0).any(axis=1))

    plan = planner("mppi").plan(penalised, quadratic_to(np.array([0.5, 0.0, 0.0])))
    assert plan.actions[:, 0].max() <= 0.0


def test_deadline_stops_iterating_and_is_reported() -> None:
    import time

    def slow(actions: np.ndarray) -> Imagined:
        time.sleep(0.01)
        return Imagined(features=actions.copy())

    p = planner("cem", iterations=50)
    plan = p.plan(slow, quadratic_to(np.zeros(3)), deadline_s=0.035)
    assert 1 <= plan.iterations < 50
    assert not plan.deadline_missed
    assert p.plan(slow, quadratic_to(np.zeros(3)), deadline_s=0.001).deadline_missed


def test_coloured_noise_is_smoother_than_white() -> None:
    from wm_planner.planning import coloured_noise

    rng = np.random.default_rng(0)
    white = coloured_noise(rng, 0.0, (256, 16, 2))
    red = coloured_noise(rng, 2.0, (256, 16, 2))
    roughness = lambda x: np.abs(np.diff(x, axis=1)).mean()  # noqa: E731
    assert roughness(red) < 0.7 * roughness(white)
    np.testing.assert_allclose(red.std(axis=1), 1.0, atol=1e-6)


def test_config_rejects_more_elites_than_samples() -> None:
    with pytest.raises(ValueError, match="elites"):
        PlannerConfig(samples=16, elites=32)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_planning_on_the_mean_returns_the_scored_sampling_mean_and_still_converges(algorithm: str) -> None:
    target = np.array([0.3, -0.5, 0.7])
    cost = quadratic_to(target)
    scored: list[np.ndarray] = []

    def recording(actions: np.ndarray) -> Imagined:
        scored.append(actions[0].copy())  # candidate 0 of every round is the sampling mean
        return identity_rollout(actions)

    p = planner(algorithm, select="mean")
    for _ in range(30):
        scored.clear()
        plan = p.plan(recording, cost)
    np.testing.assert_array_equal(plan.actions, scored[-1])
    assert plan.cost == pytest.approx(cost(plan.actions[None], None)[0], rel=1e-6)
    assert plan.cost < 0.05 * cost(np.zeros((1, 8, 3)), None)[0]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_with_a_change_limit_every_candidate_ramps_from_the_last_action(algorithm: str) -> None:
    seen: list[np.ndarray] = []

    def recording(actions: np.ndarray) -> Imagined:
        seen.append(actions.copy())
        return Imagined(features=np.cumsum(actions, axis=1))

    max_change = np.array([0.1, 0.2, 0.05])
    config = PlannerConfig(algorithm=algorithm, samples=64, horizon=8, iterations=2, elites=8)
    p = make_planner(config, action_low=LOW, action_high=HIGH, max_change=max_change, seed=0)
    last = np.array([0.5, -0.5, 0.0])
    plan = p.plan(recording, quadratic_to(np.array([5.0, 5.0, 5.0])), previous=last)
    everything = np.concatenate(seen)
    steps = np.diff(np.concatenate([np.broadcast_to(last, (len(everything), 1, 3)), everything], 1), axis=1)
    assert np.all(np.abs(steps) <= max_change + 1e-6)
    assert everything.min() >= -1.0 and everything.max() <= 1.0
    assert np.all(np.abs(plan.actions[0] - last) <= max_change + 1e-6)


def test_limited_changes_keep_each_steps_direction() -> None:
    from wm_planner.planning import limit_changes

    actions = np.array([[[1.0, 0.5], [1.0, 0.5]]])
    limit_changes(actions, np.zeros(2), np.array([0.2, 1.0]))
    np.testing.assert_allclose(actions[0], [[0.2, 0.1], [0.4, 0.2]])
