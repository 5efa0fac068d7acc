"""The oracle backend imagines exactly what stepping the environment does."""

from __future__ import annotations

import numpy as np
import pytest

from sim.env import ArmEnv
from sim.oracle import MujocoOracle


@pytest.mark.parametrize("task", ["reach", "push"])
def test_oracle_matches_stepping_mujoco(task: str) -> None:
    env = ArmEnv(task)
    env.reset(seed=3)
    for _ in range(5):
        env.step(np.full(7, 0.01))
    state = env.get_state()
    rng = np.random.default_rng(0)
    actions = rng.uniform(-0.06, 0.06, (4, 10, 7))
    actions[0, :, 1] = 0.2  # beyond the velocity limit: the oracle must clip as the env does
    imagined = MujocoOracle(env, threads=2).bind(state)(actions).features
    for n in range(actions.shape[0]):
        replay = ArmEnv(task)
        replay.reset(seed=3)
        for _ in range(5):
            replay.step(np.full(7, 0.01))
        stepped = np.array([replay.step(a)[0] for a in actions[n]])
        np.testing.assert_allclose(imagined[n], stepped, atol=1e-9)


def test_oracle_leaves_the_environment_untouched() -> None:
    env = ArmEnv("push")
    env.reset(seed=1)
    before = env.observe()
    MujocoOracle(env).bind(env.get_state())(np.full((2, 5, 7), 0.03))
    np.testing.assert_array_equal(env.observe(), before)
