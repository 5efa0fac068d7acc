"""Known answers of the task costs and of MPPI's weights: hand-computed values on tiny feature arrays."""

from __future__ import annotations

import numpy as np
import pytest

from wm_planner.data import Layout
from wm_planner.planning import CostSum, JointCost, PostureCost, PushCost, ReachCost
from wm_planner.planning.mppi import mppi_weights

LAYOUT = Layout.of(
    ("joint_pos", 2, "rad"), ("joint_vel", 2, "rad/s"), ("ee_pos", 3, "m"), ("cube_pos", 3, "m")
)
NONE = np.zeros((1, 1, 0), dtype=np.float32)


def features(**blocks: list[list[float]]) -> np.ndarray:
    """``[1, H, F]`` features with the named blocks set per step and zeros elsewhere."""
    horizon = len(next(iter(blocks.values())))
    out = np.zeros((1, horizon, LAYOUT.size), dtype=np.float32)
    for name, rows in blocks.items():
        out[0, :, LAYOUT.slice(name)] = rows
    return out


def test_reach_cost_is_the_distance_per_step_with_the_last_weighted_and_speed_added() -> None:
    cost = ReachCost(LAYOUT, np.array([1.0, 0.0, 0.0]), terminal_weight=4.0, speed_weight=0.5)
    f = features(ee_pos=[[0.0, 0.0, 0.0], [1.0, 0.0, 3.0]], joint_vel=[[1.0, 2.0], [0.0, 0.0]])
    # Step 1: distance 1 plus 0.5 * (1 + 4); step 2: distance 3, weighted 1 + 4.
    assert cost(f, NONE)[0] == pytest.approx(1.0 + 2.5 + 5.0 * 3.0, rel=1e-5)


def test_joint_cost_reads_joint_positions_and_refuses_a_goal_of_the_wrong_size() -> None:
    cost = JointCost(LAYOUT, np.array([0.3, -0.4]), terminal_weight=0.0, speed_weight=0.0)
    assert cost(features(joint_pos=[[0.0, 0.0]]), NONE)[0] == pytest.approx(0.5, rel=1e-5)
    with pytest.raises(ValueError, match="joint_pos goal has 3 values, the model has 2"):
        JointCost(LAYOUT, np.zeros(3))


def test_push_cost_is_zero_with_the_cube_on_target_and_the_tool_at_the_pushing_point() -> None:
    cost = PushCost(LAYOUT, np.array([0.5, 0.0]), push_height=0.015, standoff=0.05)
    # On target, there is no direction to push in: the pushing point is the cube's own position.
    on_target = features(cube_pos=[[0.5, 0.0, 0.02]] * 2, ee_pos=[[0.5, 0.0, 0.015]] * 2)
    assert cost(on_target, NONE)[0] == pytest.approx(0.0, abs=1e-4)
    # The cube 0.1 m short of the target along x; the pushing point lies 0.05 m behind it, at 0.015 m.
    short = features(cube_pos=[[0.4, 0.0, 0.02]] * 2, ee_pos=[[0.35, 0.0, 0.015]] * 2)
    # Cube error 0.1 per step, weighted 1 + 1 + 4 over two steps; the tool sits on its point.
    assert cost(short, NONE)[0] == pytest.approx(0.1 * 6.0, rel=1e-3)


def test_push_cost_charges_a_tip_below_the_table_and_a_tip_too_fast() -> None:
    cost = PushCost(LAYOUT, np.array([0.5, 0.0]), control_period=0.02, speed_limit=0.3)
    at_rest = features(cube_pos=[[0.5, 0.0, 0.02]] * 2, ee_pos=[[0.5, 0.0, 0.015]] * 2)
    below = features(cube_pos=[[0.5, 0.0, 0.02]] * 2, ee_pos=[[0.5, 0.0, -0.01]] * 2)
    # 0.025 m off the pushing height in tool error (weight 0.5), 0.01 m below the table (weight 10).
    extra = (0.5 * 0.025 + 10.0 * 0.01) * (1 + 1 + 4)
    assert cost(below, NONE)[0] - cost(at_rest, NONE)[0] == pytest.approx(extra, rel=1e-3)
    # 0.02 m in one 0.02 s step is 1 m/s: 0.7 m/s over the limit on the last step (weight 1 + 4), and the
    # tool 0.02 m from its pushing point there: a whole ramp away, so asked to hover 0.08 m higher.
    fast = features(cube_pos=[[0.5, 0.0, 0.02]] * 2, ee_pos=[[0.5, 0.0, 0.015], [0.5, 0.02, 0.015]])
    tool = 0.5 * np.hypot(0.02, 0.08)
    assert cost(fast, NONE)[0] == pytest.approx(5.0 * (0.7 + tool), rel=1e-3)


def test_posture_cost_is_zero_mid_range_and_one_per_joint_at_the_limit() -> None:
    cost = PostureCost(LAYOUT, lower=np.array([-1.0, -2.0]), upper=np.array([1.0, 2.0]), free=0.8)
    assert cost(features(joint_pos=[[0.7, -1.5]]), NONE)[0] == 0.0
    assert cost(features(joint_pos=[[1.0, -2.0]]), NONE)[0] == pytest.approx(2.0)
    # Half-way from 'free' (0.8) to the limit is a quarter.
    assert cost(features(joint_pos=[[0.9, 0.0]]), NONE)[0] == pytest.approx(0.25, rel=1e-5)


def test_cost_sum_adds_its_terms() -> None:
    reach = ReachCost(LAYOUT, np.array([1.0, 0.0, 0.0]))
    posture = PostureCost(LAYOUT, lower=np.array([-1.0, -1.0]), upper=np.array([1.0, 1.0]))
    f = features(ee_pos=[[0.0, 0.0, 0.0]], joint_pos=[[1.0, 0.0]])
    assert CostSum((reach, posture))(f, NONE)[0] == pytest.approx(reach(f, NONE)[0] + posture(f, NONE)[0])


def test_mppi_weights_are_a_softmax_of_the_costs_scaled_to_unit_range() -> None:
    weights = mppi_weights(np.array([10.0, 20.0, 30.0]), temperature=0.5)
    expected = np.exp(-np.array([0.0, 0.5, 1.0]) / 0.5)
    np.testing.assert_allclose(weights, expected / expected.sum())
    # The units of the cost do not matter, only its spread relative to the round's best and worst.
    np.testing.assert_allclose(mppi_weights(np.array([1.0, 2.0, 3.0]), temperature=0.5), weights)


def test_mppi_weights_give_failed_candidates_nothing_and_share_equally_when_all_failed() -> None:
    weights = mppi_weights(np.array([1.0, np.inf, 3.0]), temperature=1.0)
    assert weights[1] == 0.0 and weights.sum() == pytest.approx(1.0) and weights[0] > weights[2]
    np.testing.assert_allclose(mppi_weights(np.full(4, np.inf), temperature=1.0), np.full(4, 0.25))
    np.testing.assert_allclose(mppi_weights(np.full(3, 7.0), temperature=0.1), np.full(3, 1 / 3))
