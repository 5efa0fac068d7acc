from pathlib import Path

import numpy as np
import pytest

from sim.collect import collect
from sim.env import ArmEnv, EnvOptions
from sim.randomization import RandomizationConfig, Randomizer, load_randomization
from sim.scene import load_scene
from wm_planner.config import ConfigError
from wm_planner.data import EpisodeDataset

JOINTS = tuple(f"joint{i}" for i in range(1, 8))

CONFIG = """
randomization:
  - {parameter: joint.damping, operation: scale, distribution: loguniform, range: [0.5, 2.0]}
  - {parameter: actuator.kp, targets: [joint1, joint2], operation: scale, range: [0.8, 1.2]}
  - {parameter: body.mass, targets: [cube], operation: add, distribution: gaussian, range: [0.05, 0.01]}
  - {parameter: geom.friction, targets: [cube_geom], operation: set, distribution: uniform, range: [0.3, 0.9]}
"""


@pytest.fixture()
def config(tmp_path: Path) -> RandomizationConfig:
    path = tmp_path / "dr.yaml"
    path.write_text(CONFIG)
    return load_randomization(path)


def test_every_draw_starts_from_the_scene_and_stays_in_its_distribution(config: RandomizationConfig):
    model = load_scene()
    damping, kp = model.dof_damping[:7].copy(), model.actuator_gainprm[:7, 0].copy()
    mass = model.body_mass[model.body("cube").id]
    randomizer = Randomizer(model, config, JOINTS)
    rng = np.random.default_rng(0)
    draws = [randomizer.apply(rng) for _ in range(400)]
    ratios = np.array([d["joint.damping"] for d in draws]) / damping
    assert ratios.min() >= 0.5 and ratios.max() <= 2.0
    assert np.median(ratios) == pytest.approx(1.0, abs=0.1)  # log-uniform: median at the geometric mean
    kps = np.array([d["actuator.kp"] for d in draws]) / kp[:2]
    assert kps.min() >= 0.8 and kps.max() <= 1.2
    masses = np.array([d["body.mass"][0] for d in draws]) - mass
    assert masses.mean() == pytest.approx(0.05, abs=0.002) and masses.std() == pytest.approx(0.01, rel=0.15)
    # The model holds the last draw, with the servo's bias moved with its gain, and nothing accumulated.
    np.testing.assert_allclose(model.actuator_gainprm[:2, 0], draws[-1]["actuator.kp"])
    np.testing.assert_allclose(model.actuator_biasprm[:2, 1], -draws[-1]["actuator.kp"])
    np.testing.assert_array_equal(model.actuator_gainprm[2:7, 0], kp[2:])
    assert 0.3 <= model.geom_friction[model.geom("cube_geom").id, 0] <= 0.9


def test_the_env_draws_at_reset_from_its_seed(config: RandomizationConfig):
    env = ArmEnv("push", options=EnvOptions(randomization=config))
    env.reset(seed=4)
    first = {k: v.copy() for k, v in env.randomized.items()}
    env.reset(seed=5)
    assert not np.allclose(first["joint.damping"], env.randomized["joint.damping"])
    env.reset(seed=4)
    for key, values in first.items():
        np.testing.assert_array_equal(env.randomized[key], values)
    np.testing.assert_allclose(env.model.dof_damping[env.handles.arm_dof], first["joint.damping"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("randomization:\n  - {parameter: joint.stiffness, range: [0, 1]}", "parameter"),
        ("randomization:\n  - {parameter: body.mass, range: [0, 1]}", "name its targets"),
        (
            "randomization:\n  - {parameter: joint.damping, distribution: loguniform, range: [0, 1]}",
            "positive",
        ),
        ("randomization:\n  - {parameter: joint.damping, range: [2, 1]}", "above high"),
    ],
)
def test_bad_configs_name_the_file_and_the_problem(tmp_path: Path, text: str, message: str):
    path = tmp_path / "dr.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as error:
        load_randomization(path)
    assert str(path) in str(error.value)


def test_an_unknown_target_is_named():
    config = RandomizationConfig.model_validate(
        {"randomization": [{"parameter": "body.mass", "targets": ["gripper"], "range": [1, 2]}]}
    )
    with pytest.raises(ValueError, match="no body named 'gripper'"):
        Randomizer(load_scene(), config, JOINTS)


def test_collect_randomizes_each_episode_and_records_the_config(config: RandomizationConfig, tmp_path: Path):
    plain = collect("push", 2, tmp_path / "plain", seed=1, episode_steps=15, progress=False)
    randomized = collect(
        "push", 2, tmp_path / "dr", seed=1, episode_steps=15, randomization=config, progress=False
    )
    assert plain.episodes == randomized.episodes == 2
    manifest = EpisodeDataset(tmp_path / "dr").manifest
    assert manifest.source["randomization"] == config.model_dump(mode="json")
    assert EpisodeDataset(tmp_path / "plain").manifest.source["randomization"] is None
