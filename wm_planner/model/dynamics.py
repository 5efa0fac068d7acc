"""The robot's part of the world model, declared: what :class:`~wm_planner.model.world.WorldModel` asks
of it (:class:`RobotDynamics`) and of the tool's kinematics it places objects with (:class:`ToolChain`).

A robot part works on the robot's own blocks of the observation (``[..., R]``: proprioception and the
tool tip), never on objects, which the world model advances itself from the tool's spheres. A new kind
of robot model implements the protocol and registers a builder in
:data:`wm_planner.model.robot.ROBOT_DYNAMICS`.
"""

from __future__ import annotations

from typing import Protocol

from torch import Tensor

__all__ = ["RobotDynamics", "ToolChain"]


class ToolChain(Protocol):
    """Forward kinematics of the tool: ``chain(q [..., J]) -> spheres [..., M, 3]`` and
    ``chain.points(q) -> [..., 1 + M, 3]``, the tip first."""

    def __call__(self, q: Tensor) -> Tensor: ...

    def points(self, q: Tensor) -> Tensor: ...

    def tip(self, q: Tensor) -> Tensor: ...


class RobotDynamics(Protocol):
    """How the robot moves under actions ``[..., A]``: a state ``[..., S]`` anchored at an observation,
    stepped, decoded to features in the robot's layout, rolled out, and trained by its own loss."""

    action_mean: Tensor
    action_std: Tensor

    @property
    def state_size(self) -> int: ...

    def set_normalization(
        self, obs_mean: Tensor, obs_std: Tensor, action_mean: Tensor, action_std: Tensor
    ) -> None:
        """Data statistics of the robot's blocks ``[R]`` and of the actions ``[A]``."""

    def anchor(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """State ``[B, S]`` of ``obs [B, R]`` and the offset ``[B, R]`` added to every feature imagined
        from it."""

    def step(self, state: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """Next state ``[B, S]`` and the ensemble's disagreement ``[B]``."""

    def decode(self, state: Tensor) -> Tensor:
        """Features ``[..., R]`` of states ``[..., S]``, before anchoring."""

    def imagine(self, obs0: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """Open-loop rollout: features ``[N, H, R]`` (anchored) and disagreement ``[N, H]`` for
        ``obs0 [N or 1, R]`` and ``actions [N, H, A]``."""

    def imagine_tool(
        self, obs0: Tensor, actions: Tensor, chain: ToolChain, *, joints: slice, every: int
    ) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`imagine`, and the tool's spheres ``[N, H // every + 1, M, 3]`` at the start and at the
        end of every ``every`` steps, placed by ``chain`` at the imagined joint positions (the block
        ``joints`` of the features): ``(features, spheres, disagreement)``."""

    def multi_step_loss(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """``(feature_loss, latent_loss)`` over windows ``obs [B, H+1, R]``, ``actions [B, H, A]``."""
