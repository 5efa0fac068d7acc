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


def test_push_cost_is_the_cube_error_alone_with_the_tool_at_the_pushing_point() -> None:
    cost = PushCost(LAYOUT, np.array([0.5, 0.0]), push_height=0.015, room=0.005)
    # The cube 0.1 m short of the target along x; the pushing point lies 0.05 m behind it, at 0.015 m.
    short = features(cube_pos=[[0.4, 0.0, 0.02]] * 2, ee_pos=[[0.35, 0.0, 0.015]] * 2)
    # Cube error 0.1 per step, weighted 1 + 1 + 4 over two steps; the tool sits on its point.
    assert cost(short, NONE)[0] == pytest.approx(0.1 * 6.0, rel=1e-3)
    # Touching the face (half the cube and the 2 cm tip: 4.5 cm behind) is on the pushing point too, so
    # closing the room to push is not asked to rise.
    touching = features(cube_pos=[[0.4, 0.0, 0.02]] * 2, ee_pos=[[0.355, 0.0, 0.015]] * 2)
    assert cost(touching, NONE)[0] == pytest.approx(0.1 * 6.0, rel=1e-3)
    closer = features(cube_pos=[[0.4, 0.0, 0.02]] * 2, ee_pos=[[0.365, 0.0, 0.015]] * 2)
    assert cost(closer, NONE)[0] > 0.1 * 6.0 + 0.01


def test_push_cost_charges_a_tip_below_the_table_and_a_tip_too_fast() -> None:
    # The cube on target, under the tip: without the overlap term, which the test above checks.
    cost = PushCost(LAYOUT, np.array([0.5, 0.0]), control_period=0.02, speed_limit=0.3, overlap_weight=0.0)
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


def overlap_charge(layout: Layout, f: np.ndarray) -> float:
    """What the push cost charges ``f`` for the tip coming down onto the cube, per unit of weight."""
    goal = np.array([0.6, 0.0])
    return (
        float(PushCost(layout, goal)(f, NONE)[0] - PushCost(layout, goal, overlap_weight=0.0)(f, NONE)[0])
        / 10.0
    )


def test_push_cost_charges_a_tip_coming_down_onto_the_cube_and_not_one_pushing_its_side() -> None:
    cube = [[0.4, 0.0, 0.025]] * 2
    # The tip 3 cm from the centre, over the cube's edge, 5 mm below its top: charged for those 5 mm and
    # the 1 cm of clearance asked above the top, on each step (weights 1 + 1 + 4).
    on_edge = features(cube_pos=cube, ee_pos=[[0.43, 0.0, 0.045]] * 2)
    assert overlap_charge(LAYOUT, on_edge) == pytest.approx(0.015 * 6.0, rel=1e-3)
    # 5 mm above the top it is still asked for the other 5 mm; 1 cm above, nothing.
    assert overlap_charge(LAYOUT, features(cube_pos=cube, ee_pos=[[0.43, 0.0, 0.055]] * 2)) == pytest.approx(
        0.005 * 6.0, rel=1e-3
    )
    assert overlap_charge(LAYOUT, features(cube_pos=cube, ee_pos=[[0.43, 0.0, 0.061]] * 2)) == 0.0
    # Low at the face, reaching 2 mm into the footprint: a push, which the model knows, so no charge.
    pushing = features(cube_pos=cube, ee_pos=[[0.357, 0.0, 0.015]] * 2)
    assert overlap_charge(LAYOUT, pushing) == 0.0


def test_push_cost_sees_the_corner_of_a_turned_cube() -> None:
    layout = Layout.of(("ee_pos", 3, "m"), ("cube_pos", 3, "m"), ("cube_quat", 4, "wxyz"))
    turn = np.pi / 8  # 45 degrees about z
    tip = [0.45, 0.0, 0.045]  # 5 cm from the centre: clear of a square cube's face (2.5 cm + 2 cm tip)

    def at(quat: list[float]) -> np.ndarray:
        out = np.zeros((1, 2, layout.size), dtype=np.float32)
        out[0, :, layout.slice("ee_pos")] = tip
        out[0, :, layout.slice("cube_pos")] = [0.4, 0.0, 0.025]
        out[0, :, layout.slice("cube_quat")] = quat
        return out

    assert overlap_charge(layout, at([1.0, 0.0, 0.0, 0.0])) == 0.0
    # Turned by 45 degrees, its corner reaches 3.5 cm toward the tip: the tip is over it.
    assert overlap_charge(layout, at([np.cos(turn), 0.0, 0.0, np.sin(turn)])) == pytest.approx(
        0.015 * 6.0, rel=1e-3
    )


def test_the_pushing_point_of_a_turned_cube_is_behind_its_corner() -> None:
    layout = Layout.of(("ee_pos", 3, "m"), ("cube_pos", 3, "m"), ("cube_quat", 4, "wxyz"))
    cost = PushCost(layout, np.array([0.6, 0.0]))
    corner = 0.025 * np.sqrt(2.0) + 0.02  # a 45-degree cube's corner plus the tip: 5.5 cm

    def tool_at(behind: float) -> float:
        out = np.zeros((1, 2, layout.size), dtype=np.float32)
        out[0, :, layout.slice("ee_pos")] = [0.4 - behind, 0.0, 0.015]
        out[0, :, layout.slice("cube_pos")] = [0.4, 0.0, 0.025]
        out[0, :, layout.slice("cube_quat")] = [np.cos(np.pi / 8), 0.0, 0.0, np.sin(np.pi / 8)]
        return float(cost(out, NONE)[0])

    cube_only = 0.2 * 6.0
    assert tool_at(corner) == pytest.approx(cube_only, rel=1e-4)
    assert tool_at(corner + 0.005) == pytest.approx(cube_only, rel=1e-4)
    # Where a face-on cube is pushed from, this one's corner is in the way: asked to rise.
    assert tool_at(0.05) > cube_only + 0.01


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
