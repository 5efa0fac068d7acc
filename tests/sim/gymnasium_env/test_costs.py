"""Ready goal costs on named features, and loading a factory by name."""

from __future__ import annotations

import numpy as np
import pytest

from sim.gymnasium_env import FeatureDistance, feature_slice, load_cost_factory, reach_goal, reach_point
from wm_planner.data.layout import Layout

LAYOUT = Layout.of(("achieved_goal", 2, ""), ("desired_goal", 2, ""), ("observation", 4, ""))


def test_reach_goal_reads_the_goal_of_the_episode_and_scores_distance_summed_over_the_horizon() -> None:
    obs = np.array([0.0, 0.0, 3.0, 4.0, 0, 0, 0, 0])
    cost = reach_goal(obs, {}, layout=LAYOUT, feature="achieved_goal", goal="desired_goal", radius=0.5)
    assert np.array_equal(cost.target, [3.0, 4.0]) and cost.error(obs) == pytest.approx(5.0)
    features = np.zeros((2, 3, 8))
    features[1, :, :2] = [3.0, 4.0]  # the second candidate sits on the goal
    assert cost(features, np.zeros((2, 3, 2))) == pytest.approx([15.0, 0.0])


def test_the_goal_may_come_from_the_reset_info_and_actions_may_cost() -> None:
    cost = reach_goal(
        np.zeros(8),
        {"goal": [1.0, 0.0]},
        layout=LAYOUT,
        feature="0:2",
        goal="info.goal",
        radius=0.1,
        action_weight=0.5,
    )
    features, actions = np.zeros((1, 2, 8)), np.ones((1, 2, 2))
    assert cost(features, actions) == pytest.approx([2.0 + 0.5 * 4])
    with pytest.raises(ValueError, match=r"reset info has no 'target'"):
        reach_goal(np.zeros(8), {}, layout=LAYOUT, feature="achieved_goal", goal="info.target", radius=0.1)


def test_reach_point_and_bad_names() -> None:
    cost = reach_point(np.zeros(8), {}, layout=LAYOUT, feature="achieved_goal", point=[0.0, 2.0], radius=0.1)
    assert isinstance(cost, FeatureDistance) and cost.error(np.zeros(8)) == pytest.approx(2.0)
    with pytest.raises(ValueError, match=r"no feature 'gripper': the observation has \['achieved_goal'"):
        feature_slice(LAYOUT, "gripper")
    with pytest.raises(ValueError, match=r"point has 3 entries, feature 'achieved_goal' 2"):
        reach_point(np.zeros(8), {}, layout=LAYOUT, feature="achieved_goal", point=[0, 0, 0], radius=0.1)


def test_factories_load_by_bare_name_or_module_path() -> None:
    assert load_cost_factory("reach_goal") is reach_goal
    assert load_cost_factory("sim.gymnasium_env.costs:reach_point") is reach_point
    with pytest.raises(ValueError, match=r"expected MODULE:FACTORY"):
        load_cost_factory("reach_everything")
    with pytest.raises(ValueError, match=r"sim.gymnasium_env.costs has no callable 'nope'"):
        load_cost_factory("sim.gymnasium_env.costs:nope")
