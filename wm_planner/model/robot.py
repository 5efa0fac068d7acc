"""The registry of robot models: ``ModelConfig.robot_model`` names the :class:`RobotDynamics` a world
model is built with. A new kind of robot model implements the protocol and adds a builder here."""

from __future__ import annotations

from collections.abc import Callable

from wm_planner.config import ModelConfig
from wm_planner.data.layout import Layout
from wm_planner.model.dynamics import RobotDynamics, ToolChain
from wm_planner.model.joints import JointDynamics
from wm_planner.model.network import LatentDynamics

__all__ = ["ROBOT_DYNAMICS", "RobotBuilder", "build_robot_dynamics"]


RobotBuilder = Callable[[Layout, int, ModelConfig, ToolChain | None], RobotDynamics]
"""``builder(robot_layout, action_size, config, chain) -> RobotDynamics``."""


def _latent(layout: Layout, action_size: int, config: ModelConfig, chain: ToolChain | None) -> RobotDynamics:
    return LatentDynamics(layout.size, action_size, config)


def _joint(layout: Layout, action_size: int, config: ModelConfig, chain: ToolChain | None) -> RobotDynamics:
    tip = chain.tip if chain is not None else None
    return JointDynamics(
        layout, action_size, hidden=config.hidden_size, layers=config.layers, heads=config.ensemble, tip=tip
    )


ROBOT_DYNAMICS: dict[str, RobotBuilder] = {"latent": _latent, "joint": _joint}
"""``ModelConfig.robot_model`` -> builder: ``latent`` (learned latent dynamics of any observation) and
``joint`` (joint-space servo dynamics with exact kinematics, for joint-position-delta arms)."""


def build_robot_dynamics(
    name: str, layout: Layout, action_size: int, config: ModelConfig, chain: ToolChain | None
) -> RobotDynamics:
    """The registered robot model ``name`` on the robot's ``layout``."""
    try:
        builder = ROBOT_DYNAMICS[name]
    except KeyError:
        raise ValueError(f"robot_model {name!r}: expected one of {sorted(ROBOT_DYNAMICS)}") from None
    return builder(layout, action_size, config, chain)
