"""Training windows: a focus dataset gets its share of every draw, whatever its size."""

from pathlib import Path

import numpy as np
import pytest

from wm_planner.data import Episode
from wm_planner.model import train
from wm_planner.model.windows import EpisodeArrays


def episodes(count: int, value: float, steps: int = 20) -> list[Episode]:
    """``count`` episodes whose observations all equal ``value``, so a window tells where it came from."""
    obs = np.full((steps + 1, 2), value, dtype=np.float32)
    return [Episode(obs, np.zeros((steps, 1), np.float32), np.zeros(0, np.float32)) for _ in range(count)]


def test_the_focus_gets_its_share_of_draws_and_uniform_draws_are_unchanged() -> None:
    # Nine large "starting" episodes and one small focus episode: a tenth of the windows, half the draws.
    data = episodes(9, 0.0) + episodes(1, 1.0)
    flags = [False] * 9 + [True]
    focused = EpisodeArrays.build(data, 5, focus=flags, focus_share=0.5)
    obs, _ = focused.sample(np.random.default_rng(0), 20_000)
    assert abs(obs[:, 0, 0].mean() - 0.5) < 0.02
    classes = np.arange(focused.starts.size) % 3
    obs, _ = focused.sample_balanced(np.random.default_rng(0), 20_000, classes)
    assert abs(obs[:, 0, 0].mean() - 0.5) < 0.02

    uniform = EpisodeArrays.build(data, 5)
    assert uniform.weights is None
    obs, _ = uniform.sample(np.random.default_rng(0), 20_000)
    assert abs(obs[:, 0, 0].mean() - 0.1) < 0.01
    # Without a focus, or with no share, the draws are uniform and exactly as before focus existed.
    same = EpisodeArrays.build(data, 5, focus=flags, focus_share=0.0)
    assert same.weights is None
    a, _ = same.sample(np.random.default_rng(3), 64)
    starts = uniform.starts[np.random.default_rng(3).integers(0, uniform.starts.size, size=64)]
    np.testing.assert_array_equal(a, uniform.gather(starts)[0])


def test_a_focus_outside_the_data_is_refused(tmp_path: Path, reach_dataset: Path) -> None:
    with pytest.raises(ValueError, match=r"focus datasets .*elsewhere.* are not among the training data"):
        train([reach_dataset], tmp_path / "run", focus=[tmp_path / "elsewhere"], progress=False)
