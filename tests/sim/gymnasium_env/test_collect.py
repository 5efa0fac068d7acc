"""Collection from the command line: an environment that needs a keyword and a module import."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.gymnasium_env import collect_gym
from tests.sim.gymnasium_env.conftest import POINT_GOAL
from wm_planner.cli import main
from wm_planner.data import EpisodeDataset


def _episodes(path: Path) -> list:
    ds = EpisodeDataset(path)
    return [ds.read(p) for p in ds.episode_paths()]


def test_gym_collect_imports_the_registering_module_and_passes_constructor_keywords(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["gym-collect", "--env", "WmTest/PointGoal-v0", "--import", "tests.sim.gymnasium_env.point_goal"]
    out = tmp_path / "data"
    assert main([*args, "--env-kwargs", '{"task": "reach"}', "--episodes", "3", "--out", str(out)]) == 0
    assert "collected 3 WmTest/PointGoal-v0 episodes in" in capsys.readouterr().out
    ds = EpisodeDataset(out)
    assert ds.manifest.observation_layout.names == ("achieved_goal", "desired_goal")
    assert ds.manifest.source["env_kwargs"] == {"task": "reach"}
    episodes = _episodes(out)
    assert [e.num_transitions for e in episodes] == [40, 40, 40]  # the environment's time limit
    moved = np.abs(np.diff(episodes[0].observations[:, :2], axis=0)).max()
    assert moved > 0.005 and np.array_equal(
        episodes[0].observations[:, 2:], np.tile(episodes[0].observations[0, 2:], (41, 1))
    )


def test_gym_collect_without_the_keyword_names_the_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["gym-collect", "--env", "WmTest/PointGoal-v0", "--import", "tests.sim.gymnasium_env.point_goal"]
    assert main([*args, "--episodes", "1", "--out", str(tmp_path / "d")]) == 2
    assert "--env-kwargs" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_the_same_seed_collects_the_same_data(tmp_path: Path) -> None:
    a = _episodes(collect_gym(POINT_GOAL, 2, tmp_path / "a", seed=4, progress=False))
    b = _episodes(collect_gym(POINT_GOAL, 2, tmp_path / "b", seed=4, progress=False))
    c = _episodes(collect_gym(POINT_GOAL, 2, tmp_path / "c", seed=5, progress=False))
    assert all(np.array_equal(x.observations, y.observations) for x, y in zip(a, b, strict=True))
    assert not np.allclose(a[0].observations, c[0].observations)
