"""The sim killed mid-motion and restarted: the planner holds and reports, then follows the new arm."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from rig import JOINT_GOAL, ROBOT, Rig, assert_within_limits, running_rig

pytestmark = pytest.mark.slow


@pytest.fixture()
def fresh_rig(ros: None, bundle: Path, tmp_path: Path):
    with running_rig(bundle, "trajectory", tmp_path / "nodes.log") as running:
        yield running


def test_sim_killed_mid_motion_holds_and_a_restarted_sim_is_followed(fresh_rig: Rig) -> None:
    rig, client = fresh_rig, fresh_rig.client
    client.send_joint_goal(JOINT_GOAL)
    assert client.wait_for(lambda: rig.mode() == "plan", 5.0)
    time.sleep(0.3)
    rig.nodes.processes["sim"].kill()
    rig.nodes.processes["sim"].wait()
    assert client.wait_for(lambda: (client.status() or {}).get("problem") == "joint states stale", 1.0)
    assert client.wait_for(lambda: "stale" in (client.diagnostics() or {}).get("message", ""), 3.0)
    held = len(client.commands())
    rig.nodes.restart("sim")  # a fresh sim: the arm is back at its start pose, its clock at zero
    assert client.wait_for(lambda: rig.mode() == "plan", 15.0)
    assert client.wait_for(lambda: rig.joint_error(JOINT_GOAL) < 0.03, 10.0)
    commands = client.commands()
    firsts = np.array([c.positions[0] for c in commands])
    jumps = np.flatnonzero(np.any(np.abs(np.diff(firsts, axis=0)) > ROBOT.max_step() + 1e-9, axis=1))
    # Commands restart at the new arm, and only then: every jump is a re-anchor, counted and reported
    # (a restarted driver's first seconds can be irregular enough to need more than one; and none is
    # needed when the arm had barely left its start pose before the sim was killed).
    assert np.all(jumps >= held - 1), "commands jumped before the sim came back"
    assert client.wait_for(
        lambda: int((client.diagnostics() or {}).get("reanchors", 0)) >= len(jumps), 3.0
    ), "a command jumped without a re-anchor"
    for a, b in zip([0, *list(jumps + 1)], [*list(jumps + 1), len(commands)], strict=True):
        assert_within_limits(commands[a:b])
