"""The imagination gap on executed episodes whose answer is known: a world that does exactly what the
model imagines has none, and one that ends 1 cm elsewhere has exactly that error and cost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from wm_planner.data import EpisodeDataset
from wm_planner.imagination import GapMeter
from wm_planner.model_eval import open_loop
from wm_planner.planning import ReachCost
from wm_planner.runtime import OnnxWorldModel


def test_the_gap_is_zero_where_the_world_does_what_was_imagined_and_the_shift_where_it_does_not(
    tiny_bundle: Path, reach_dataset: Path
) -> None:
    model = OnnxWorldModel(tiny_bundle)
    layout = model.meta.observation_layout
    k = model.horizon
    _, episode = next(EpisodeDataset(reach_dataset).iter_episodes())
    actions = episode.actions[:k]
    imagined = open_loop(model, episode.observations[:1], actions, np.array([0]), k)[0]
    goal = np.array([0.4, 0.1, 0.3])
    cost = ReachCost(layout, goal)

    def gap(observations: np.ndarray):
        meter = GapMeter(model, stride=k)
        meter.add(observations, actions, cost)
        result = meter.result()
        assert result is not None and result.windows == 1 and result.k == k
        return result

    as_imagined = np.vstack([episode.observations[:1], imagined])
    exact = gap(as_imagined)
    assert exact.optimism == pytest.approx(0.0, abs=1e-6)
    assert max(exact.block_errors.values()) == pytest.approx(0.0, abs=1e-5)

    elsewhere = as_imagined.copy()
    ee = layout.slice("ee_pos")
    away = elsewhere[-1, ee] - goal
    elsewhere[-1, ee] += 0.01 * away / np.linalg.norm(away)  # 1 cm further from the goal
    shifted = gap(elsewhere)
    assert shifted.block_errors["ee_pos"] == pytest.approx(0.01, abs=1e-5)
    assert shifted.block_errors["joint_pos"] == pytest.approx(0.0, abs=1e-5)
    realised = cost(elsewhere[None, 1:].astype(np.float32), actions[None].astype(np.float32))[0]
    assert shifted.realised_cost == pytest.approx(realised, rel=1e-5)
    assert shifted.optimism == pytest.approx(realised - exact.realised_cost, rel=1e-4)
    assert shifted.optimism > 0  # the tip ended further from the goal than imagined


def test_episodes_shorter_than_the_window_add_nothing(tiny_bundle: Path) -> None:
    model = OnnxWorldModel(tiny_bundle)
    meter = GapMeter(model)
    size = model.meta.observation_layout.size
    meter.add(np.zeros((3, size)), np.zeros((2, model.meta.action_layout.size)), lambda f, a: f.sum((1, 2)))
    assert meter.result() is None
