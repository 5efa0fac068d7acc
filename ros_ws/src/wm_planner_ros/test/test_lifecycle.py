"""Every lifecycle path leaves the planner node alive or cleanly finalized, and parameters either take
effect at once or are refused with the reason."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from lifecycle_msgs.msg import Transition
from rig import JOINT_GOAL, ROBOT, running_rig, start_planner

from wm_planner_ros.client import PlannerClient

pytestmark = pytest.mark.slow

TO_STATE = {
    "unconfigured": (),
    "inactive": (Transition.TRANSITION_CONFIGURE,),
    "active": (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE),
}
SHUTDOWN = {
    "unconfigured": Transition.TRANSITION_UNCONFIGURED_SHUTDOWN,
    "inactive": Transition.TRANSITION_INACTIVE_SHUTDOWN,
    "active": Transition.TRANSITION_ACTIVE_SHUTDOWN,
}


@pytest.mark.parametrize("state", list(TO_STATE))
def test_shutdown_from_each_state_finalizes_the_node_cleanly(
    ros, bundle: Path, tmp_path: Path, state
) -> None:
    log_path = tmp_path / "planner.log"
    with open(log_path, "wb") as log:
        planner = start_planner({"model_path": str(bundle)}, tmp_path, log)
        client = PlannerClient()
        try:
            for transition in TO_STATE[state]:
                assert client.change_state(transition, timeout_s=60.0)
            assert client.lifecycle_state() == state
            assert client.change_state(SHUTDOWN[state])
            assert client.lifecycle_state() == "finalized"
            # Diagnostics keep coming (the crash this guards against came with the next one, 1 s on).
            client.record.diagnostics = None
            assert client.wait_for(lambda: (client.diagnostics() or {}).get("lifecycle") == "finalized", 3.0)
            time.sleep(1.5)
            assert planner.poll() is None, "the node died after shutdown"
            assert not client.pause(True), "a finalized node must refuse to pause"
        finally:
            client.close()
            planner.send_signal(signal.SIGINT)
            assert planner.wait(10) == 0
    assert "Traceback" not in log_path.read_text()


def test_live_parameters_take_effect_at_once_and_others_are_refused_while_active(
    ros, bundle: Path, tmp_path: Path
) -> None:
    with running_rig(bundle, "trajectory", tmp_path / "nodes.log") as rig:
        client = rig.client
        client.set_parameters(**{"safety.speed_scale": 0.25})
        sent = len(client.commands())
        client.send_joint_goal(JOINT_GOAL)
        assert client.wait_for(lambda: rig.joint_error(JOINT_GOAL) < 0.03, 20.0)
        firsts = np.array([c.positions[0] for c in client.commands()[sent:]])
        steps = np.abs(np.diff(firsts, axis=0))
        assert np.all(steps <= 0.25 * ROBOT.max_step() + 1e-9), "the lower speed limit was not applied"
        [(ok, reason)] = client.set_parameters_result(model_path="/elsewhere")
        assert not ok and "model_path" in reason and "clean up first" in reason
        [(ok, _)] = client.set_parameters_result(**{"safety.speed_scale": 7.0})
        assert not ok
