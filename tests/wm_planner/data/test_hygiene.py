"""Episodes are cut where an object tips over or falls; counted by collection and ``data verify``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from sim.tasks import CUBE, OBSERVATION_LAYOUT
from tests.conftest import run_cli
from wm_planner.data import Episode
from wm_planner.data.hygiene import cut_unsound, upright_steps

QUAT = OBSERVATION_LAYOUT.slice("cube_quat")
POS = OBSERVATION_LAYOUT.slice("cube_pos")


def _still_cube(steps: int) -> np.ndarray:
    obs = np.zeros((steps + 1, OBSERVATION_LAYOUT.size))
    obs[:, POS] = [0.5, 0.0, 0.025]
    obs[:, QUAT] = [1.0, 0.0, 0.0, 0.0]
    return obs


def test_an_upright_cube_turning_about_the_vertical_is_sound() -> None:
    obs = _still_cube(10)
    yaw = np.linspace(0.0, 3.0, 11)
    obs[:, QUAT] = np.stack([np.cos(yaw / 2), 0 * yaw, 0 * yaw, np.sin(yaw / 2)], -1)
    assert upright_steps(obs, OBSERVATION_LAYOUT, (CUBE,)) == 11


def test_the_episode_is_cut_before_the_cube_tips_or_falls() -> None:
    tipped = _still_cube(10)
    tilt = np.radians(30.0)
    tipped[6:, QUAT] = [np.cos(tilt / 2), np.sin(tilt / 2), 0.0, 0.0]
    assert upright_steps(tipped, OBSERVATION_LAYOUT, (CUBE,)) == 6
    fallen = _still_cube(10)
    fallen[4:, POS.start + 2] = -0.5
    episode = Episode(fallen, np.zeros((10, 7)), np.zeros(3))
    cut, was_cut = cut_unsound(episode, OBSERVATION_LAYOUT, (CUBE,))
    assert was_cut and cut.num_transitions == 3 and cut.info["cut_at_step"] == 3
    assert upright_steps(fallen, OBSERVATION_LAYOUT, ()) == 11  # without objects nothing is judged


def test_verify_counts_episodes_whose_cube_tipped(push_dataset: Path, tmp_path: Path) -> None:
    from wm_planner.data import DatasetWriter, EpisodeDataset

    source = EpisodeDataset(push_dataset)
    writer = DatasetWriter(tmp_path / "mixed", source.manifest)
    tipped = _still_cube(10)
    tipped[6:, QUAT] = [0.9, 0.44, 0.0, 0.0]
    writer.write(
        0, Episode(tipped.astype(np.float32), np.zeros((10, 7), np.float32), np.zeros(3, np.float32))
    )
    writer.write(
        1, Episode(_still_cube(10).astype(np.float32), np.zeros((10, 7), np.float32), np.zeros(3, np.float32))
    )
    done = run_cli("data", "verify", str(tmp_path / "mixed"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["objects_unsound"] == 1


def test_collected_episodes_are_cut_where_the_cube_tipped(push_dataset: Path) -> None:
    from wm_planner.data import EpisodeDataset

    for _, episode in EpisodeDataset(push_dataset).iter_episodes():
        sound = upright_steps(episode.observations, OBSERVATION_LAYOUT, (CUBE,))
        assert sound == len(episode.observations)
        if "cut_at_step" in episode.info:
            assert episode.num_transitions == episode.info["cut_at_step"]
