"""The planner node runs on a robot computer: numpy, pydantic, pyyaml, onnxruntime and rclpy only.

The planner node's process is started with ``torch`` and ``mujoco`` made unimportable; it configures,
activates and drives the (separately running) simulated arm to an end-effector goal.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

pytest.importorskip("rclpy")

from rig import EE_GOAL, Rig, assert_within_limits

from wm_planner_ros.client import PlannerClient
from wm_planner_ros.launcher import NodeProcesses, ros_environment, start_node

pytestmark = pytest.mark.slow

BLOCKER = """
import importlib.abc
import sys

class _NotOnTheRobot(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "mujoco"):
            raise ImportError(f"{name} is not installed on the robot computer (blocked by the test)")
        return None

sys.meta_path.insert(0, _NotOnTheRobot())
"""


def test_the_planner_node_needs_neither_torch_nor_mujoco(ros, bundle: Path, tmp_path: Path) -> None:
    blocked = tmp_path / "robot_site"
    blocked.mkdir()
    (blocked / "sitecustomize.py").write_text(BLOCKER)
    env = ros_environment(int(os.environ["ROS_DOMAIN_ID"]))
    robot_env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, [str(blocked), env.get("PYTHONPATH")]))}
    log_path = tmp_path / "nodes.log"
    with open(log_path, "wb") as log, tempfile.TemporaryDirectory() as params_dir:
        nodes = NodeProcesses(int(env["ROS_DOMAIN_ID"]))
        common = {"params_dir": Path(params_dir), "output": log}
        nodes.start("sim", lambda: start_node("sim_node", "sim_node", {"task": "reach"}, env=env, **common))
        planner = {"model_path": str(bundle), "autostart": True}
        nodes.start(
            "planner", lambda: start_node("planner_node", "planner_node", planner, env=robot_env, **common)
        )
        client = PlannerClient()
        try:
            assert client.wait_for(lambda: (client.status() or {}).get("lifecycle") == "active", 90.0), (
                log_path.read_text()[-3000:]
            )
            rig = Rig(nodes, client)
            client.send_ee_goal(EE_GOAL)
            assert client.wait_for(lambda: rig.ee_error(EE_GOAL) < 0.02, 15.0), rig.ee_error(EE_GOAL)
            assert_within_limits(client.commands())
        finally:
            client.close()
            nodes.stop()
    assert "blocked by the test" not in log_path.read_text()
