"""``gym-eval``: the environment's own success counted, a goal per episode reaching the cost, the same
episodes for the same seed, and the report a user reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sim.gymnasium_env import GymEnvSpec, evaluate_gym, reach_goal
from tests.sim.gymnasium_env.conftest import POINT_GOAL
from wm_planner.cli import main

GOAL_COST = {"feature": "achieved_goal", "goal": "desired_goal", "radius": 0.1}


def _eval(bundle: Path, **options: Any):
    options = {"cost_kwargs": GOAL_COST, "episodes": 4, "seed": 1, "progress": False} | options
    return evaluate_gym(
        options.pop("spec", POINT_GOAL), bundle, options.pop("factory", reach_goal), **options
    )


def test_a_goal_drawn_per_episode_reaches_the_cost_and_the_planner_drives_to_it(
    point_goal_bundle: Path,
) -> None:
    calls: list[tuple[np.ndarray, dict]] = []

    def recording(obs: np.ndarray, info: dict, **kwargs: Any):
        calls.append((obs, info))
        return reach_goal(obs, info, **kwargs)

    report = _eval(point_goal_bundle, factory=recording, stop_at_success=False)
    goals = [info["goal"] for _, info in calls]
    assert len(calls) == 4 and len({tuple(g) for g in goals}) == 4
    for (obs, info), episode in zip(calls, report.episodes, strict=True):
        assert np.array_equal(obs[2:], info["goal"])
        # From where it started to the goal of its own episode (40 steps are enough to get anywhere).
        assert episode.errors[0] == pytest.approx(np.linalg.norm(obs[:2] - info["goal"]))
        assert episode.errors[0] > 0.3 and episode.final_error < 0.1


def test_success_is_the_environments_info_key_when_it_has_one(point_goal_bundle: Path) -> None:
    # The environment reports success within 10 m (always) where the cost's radius is 0.1: info wins.
    lenient = GymEnvSpec(
        POINT_GOAL.env_id, kwargs={"task": "reach", "success_radius": 10.0}, imports=POINT_GOAL.imports
    )
    report = _eval(point_goal_bundle, spec=lenient, success_key="reached")
    assert report.success_source == "info['reached']"
    assert report.success_rate == 1.0 and [e.steps for e in report.episodes] == [1, 1, 1, 1]
    by_cost = _eval(point_goal_bundle, spec=lenient, success_key="none_such")
    assert by_cost.success_source == "cost error <= 0.1"
    assert all(e.steps > 1 for e in by_cost.episodes)
    assert all((e.final_error <= 0.1) == e.success for e in by_cost.episodes)


def test_an_environment_that_terminates_ends_the_episode(point_goal_bundle: Path) -> None:
    ending = GymEnvSpec(
        POINT_GOAL.env_id,
        kwargs={"task": "reach", "terminate": True, "success_radius": 0.2},
        imports=POINT_GOAL.imports,
    )
    report = _eval(point_goal_bundle, spec=ending, success_key="reached", stop_at_success=False)
    assert all(e.terminated and e.success and e.steps < 40 for e in report.episodes)
    assert all(e["terminated"] for e in report.to_json()["per_episode"])


def test_no_success_key_and_no_radius_is_refused(point_goal_bundle: Path) -> None:
    def bare(obs: np.ndarray, info: dict, **_: Any):
        return lambda features, actions: np.zeros(features.shape[0])

    with pytest.raises(ValueError, match=r"info has no 'done' and the cost has no success_radius"):
        _eval(point_goal_bundle, factory=bare, success_key="done")


@pytest.mark.parametrize(
    "spec",
    [POINT_GOAL, GymEnvSpec("WmTest/SeededPointGoal-v0", imports=POINT_GOAL.imports, seed_kwarg="seed")],
    ids=["reset-seeded", "constructor-seeded"],
)
def test_the_same_seed_evaluates_the_same_episodes(point_goal_bundle: Path, spec: GymEnvSpec) -> None:
    runs = [_eval(point_goal_bundle, spec=spec, seed=seed, steps=5, episodes=2) for seed in (3, 3, 4)]
    errors = [[e.errors for e in r.episodes] for r in runs]
    assert errors[0] == errors[1]
    assert errors[0][0][0] != errors[2][0][0]


def test_gym_eval_writes_the_report_plot_and_video_a_user_reads(
    point_goal_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "eval" / "point.json"
    args = ["gym-eval", "--env", POINT_GOAL.env_id, "--import", POINT_GOAL.imports[0]]
    args += ["--env-kwargs", "task: reach", "--model", str(point_goal_bundle), "--cost", "reach_goal"]
    args += ["--cost-kwargs", json.dumps(GOAL_COST), "--success-key", "reached", "--episodes", "3"]
    assert main([*args, "--json", str(out), "--no-video"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("WmTest/PointGoal-v0 (onnx, mppi): success ") and line.endswith("point_error.png")
    report = json.loads(out.read_text())
    assert report["episodes"] == 3 and report["success_source"] == "info['reached']"
    assert [
        set(e) >= {"seed", "success", "steps", "total_reward", "terminated", "final_error"}
        for e in report["per_episode"]
    ] == [True] * 3
    assert report["loop"]["periods"] == sum(e["steps"] for e in report["per_episode"])
    assert (tmp_path / "eval" / "point_error.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("cost_kwargs", "named"),
    [
        ({**GOAL_COST, "radius_m": 0.1}, "radius_m"),  # a misspelt key
        ({"feature": "achieved_goal", "goal": "desired_goal"}, "radius"),  # a required key left out
    ],
)
def test_a_wrong_or_missing_cost_keyword_is_named_before_any_episode(
    point_goal_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], cost_kwargs: dict, named: str
) -> None:
    args = ["gym-eval", "--env", POINT_GOAL.env_id, "--import", POINT_GOAL.imports[0]]
    args += ["--env-kwargs", "task: reach", "--model", str(point_goal_bundle), "--cost", "reach_goal"]
    args += ["--cost-kwargs", json.dumps(cost_kwargs), "--json", str(tmp_path / "r.json"), "--no-video"]
    assert main(args) == 2
    error = capsys.readouterr().err
    assert error.startswith("wm-planner gym-eval: --cost-kwargs") and named in error
    assert "reach_goal takes feature, goal, radius, action_weight=0.0" in error
    assert "Traceback" not in error and not (tmp_path / "r.json").exists()


def test_an_environment_that_ignores_its_seed_is_warned_about_and_lists_no_seeds(
    point_goal_bundle: Path,
) -> None:
    ignoring = GymEnvSpec("WmTest/SeededPointGoal-v0", kwargs={"seed": 5}, imports=POINT_GOAL.imports)
    with pytest.warns(UserWarning, match="ignores reset\\(seed=\\).*--seed-kwarg"):
        report = _eval(point_goal_bundle, spec=ignoring, steps=3, episodes=2)
    assert not report.to_json()["seeded"]
    assert [e["seed"] for e in report.to_json()["per_episode"]] == [None, None]
    honoured = _eval(point_goal_bundle, steps=3, episodes=2)
    assert honoured.to_json()["seeded"] and all(e.seed is not None for e in honoured.episodes)
