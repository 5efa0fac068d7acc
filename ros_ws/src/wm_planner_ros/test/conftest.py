"""Fixtures of the ROS 2 tests: DDS kept on localhost in a private domain, a trained bundle, and the
sim and planner nodes running as separate processes, talking over real DDS."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# Before anything starts DDS: discovery stays on this machine, in a domain of this test run's own.
os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
os.environ.setdefault("ROS_DOMAIN_ID", str(1 + os.getpid() % 100))


def run_cli(*args: str, timeout: float = 600) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "wm_planner.cli", *args], capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr[-3000:]


@pytest.fixture(scope="session")
def ros() -> Iterator[None]:
    rclpy = pytest.importorskip("rclpy")
    rclpy.init()
    yield
    rclpy.try_shutdown()


def train_bundle(root: Path, *, episodes: int, steps: int, robot: Path | None = None) -> Path:
    """A bundle of the default size (N=128, H=16) trained for ``steps`` on ``episodes`` reach episodes of
    the built-in arm, or of the robot folder ``robot``."""
    (root / "train.yaml").write_text(
        f"train: {{steps: {steps}, eval_every: {steps // 2}, checkpoint_every: {steps}}}\n"
    )
    on_robot = () if robot is None else ("--robot", str(robot))
    run_cli(
        "collect", "--task", "reach", "--episodes", str(episodes), "--out", str(root / "data"), "--seed", "1",
        *on_robot,
    )  # fmt: skip
    run_cli(
        "train",
        "--data",
        str(root / "data"),
        "--out",
        str(root / "run"),
        "--config",
        str(root / "train.yaml"),
    )
    run_cli("export", "--run", str(root / "run"), "--out", str(root / "bundle"))
    return root / "bundle"


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained briefly on reach data: about two minutes.

    ``WM_PLANNER_TEST_BUNDLE=DIR`` runs the tests on an existing bundle instead (your robot's model).
    """
    if os.environ.get("WM_PLANNER_TEST_BUNDLE"):
        return Path(os.environ["WM_PLANNER_TEST_BUNDLE"])
    return train_bundle(tmp_path_factory.mktemp("ros_model"), episodes=200, steps=800)


@pytest.fixture(scope="module", params=["trajectory", "forward"])
def rig(request: pytest.FixtureRequest, ros: None, bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    """Sim and planner nodes with each command interface in turn."""
    from rig import running_rig

    with running_rig(bundle, request.param, tmp_path_factory.mktemp("logs") / "nodes.log") as running:
        yield running


@pytest.fixture(scope="module")
def trajectory_rig(ros: None, bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    from rig import running_rig

    with running_rig(bundle, "trajectory", tmp_path_factory.mktemp("logs") / "nodes.log") as running:
        yield running
