"""An imported arm (the small 4-joint test arm) runs where the shipped one does: the environment, its
tasks in the arm's own workspace, exploration, collection from the CLI, the oracle through the robot's
control loop; the shipped arm stays one robot folder among others."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from sim import ArmEnv, RobotFolder
from sim.collect import collect
from sim.evaluate import evaluate
from sim.scene import HOME_QPOS, SCENE_PATH
from tests.conftest import run_cli
from wm_planner.observation import ObservationBuilder


def test_the_shipped_arm_is_a_robot_folder_with_its_tuned_workspace() -> None:
    folder = RobotFolder.shipped()
    assert folder.scene == SCENE_PATH and folder.path is None
    np.testing.assert_allclose(folder.home, HOME_QPOS)
    env = ArmEnv("reach")
    assert env.task.low == (0.30, -0.30, 0.12) and env.observation_layout.size == 24
    assert RobotFolder.of(None, control_period=0.04).spec.control_period == 0.04


def test_an_imported_arm_steps_in_its_own_workspace(small_arm: Path) -> None:
    folder = RobotFolder.load(small_arm)
    env = ArmEnv("push", folder=folder)
    obs = env.reset(seed=3)
    assert obs.shape == (4 + 4 + 3 + 7,)
    assert env.observation_layout.describe().startswith("joint_pos[4] joint_vel[4] ee_pos[3]")
    low, high = np.array(folder.workspace.cube_low), np.array(folder.workspace.cube_high)
    assert np.all(obs[-7:-5] >= low) and np.all(obs[-7:-5] <= high)
    for _ in range(20):
        obs, *_ = env.step(np.full(4, 0.02))
    # The simulator's tool tip is the chain's: the observation a robot builds from its joints is the same.
    built = ObservationBuilder(folder.spec).build(obs[:4], obs[4:8], obs[-7:])
    np.testing.assert_allclose(built, obs, atol=1e-9)


def test_collection_from_the_cli_takes_the_robot(small_arm: Path, tmp_path: Path) -> None:
    out = tmp_path / "reach"
    done = run_cli(
        "collect", "--task", "reach", "--episodes", "3", "--steps", "30", "--workers", "1",
        "--robot", str(small_arm), "--out", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["robot"]["joint_names"] == ["shoulder_pan", "shoulder_lift", "elbow", "wrist"]
    assert manifest["source"]["robot_folder"] == str(small_arm)
    episode = np.load(out / "episodes" / "episode_000000.npz")
    assert episode["observations"].shape == (31, 18) and episode["actions"].shape == (30, 4)


def test_scripted_reaching_moves_the_imported_tool_toward_its_goal(small_arm: Path, tmp_path: Path) -> None:
    summary = collect(
        "reach", 6, tmp_path / "data", folder=RobotFolder.load(small_arm), episode_steps=120, progress=False
    )
    assert summary.episodes == 6 and summary.successes >= 1


def test_the_oracle_reaches_goals_with_the_imported_arm_through_the_control_loop(small_arm: Path) -> None:
    report = evaluate(
        "reach",
        bundle=None,
        oracle=True,
        episodes=3,
        steps=100,
        folder=RobotFolder.load(small_arm),
        progress=False,
    )
    assert report.success_rate >= 2 / 3, [e.final_error_m for e in report.episodes]


def test_the_loop_pushes_with_the_imported_arms_own_tool_tip(small_arm: Path) -> None:
    from sim.oracle import oracle_source
    from wm_planner.control import Goal, GoalKind, build_supervisor

    env = ArmEnv("push", folder=RobotFolder.load(small_arm))
    supervisor = build_supervisor(oracle_source(env, samples=16, horizon=4), env.robot)
    supervisor.set_goal(Goal(GoalKind.OBJECT, np.array([0.3, 0.0, 0.0])))
    cost = supervisor.controller.judge.cost.terms[0]
    # Its tip (8 cm out on the tool link) is nearest the imported tool's 1.5 cm sphere, not the shipped
    # pusher's 2 cm one.
    assert supervisor.push.tip_radius == pytest.approx(0.015) and cost.tip_radius == pytest.approx(0.015)


def test_the_loop_accepts_goals_in_the_robots_own_workspace(small_arm: Path) -> None:
    from wm_planner.config import SupervisorConfig

    assert RobotFolder.shipped().workspace.supervisor_config() == SupervisorConfig()
    workspace = RobotFolder.load(small_arm).workspace
    low, high = workspace.goal_box()
    assert low[0] < workspace.reach_low[0] and low[0] < workspace.push_low[0]
    assert high[1] > workspace.reach_high[1] and high[2] > workspace.reach_high[2]
