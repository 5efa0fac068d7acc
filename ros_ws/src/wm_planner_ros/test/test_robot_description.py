"""A robot imported from its URDF, over real DDS: ``ros-sim --robot`` runs its twin, the planner node is
given only the URDF text and the bundle, and reaches a goal; a description of another robot is refused at
configure, naming what differs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

pytest.importorskip("rclpy")

from conftest import run_cli, train_bundle
from lifecycle_msgs.msg import Transition
from rig import start_planner

from tests.robots import small_arm_urdf, write_small_arm
from wm_planner_ros.client import PlannerClient

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_arm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The small test arm's robot folder and a bundle trained on its reach episodes (a minute or two)."""
    root = tmp_path_factory.mktemp("small_arm")
    folder = root / "robot"
    run_cli("robot", "import", str(write_small_arm(root)), "--out", str(folder), "--tip-xyz", "0 0 0.08")
    return folder, train_bundle(root, episodes=100, steps=600, robot=folder)


def test_ros_sim_with_an_imported_robot_reaches_a_joint_goal(small_arm: tuple[Path, Path]) -> None:
    folder, bundle = small_arm
    home = np.array(yaml.safe_load((folder / "workspace.yaml").read_text())["home"])
    goal = home + np.array([0.3, 0.2, -0.3, 0.3])
    done = subprocess.run(
        [sys.executable, "-m", "wm_planner.cli", "ros-sim", "--model", str(bundle), "--robot", str(folder),
         "--joint-goal", *map(str, goal), "--duration", "30"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "reached" in done.stdout


def test_ros_sim_with_the_bundle_of_another_robot_says_why_the_planner_did_not_start(
    small_arm: tuple[Path, Path], bundle: Path
) -> None:
    folder, _ = small_arm
    done = subprocess.run(
        [sys.executable, "-m", "wm_planner.cli", "ros-sim", "--model", str(bundle), "--robot", str(folder),
         "--goal", "0.4", "0.0", "0.3", "--duration", "30"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    assert "wm-planner ros-sim: the planner node did not start: configure failed:" in done.stderr
    assert "does not describe the robot of bundle" in done.stderr and "Traceback" not in done.stderr


def _configure_fails(params: dict[str, object], tmp_path: Path) -> str:
    """The planner node's log after a configure that must fail."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / "planner.log"
    with open(log_path, "wb") as log:
        planner = start_planner(params, tmp_path, log)
        client = PlannerClient()
        try:
            assert not client.change_state(Transition.TRANSITION_CONFIGURE, timeout_s=60.0)
            assert client.lifecycle_state() == "unconfigured"
        finally:
            client.close()
            planner.terminate()
            planner.wait(10)
    return log_path.read_text()


def test_a_description_of_another_robot_is_refused_naming_the_differences(
    ros, small_arm: tuple[Path, Path], bundle: Path, tmp_path: Path
) -> None:
    _, small_bundle = small_arm
    longer = small_arm_urdf().replace(
        '<origin xyz="0.3 0 0" rpy="0 0 -0.3"/>', '<origin xyz="0.35 0 0" rpy="0 0 -0.3"/>'
    )
    text = _configure_fails({"model_path": str(small_bundle), "robot_description": longer}, tmp_path / "a")
    assert "configure failed" in text and "joint 'elbow' sits elsewhere in the chain" in text
    # The shipped arm's bundle, given the small arm's description.
    text = _configure_fails(
        {"model_path": str(bundle), "robot_description": small_arm_urdf()}, tmp_path / "b"
    )
    assert "robot_description does not describe the robot of bundle" in text and "joint1" in text
