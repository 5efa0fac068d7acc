"""Environments as the user names them: imports, constructor keywords, Dict observations, both seeding
styles, and clear errors when one of them is missing."""

from __future__ import annotations

import numpy as np
import pytest

from sim.gymnasium_env import GymEnv, GymEnvSpec, parse_layout
from tests.sim.gymnasium_env.conftest import POINT_GOAL
from wm_planner.config import parse_mapping

SEEDED = GymEnvSpec("WmTest/SeededPointGoal-v0", imports=POINT_GOAL.imports, seed_kwarg="seed")


def _starts(spec: GymEnvSpec, seeds: list[int]) -> np.ndarray:
    with GymEnv(spec) as env:
        return np.stack([env.reset(seed)[0] for seed in seeds])


def test_a_dict_observation_is_flattened_into_named_blocks() -> None:
    with GymEnv(POINT_GOAL) as env:
        obs, info = env.reset(3)
        assert env.layout.names == ("achieved_goal", "desired_goal")
        assert obs.shape == (4,) and np.array_equal(obs[env.layout.slice("desired_goal")], info["goal"])
        assert env.dt == pytest.approx(0.05) and env.max_steps == 40


@pytest.mark.parametrize("spec", [POINT_GOAL, SEEDED], ids=["reset-seeded", "constructor-seeded"])
def test_the_same_seed_gives_the_same_episode_in_both_seeding_styles(spec: GymEnvSpec) -> None:
    first, again = _starts(spec, [1, 2, 1]), _starts(spec, [1, 2, 1])
    assert np.array_equal(first, again)
    assert np.array_equal(first[0], first[2])
    assert not np.allclose(first[0], first[1])


def test_a_constructor_seeded_environment_ignores_reset_seeds_without_its_keyword() -> None:
    # Why seed_kwarg exists: without it every episode of such an environment would be the same draw
    # sequence however the episodes are seeded.
    unseeded = GymEnvSpec("WmTest/SeededPointGoal-v0", kwargs={"seed": 5}, imports=POINT_GOAL.imports)
    assert np.array_equal(_starts(unseeded, [1, 2])[0], _starts(unseeded, [7, 8])[0])


def test_an_unregistered_id_asks_for_the_module_that_registers_it() -> None:
    with pytest.raises(ValueError, match=r"WmTest/Nowhere-v0: .*--import MODULE"):
        GymEnv(GymEnvSpec("WmTest/Nowhere-v0"))
    with pytest.raises(ValueError, match=r"--import no_such_module_here: No module named"):
        GymEnv(GymEnvSpec("WmTest/PointGoal-v0", imports=("no_such_module_here",)))


def test_a_missing_constructor_keyword_asks_for_env_kwargs() -> None:
    with pytest.raises(ValueError, match=r"missing 1 required positional argument: 'task'.*--env-kwargs"):
        GymEnv(GymEnvSpec("WmTest/PointGoal-v0", imports=POINT_GOAL.imports))


def test_mappings_and_layouts_from_the_command_line(tmp_path) -> None:
    assert parse_mapping('{"task": "reach", "n": 2}', option="--env-kwargs") == {"task": "reach", "n": 2}
    assert parse_mapping("task: reach", option="--env-kwargs") == {"task": "reach"}
    path = tmp_path / "kwargs.yaml"
    path.write_text("task: reach\nsuccess_radius: 0.2\n")
    assert parse_mapping(str(path), option="--env-kwargs") == {"task": "reach", "success_radius": 0.2}
    with pytest.raises(ValueError, match=r"--cost-kwargs: expected a mapping"):
        parse_mapping("[1, 2]", option="--cost-kwargs")
    assert parse_layout("hand:3,goal:3").names == ("hand", "goal")
    with pytest.raises(ValueError, match=r"--layout: expected 'name:size"):
        parse_layout("hand=3")
