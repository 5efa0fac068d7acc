"""``improve`` on a gymnasium environment: rounds recorded with their environment steps and imagination
gap, the budget respected, and an interrupted run resumed where it stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.gymnasium_env import GymEnvSpec, GymExperience, push_goal, reach_goal
from tests.sim.gymnasium_env.conftest import POINT_GOAL
from tests.sim.gymnasium_env.test_evaluate import GOAL_COST
from wm_planner.cli import main
from wm_planner.config import ObjectSpec, ToolSpec
from wm_planner.data import EpisodeDataset
from wm_planner.improve import ImproveSettings, Start, improve
from wm_planner.progress import QUIET_ENV

EPISODE = 40
"""Steps of a PointGoal episode (its time limit)."""


def test_rounds_from_scratch_keep_to_the_budget_and_resume_where_they_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(QUIET_ENV, "0")  # restored after the test: --quiet sets it for child processes
    experience = GymExperience(
        POINT_GOAL, reach_goal, GOAL_COST, success_key="reached", eval_episodes=4, progress=False
    )
    settings = ImproveSettings(
        rounds=3,
        episodes=10,
        budget=1500,
        initial_episodes=30,
        initial_train_steps=150,
        train_steps=30,
        samples=32,
        horizon=8,
    )
    out = tmp_path / "improve"
    rounds = improve(experience, Start(), out, settings, progress=False)
    # Round 0 explores 30 episodes (1,200 steps); round 1 adds 10 (2 explored, 8 planned) and passes the
    # budget of 1,500, so no third round starts.
    assert [r.index for r in rounds] == [0, 1]
    assert [r.env_steps for r in rounds] == [30 * EPISODE, 10 * EPISODE]
    assert rounds[1].total_env_steps == 40 * EPISODE
    assert [Path(d).name for d in rounds[1].added] == ["explore", "planner"]
    assert rounds[1].gap is not None and rounds[1].gap["k"] == 8 and rounds[1].gap["windows"] > 0
    assert set(rounds[1].seconds) == {"collect", "train", "export", "evaluate"}
    # Round 0's model on the 8 episodes its planner collected in round 1 (no objects declared here).
    seen = rounds[1].foresight
    assert rounds[0].foresight is None and seen is not None and seen["k"] == 8
    assert seen["object_error_moving"] is None and seen["blocks"]["achieved_goal"]["median"] > 0.0
    with pytest.raises(FileExistsError, match="--resume"):
        improve(experience, Start(), out, settings, progress=False)

    args = ["improve", "--env", POINT_GOAL.env_id, "--import", POINT_GOAL.imports[0]]
    args += ["--env-kwargs", "task: reach", "--cost", "reach_goal", "--cost-kwargs", json.dumps(GOAL_COST)]
    args += ["--success-key", "reached", "--eval-episodes", "4", "--episodes", "10", "--rounds", "2"]
    args += ["--train-steps", "30", "--samples", "32", "--horizon", "8", "--out", str(out), "--resume"]
    bundle = Path(rounds[1].bundle) / "rollout.onnx"
    before = bundle.stat().st_mtime_ns
    assert main(["--quiet", *args]) == 0
    record = json.loads((out / "improve.json").read_text())
    assert [r["index"] for r in record["rounds"]] == [0, 1, 2]
    assert record["rounds"][:2] == json.loads(json.dumps([r.__dict__ for r in rounds]))
    assert bundle.stat().st_mtime_ns == before  # finished rounds are not redone
    printed = capsys.readouterr().out
    assert "| round | success |" in printed and printed.strip().splitlines()[-1].startswith(
        "improved in 2 rounds"
    )
    assert (out / "improve.png").stat().st_size > 10_000 and (out / "rounds.md").exists()


PUSH = GymEnvSpec(
    "WmTest/Push-v0",
    imports=("tests.sim.gymnasium_env.pusher",),
    objects=(
        ObjectSpec(name="puck", position="puck_pos", orientation="puck_quat", half_extents=(0.03,) * 3),
    ),
    tool=ToolSpec(block="tool", radius=0.02),
)
PUSH_COST = {"object": "puck_pos", "tool": "tool", "goal": "goal", "radius": 0.02, "standoff": 0.05}


@pytest.mark.slow
def test_its_own_experience_raises_the_success_of_pushing_a_declared_object(tmp_path: Path) -> None:
    experience = GymExperience(PUSH, push_goal, PUSH_COST, eval_episodes=10, progress=False)
    settings = ImproveSettings(
        rounds=2,
        episodes=6,
        initial_episodes=3,
        initial_train_steps=200,
        train_steps=100,
        samples=64,
        horizon=12,
    )
    rounds = improve(experience, Start(), tmp_path / "improve", settings, progress=False)
    success = [r.success_rate for r in rounds]
    # Three random episodes (240 steps) teach the puck's model a little; 12 more, mostly the planner's
    # own, teach it where the planner pushes.
    assert success[-1] >= 0.8 and success[-1] >= success[0] + 0.2, success
    errors = [r.gap["object_errors"]["puck"] for r in rounds if r.gap is not None]
    assert errors[-1] < errors[0], errors
    manifest = EpisodeDataset(Path(rounds[1].added[1])).manifest
    assert manifest.objects == PUSH.objects and manifest.tool == PUSH.tool
