"""Inputs as robots publish them: a best-effort joint-state driver, goals in another frame, and an arm
that lags its commands (re-anchors that never step)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from rig import EE_GOAL, JOINT_GOAL, assert_within_limits, running_rig

pytestmark = pytest.mark.slow

TABLE = np.array([0.1, -0.05, 0.02])
"""Where the frame ``table`` sits in ``world`` (rotated 90 degrees about z)."""


def test_a_best_effort_joint_state_publisher_is_followed(ros, bundle: Path, tmp_path: Path) -> None:
    sim = {"joint_states_reliability": "best_effort"}
    with running_rig(bundle, "trajectory", tmp_path / "nodes.log", sim_params=sim) as rig:
        rig.client.send_joint_goal(JOINT_GOAL)
        assert rig.client.wait_for(lambda: rig.joint_error(JOINT_GOAL) < 0.03, 15.0)
    assert "best-effort" in (tmp_path / "nodes.log").read_text()


def test_goals_in_another_frame_are_transformed_and_unknown_frames_refused(
    ros, bundle: Path, tmp_path: Path
) -> None:
    # table's x is world's y, its y is world's -x: a rotation of 90 degrees about z.
    s = np.sqrt(0.5)
    transform = f"world table {TABLE[0]} {TABLE[1]} {TABLE[2]} 0 0 {s} {s}"
    with running_rig(bundle, "trajectory", tmp_path / "nodes.log", static_transforms=transform) as rig:
        client = rig.client
        offset = EE_GOAL - TABLE
        in_table = np.array([offset[1], -offset[0], offset[2]])
        client.send_ee_goal(in_table + 1.0, frame_id="camera")
        assert client.wait_for(
            lambda: (client.status() or {}).get("rejected", {}).get("~/goal.unknown_frame", 0) >= 1, 3.0
        )
        client.send_ee_goal(in_table, frame_id="table")
        assert client.wait_for(lambda: rig.ee_error(EE_GOAL) < 0.02, 15.0)


def test_an_arm_lagging_its_commands_is_re_anchored_within_the_limits(
    ros, bundle: Path, tmp_path: Path
) -> None:
    # A tracking tolerance below the servo's lag forces re-anchors while moving. The check of
    # acceleration reads one command per period, which a watchdog's brake between periods breaks by
    # design (it repeats the next period's first knot early); a loaded machine's late joint states must
    # not brake here, so the timeout is generous and checked unused.
    params = {"safety.max_tracking_error": 0.01, "safety.state_timeout_periods": 10.0}
    with running_rig(bundle, "trajectory", tmp_path / "nodes.log", **params) as rig:
        client = rig.client
        client.send_joint_goal(JOINT_GOAL)
        assert client.wait_for(lambda: int((client.diagnostics() or {}).get("reanchors", 0)) >= 1, 10.0)
        assert client.wait_for(lambda: rig.joint_error(JOINT_GOAL) < 0.03, 20.0)
        diagnostics = client.diagnostics()
        assert int(diagnostics["reanchor_blend_periods"]) >= 1
        assert int(diagnostics["stale_state_events"]) == 0
        assert_within_limits(client.commands(), acceleration=True)
