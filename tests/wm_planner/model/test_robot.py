"""The registry of robot models: each registered model builds on the robot's blocks and does what the
world model asks of it; an unknown name is refused with the choices."""

from __future__ import annotations

import pytest
import torch

from wm_planner.config import ModelConfig, default_robot_spec
from wm_planner.data.layout import Layout
from wm_planner.model.robot import ROBOT_DYNAMICS, build_robot_dynamics
from wm_planner.model.world import _Chain

ROBOT = default_robot_spec()
LAYOUT = Layout.of(("joint_pos", 7, "rad"), ("joint_vel", 7, "rad/s"), ("ee_pos", 3, "m"))
CONFIG = ModelConfig(latent_size=16, hidden_size=32, layers=1, ensemble=2)


@pytest.mark.parametrize("name", sorted(ROBOT_DYNAMICS))
def test_every_registered_robot_model_rolls_out_features_and_the_tool(name: str) -> None:
    assert ROBOT.kinematics is not None
    chain = _Chain(ROBOT.kinematics)
    torch.manual_seed(0)
    robot = build_robot_dynamics(name, LAYOUT, 7, CONFIG, chain)
    obs0 = torch.zeros(1, LAYOUT.size)
    obs0[:, LAYOUT.slice("ee_pos")] = chain.tip(obs0[:, LAYOUT.slice("joint_pos")])
    actions = torch.zeros(5, 8, 7)
    features, disagreement = robot.imagine(obs0, actions)
    assert features.shape == (5, 8, LAYOUT.size) and disagreement.shape == (5, 8)
    same, spheres, _ = robot.imagine_tool(obs0, actions, chain, joints=LAYOUT.slice("joint_pos"), every=4)
    torch.testing.assert_close(same, features)
    # The start and the end of each of the two interaction steps, every sphere of the tool.
    assert spheres.shape == (5, 3, len(ROBOT.kinematics.tool_points), 3)
    torch.testing.assert_close(spheres[:, 0], chain(obs0[:, LAYOUT.slice("joint_pos")]).expand(5, -1, -1))


def test_an_unknown_robot_model_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match=r"robot_model 'servo': expected one of \['joint', 'latent'\]"):
        build_robot_dynamics("servo", LAYOUT, 7, CONFIG, None)
