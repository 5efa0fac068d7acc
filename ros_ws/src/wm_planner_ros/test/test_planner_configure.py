"""Configure with a missing or mismatched model fails cleanly, and succeeds once the file is fixed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from lifecycle_msgs.msg import Transition
from rig import start_planner

from wm_planner_ros.client import PlannerClient

pytestmark = pytest.mark.slow


def test_configure_fails_cleanly_on_bad_models_and_recovers(ros, bundle: Path, tmp_path: Path) -> None:
    broken = tmp_path / "bundle"
    shutil.copytree(bundle, broken)
    metadata = broken / "metadata.json"
    good = metadata.read_text()
    meta = json.loads(good)
    meta["robot"]["velocity_limits"] = [v / 2 for v in meta["robot"]["velocity_limits"]]
    metadata.write_text(json.dumps(meta))
    log_path = tmp_path / "planner.log"
    with open(log_path, "wb") as log:
        planner = start_planner({"model_path": str(tmp_path / "missing")}, tmp_path, log)
        client = PlannerClient()
        try:
            assert not client.change_state(Transition.TRANSITION_CONFIGURE, timeout_s=60.0)
            assert client.lifecycle_state() == "unconfigured"
            client.set_parameters(model_path=str(broken))
            assert not client.change_state(Transition.TRANSITION_CONFIGURE)
            assert client.lifecycle_state() == "unconfigured"
            metadata.write_text(good)
            assert client.change_state(Transition.TRANSITION_CONFIGURE)
            assert client.lifecycle_state() == "inactive"
            assert planner.poll() is None
        finally:
            client.close()
            planner.terminate()
            planner.wait(10)
    text = log_path.read_text()
    assert "configure failed: model_path" in text and "no such bundle directory" in text
    assert "configure failed" in text and "velocity_limits: bundle" in text
