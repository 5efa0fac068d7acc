from __future__ import annotations

import numpy as np
import pytest

from sim import ArmEnv
from wm_planner.config import default_robot_spec
from wm_planner.observation import ObservationBuilder


def test_observation_from_measurements_equals_the_simulators() -> None:
    env = ArmEnv("push")
    obs = env.reset(seed=4)
    for _ in range(5):
        obs, *_ = env.step(np.full(7, 0.01))
    q, qd = obs[:7], obs[7:14]
    built = ObservationBuilder().build(q, qd, obs[17:])
    assert np.allclose(built, obs, atol=1e-9)


def test_a_robot_without_kinematics_is_refused_by_name() -> None:
    robot = default_robot_spec().model_copy(update={"kinematics": None})
    with pytest.raises(ValueError, match="kinematics"):
        ObservationBuilder(robot)
