from pathlib import Path

import numpy as np
import pytest

from wm_planner.data import CorruptEpisodeError, Episode, read_episode, write_episode


def make_episode(steps: int = 5, seed: int = 0) -> Episode:
    rng = np.random.default_rng(seed)
    return Episode(
        observations=rng.standard_normal((steps + 1, 4)).astype(np.float32),
        actions=rng.standard_normal((steps, 2)).astype(np.float32),
        goal=np.array([0.1, 0.2, 0.3], dtype=np.float32),
        info={"task": "reach", "seed": seed, "success": True},
    )


def test_round_trip_is_exact(tmp_path: Path) -> None:
    episode = make_episode()
    path = write_episode(tmp_path / "e.npz", episode)
    back = read_episode(path, obs_size=4, action_size=2)
    np.testing.assert_array_equal(back.observations, episode.observations)
    np.testing.assert_array_equal(back.actions, episode.actions)
    np.testing.assert_array_equal(back.goal, episode.goal)
    assert back.info == episode.info
    assert not list(tmp_path.glob("*.partial"))


def test_truncated_file_is_named(tmp_path: Path) -> None:
    path = write_episode(tmp_path / "e.npz", make_episode())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptEpisodeError, match=r"e\.npz: corrupt episode file") as err:
        read_episode(path)
    assert err.value.path == path


def test_flipped_bytes_are_caught(tmp_path: Path) -> None:
    path = write_episode(tmp_path / "e.npz", make_episode(steps=50))
    data = bytearray(path.read_bytes())
    data[300:310] = bytes(b ^ 0xFF for b in data[300:310])
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptEpisodeError, match=r"e\.npz"):
        read_episode(path)


def test_wrong_sizes_and_nan_are_rejected(tmp_path: Path) -> None:
    path = write_episode(tmp_path / "e.npz", make_episode())
    with pytest.raises(CorruptEpisodeError, match="observation size 4 != manifest's 5"):
        read_episode(path, obs_size=5)
    bad = make_episode()
    bad.actions[2, 1] = np.nan
    with pytest.raises(CorruptEpisodeError, match="actions contains NaN"):
        read_episode(write_episode(tmp_path / "nan.npz", bad))


def test_mismatched_lengths_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="expected actions rows"):
        Episode(observations=np.zeros((5, 3)), actions=np.zeros((5, 2)), goal=np.zeros(3))
