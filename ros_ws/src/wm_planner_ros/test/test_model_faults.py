"""A model that returns NaN, and plans that miss their deadline: the planner holds or falls back, the
commands stay safe, and diagnostics count what happened."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")
pytest.importorskip("onnx")
import onnx
from onnx import numpy_helper
from rig import JOINT_GOAL, arm_displacement, assert_within_limits, running_rig

from wm_planner.runtime.bundle import file_sha256

pytestmark = pytest.mark.slow


def nan_bundle(bundle: Path, out: Path) -> Path:
    """A copy of ``bundle`` whose rollout graph has one weight matrix full of NaN (its metadata updated,
    so it loads like any other bundle: the model is wrong, not the file)."""
    shutil.copytree(bundle, out)
    graph = onnx.load(out / "rollout.onnx")
    weight = max(graph.graph.initializer, key=lambda t: int(np.prod(t.dims)))
    weight.CopyFrom(numpy_helper.from_array(np.full(tuple(weight.dims), np.nan, np.float32), weight.name))
    onnx.save(graph, out / "rollout.onnx")
    meta = json.loads((out / "metadata.json").read_text())
    meta["files"]["rollout.onnx"] = file_sha256(out / "rollout.onnx")
    (out / "metadata.json").write_text(json.dumps(meta))
    return out


def holding_because(client, problem: str) -> bool:
    """Whether the planner's latest status is a hold for ``problem``."""
    status = client.status() or {}
    return status.get("mode") == "hold" and problem in (status.get("problem") or "")


def diagnostic(client, key: str) -> int:
    return int((client.diagnostics() or {}).get(key, 0))


def test_a_model_returning_nan_holds_the_arm_and_is_reported(ros, bundle: Path, tmp_path: Path) -> None:
    broken = nan_bundle(bundle, tmp_path / "nan_bundle")
    with running_rig(broken, "trajectory", tmp_path / "nodes.log") as rig:
        client = rig.client
        client.send_joint_goal(JOINT_GOAL)
        assert client.wait_for(lambda: holding_because(client, "invalid plan"), 5.0)
        assert arm_displacement(client, 1.0) < 0.005
        assert client.wait_for(lambda: diagnostic(client, "invalid_plans") > 40, 3.0)
        # Diagnostics name the latest problem; on a loaded machine that may briefly be a late joint state.
        assert client.wait_for(lambda: "invalid plan" in (client.diagnostics() or {}).get("message", ""), 3.0)
        assert_within_limits(client.commands())


def test_plans_past_their_deadline_fall_back_and_are_counted(ros, bundle: Path, tmp_path: Path) -> None:
    # No plan can be ready within 0.1 ms, so every one misses its deadline.
    with running_rig(bundle, "trajectory", tmp_path / "nodes.log", **{"planner.deadline_ms": 0.1}) as rig:
        client = rig.client
        client.send_joint_goal(JOINT_GOAL)
        assert client.wait_for(lambda: "plan late" in ((client.status() or {}).get("problem") or ""), 5.0)
        assert client.wait_for(lambda: diagnostic(client, "deadline_misses") > 0, 3.0)
        misses = diagnostic(client, "deadline_misses")
        # Every period misses: 80 more within 1.6 s at 50 Hz (diagnostics come once a second).
        assert client.wait_for(lambda: diagnostic(client, "deadline_misses") >= misses + 80, 4.0)
        assert diagnostic(client, "fallbacks") >= diagnostic(client, "deadline_misses") - 5
        assert arm_displacement(client, 0.5) < 0.005  # no usable plan ever: the arm holds
        assert_within_limits(client.commands())
