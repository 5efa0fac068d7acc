from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("gymnasium")

from sim.gymnasium_env import GymEnvSpec, collect_gym
from wm_planner.config import ModelConfig, TrainConfig

POINT_GOAL = GymEnvSpec(
    "WmTest/PointGoal-v0", kwargs={"task": "reach"}, imports=("tests.sim.gymnasium_env.point_goal",)
)


@pytest.fixture(scope="session")
def point_goal_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small model of ``WmTest/PointGoal-v0`` (60 episodes of 40 steps), exported at N=64, H=8."""
    from wm_planner.model import train
    from wm_planner.model.export import export_bundle

    root = tmp_path_factory.mktemp("point_goal")
    data = collect_gym(POINT_GOAL, 60, root / "data", seed=0, amplitude=0.9, progress=False)
    trained = train(
        [data],
        root / "run",
        model_config=ModelConfig(latent_size=16, hidden_size=32, encoder_hidden=64, decoder_hidden=32),
        train_config=TrainConfig(steps=400, horizon=8, seed=0),
        progress=False,
    )
    return export_bundle(trained.run, root / "bundle", samples=64, horizon=8).bundle
