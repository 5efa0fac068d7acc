"""The world model: the robot's latent dynamics plus explicit objects advanced by interaction modules.

The robot's part (a :class:`~wm_planner.model.dynamics.RobotDynamics` from the registry in
:mod:`wm_planner.model.robot`) sees only the robot's blocks of the observation (proprioception and
the tool tip), so arm motion cannot leak into an imagined object. Each object of the configuration keeps
its pose as state and is advanced by an :class:`ObjectInteraction` from the tool's spheres, placed by
forward kinematics of the imagined joint positions (or, in a world without kinematics, at the imagined
position of a declared tool point). A model without objects is the plain latent model.

Objects move every ``object_step`` control periods, by the tool's travel over those periods, and hold in
between: the sequential part of a rollout, the interaction steps, is ``object_step`` times shorter.

State for :meth:`WorldModel.step` (the ``z`` of the dynamics graph): ``[robot latent L, tool input
anchor J, object poses 7 each, periods into the interaction step 1, tool spheres at its start 3M]``. The
anchor (the encoder's offset on the block the tool is placed from: the joint positions of an arm, the
declared tool point elsewhere) travels with the state so that one step places the tool exactly as
:meth:`WorldModel.imagine` does; the period count and the tool's start make one-period
steps move objects exactly when and as the rollout does.
"""

from __future__ import annotations

import dataclasses
from typing import cast

import torch
from torch import Tensor, nn

from wm_planner.config import Kinematics, ModelConfig, ObjectSpec, ToolSpec
from wm_planner.data.layout import Layout
from wm_planner.kinematics import ChainConstants, chain_tool_points
from wm_planner.model.dynamics import RobotDynamics
from wm_planner.model.interaction import ObjectInteraction, ObjectState, turn_quaternion
from wm_planner.model.joints import ROBOT_BLOCKS
from wm_planner.model.robot import build_robot_dynamics

__all__ = ["JOINT_DELTA", "JOINT_FIELD", "WorldModel", "resolve_config"]

JOINT_FIELD = "joint_pos"
JOINT_DELTA = "joint_position_delta"
"""The action kind of arms commanded by joint position changes, for which joint-space dynamics apply."""


def resolve_config(
    config: ModelConfig,
    *,
    layout: Layout,
    action_kind: str,
    dataset_objects: tuple[ObjectSpec, ...],
    kinematics: Kinematics | None,
    dataset_tool: ToolSpec | None = None,
) -> ModelConfig:
    """``config`` with what it leaves open settled from the data: the objects and the tool (the
    dataset's when None) and the robot model (``joint`` for joint-position-delta arms with kinematics,
    else ``latent``)."""
    objects = tuple(dataset_objects) if config.objects is None else config.objects
    tool = config.tool or dataset_tool
    robot_model = config.robot_model
    if robot_model == "auto":
        object_blocks = {name for spec in objects for name in (spec.position, spec.orientation)}
        robot_blocks = {name for name in layout.names if name not in object_blocks}
        fits = {"joint_pos", "joint_vel"} <= robot_blocks <= set(ROBOT_BLOCKS)
        robot_model = "joint" if fits and action_kind == JOINT_DELTA and kinematics is not None else "latent"
    return config.model_copy(update={"objects": objects, "robot_model": robot_model, "tool": tool})


class _Chain(nn.Module):
    """Forward kinematics of the tool in torch (the constants come from the robot's description and are
    baked into the exported graph): :meth:`points` ``q [..., J] -> [..., 1 + M, 3]``, the tip first."""

    radii: Tensor

    def __init__(self, kinematics: Kinematics) -> None:
        super().__init__()
        self.constants = ChainConstants.of(kinematics)
        tip_only = self.constants.points[:1]
        self.tip_constants = dataclasses.replace(self.constants, points=tip_only)
        self.sphere_constants = dataclasses.replace(self.constants, points=self.constants.points[1:])
        self.register_buffer("radii", torch.tensor([p.radius for p in kinematics.tool_points]))

    def forward(self, q: Tensor) -> Tensor:
        """The spheres' centres ``[..., M, 3]``."""
        return chain_tool_points(q, self.sphere_constants, torch)

    def points(self, q: Tensor) -> Tensor:
        """The tip, then the spheres' centres, ``[..., 1 + M, 3]``."""
        return chain_tool_points(q, self.constants, torch)

    def tip(self, q: Tensor) -> Tensor:
        """The tool tip ``[..., 3]``."""
        return chain_tool_points(q, self.tip_constants, torch)[..., 0, :]


class _PointTool(nn.Module):
    """A tool observed as a point (:class:`~wm_planner.config.ToolSpec`): its position block ``x [..., 3]``
    is the tip and the centre of its one sphere; the :class:`~wm_planner.model.dynamics.ToolChain` of a
    world without kinematics."""

    radii: Tensor

    def __init__(self, tool: ToolSpec) -> None:
        super().__init__()
        self.register_buffer("radii", torch.tensor([tool.radius]))

    def forward(self, x: Tensor) -> Tensor:
        """The sphere's centre ``[..., 1, 3]``."""
        return x.unsqueeze(-2)

    def points(self, x: Tensor) -> Tensor:
        """The tip, then the sphere's centre, ``[..., 2, 3]``."""
        return torch.stack([x, x], -2)

    def tip(self, x: Tensor) -> Tensor:
        return x


def _tool(kinematics: Kinematics | None, tool: ToolSpec | None) -> tuple[_Chain | _PointTool | None, str]:
    """What places the tool (the arm's kinematics, else the declared point) and the block it reads."""
    if kinematics is not None:
        return _Chain(kinematics), JOINT_FIELD
    if tool is not None:
        return _PointTool(tool), tool.block
    return None, JOINT_FIELD


class WorldModel(nn.Module):
    """``encode(obs [B, O]) -> (state [B, S], offset [B, O])``, ``step(state, action [B, A]) -> (state',
    disagreement [B])``, ``decode(state) -> features [B, O]``, ``imagine(obs0, actions [N, H, A])``.

    ``config`` must be resolved (see :func:`resolve_config`); objects need ``kinematics`` or a declared
    tool point (``config.tool``). :attr:`tool_input` is the robot block the tool is placed from: the
    joint positions, or the tool point's own block.
    """

    robot_index: Tensor
    object_index: Tensor
    obs_mean: Tensor
    obs_std: Tensor

    def __init__(
        self, layout: Layout, action_size: int, config: ModelConfig, kinematics: Kinematics | None
    ) -> None:
        super().__init__()
        objects = tuple(config.objects or ())
        if config.objects is None or config.robot_model == "auto":
            raise ValueError("the ModelConfig must be resolved (resolve_config) before building a WorldModel")
        self.config = config
        self.layout = layout
        self.obs_size, self.action_size = layout.size, action_size
        object_blocks = {name for spec in objects for name in (spec.position, spec.orientation)}
        missing = sorted(object_blocks - set(layout.names))
        if missing:
            raise ValueError(
                f"object blocks {missing} are not in the observation layout ({layout.describe()})"
            )
        robot_index = [
            i for f in layout.fields if f.name not in object_blocks for i in _range(layout, f.name)
        ]
        object_index = [
            i for spec in objects for name in (spec.position, spec.orientation) for i in _range(layout, name)
        ]
        for spec in objects:
            for name, size in ((spec.position, 3), (spec.orientation, 4)):
                if layout.slice(name).stop - layout.slice(name).start != size:
                    raise ValueError(f"object {spec.name!r}: block {name!r} must have {size} values")
        self.register_buffer("robot_index", torch.tensor(robot_index, dtype=torch.long))
        self.register_buffer("object_index", torch.tensor(object_index, dtype=torch.long))
        # Features are assembled as [robot blocks, object poses] and put back in layout order, as the
        # concatenation of contiguous runs (a Gather over the feature axis is slow in ONNX Runtime).
        order = robot_index + object_index
        self.layout_runs = _runs([order.index(i) for i in range(layout.size)])
        self.register_buffer("obs_mean", torch.zeros(layout.size))
        self.register_buffer("obs_std", torch.ones(layout.size))
        self.chain, tool_block = _tool(kinematics, config.tool)
        robot_layout = Layout(fields=tuple(f for f in layout.fields if f.name not in object_blocks))
        self.robot: RobotDynamics = build_robot_dynamics(
            config.robot_model, robot_layout, action_size, config, self.chain
        )
        self.objects = nn.ModuleList()
        if objects:
            if self.chain is None:
                raise ValueError(
                    "a world model with objects needs the robot's kinematics (RobotSpec.kinematics) or a "
                    "declared tool point (ToolSpec)"
                )
            if tool_block not in robot_layout.names:
                raise ValueError(
                    f"a world model with objects needs a {tool_block!r} block to place the tool; the "
                    f"robot's blocks are {robot_layout.describe()}"
                )
            for spec in objects:
                self.objects.append(
                    ObjectInteraction(
                        spec,
                        self.chain.radii,
                        hidden=config.interaction_hidden,
                        layers=config.interaction_layers,
                        heads=config.interaction_ensemble,
                        margin=config.contact_margin,
                    )
                )
            self.tool_input = robot_layout.slice(tool_block)

    @property
    def interactions(self) -> list[ObjectInteraction]:
        """The objects' interaction modules, typed (a ModuleList yields plain Modules)."""
        return cast(list[ObjectInteraction], list(self.objects))

    @property
    def state_size(self) -> int:
        """Size S of the state :meth:`step` advances."""
        if not self.objects:
            return self.robot.state_size
        inputs = self.tool_input.stop - self.tool_input.start
        spheres = self.chain.radii.shape[0] if self.chain is not None else 0
        return self.robot.state_size + inputs + ObjectState.SIZE * len(self.objects) + 1 + 3 * spheres

    def set_normalization(
        self, obs_mean: Tensor, obs_std: Tensor, action_mean: Tensor, action_std: Tensor
    ) -> None:
        """Data statistics ``[O]`` and ``[A]``; the robot's latent normalises its own blocks."""
        self.obs_mean.copy_(obs_mean)
        self.obs_std.copy_(obs_std.clamp_min(1e-3))
        idx = self.robot_index
        self.robot.set_normalization(obs_mean[idx], obs_std[idx], action_mean, action_std)

    def robot_obs(self, obs: Tensor) -> Tensor:
        return obs.index_select(-1, self.robot_index)

    def object_states(self, obs: Tensor) -> list[Tensor]:
        """Each object's pose ``[..., 7]`` from observations ``[..., O]``."""
        poses = obs.index_select(-1, self.object_index)
        return list(poses.split(ObjectState.POSE_SIZE, dim=-1)) if self.objects else []

    def assemble(self, robot: Tensor, poses: list[Tensor]) -> Tensor:
        """Features ``[..., O]`` in layout order from robot features and object poses."""
        if not poses:
            return robot
        joined = torch.cat([robot, *poses], -1)
        if len(self.layout_runs) == 1:
            return joined
        return torch.cat([joined[..., start:stop] for start, stop in self.layout_runs], -1)

    def tool_spheres(self, q: Tensor) -> Tensor:
        """Centres ``[..., M, 3]`` of the tool's spheres at ``q [..., J]``, the :attr:`tool_input` block."""
        assert self.chain is not None
        return self.chain(q)

    def anchor(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """State ``[B, S]`` of ``obs [B, O]`` and the offset ``[B, O]`` that anchors its decoded features
        (zero on object blocks, which are carried exactly)."""
        robot_obs = self.robot_obs(obs)
        z, robot_offset = self.robot.anchor(robot_obs)
        poses = self.object_states(obs)
        if not poses:
            return z, robot_offset
        tool = self.tool_spheres(robot_obs[:, self.tool_input]).flatten(1)
        periods = torch.zeros_like(z[:, :1])
        # The object's last change is not observed: each rollout starts it at rest, as training does.
        objects = [ObjectState.at_rest(pose).pack() for pose in poses]
        state = torch.cat([z, robot_offset[:, self.tool_input], *objects, periods, tool], -1)
        return state, self.assemble(robot_offset, [torch.zeros_like(p) for p in poses])

    def encode(self, obs: Tensor) -> Tensor:
        return self.anchor(obs)[0]

    def _split(self, state: Tensor) -> tuple[Tensor, Tensor, list[Tensor], Tensor, Tensor]:
        """Latent, joint anchor, object poses, periods into the interaction step, tool at its start."""
        latent = self.robot.state_size
        joints = self.tool_input.stop - self.tool_input.start
        poses_end = latent + joints + ObjectState.SIZE * len(self.objects)
        z, q_offset = state[:, :latent], state[:, latent : latent + joints]
        poses = list(state[:, latent + joints : poses_end].split(ObjectState.SIZE, dim=-1))
        periods, tool = state[:, poses_end : poses_end + 1], state[:, poses_end + 1 :]
        return z, q_offset, poses, periods, tool.view(state.shape[0], -1, 3)

    def step(self, state: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """Next state ``[B, S]`` after one control period, and disagreement ``[B]`` (robot heads plus
        object heads, the latter on the periods that complete an interaction step)."""
        if not self.objects:
            return self.robot.step(state, action)
        z, q_offset, poses, periods, tool_start = self._split(state)
        z_next, disagreement = self.robot.step(z, action)
        tool_next = self.tool_spheres(self.robot.decode(z_next)[:, self.tool_input] + q_offset)
        periods = periods + 1.0
        completes = periods >= self.config.object_step - 0.5  # [B, 1]
        moved = []
        for module, pose in zip(self.interactions, poses, strict=True):
            stepped, spread = module.step_state(pose, tool_start, tool_next)
            moved.append(torch.where(completes, stepped, pose))
            disagreement = disagreement + torch.where(completes[:, 0], spread, torch.zeros_like(spread))
        periods = torch.where(completes, torch.zeros_like(periods), periods)
        tool_start = torch.where(completes.unsqueeze(-1), tool_next, tool_start)
        return torch.cat([z_next, q_offset, *moved, periods, tool_start.flatten(1)], -1), disagreement

    def decode(self, state: Tensor) -> Tensor:
        """Features ``[B, O]`` of a state, before anchoring (robot blocks) and exact (object blocks)."""
        if not self.objects:
            return self.robot.decode(state)
        z, _, objects, _, _ = self._split(state)
        return self.assemble(self.robot.decode(z), [ObjectState.unpack(o).pose for o in objects])

    def imagine(self, obs0: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """Open-loop rollout: features ``[N, H, O]`` and disagreement ``[N, H]`` for ``obs0: [N, O]`` (or
        ``[1, O]``, one start for all) and ``actions: [N, H, A]``.

        The robot's latent runs first over all steps; the tool's spheres for every imagined step then
        come from one batched forward kinematics, and only the small object updates remain sequential.
        """
        robot_obs0 = self.robot_obs(obs0)
        if not self.objects:
            return self.robot.imagine(robot_obs0, actions)
        samples, horizon = actions.shape[0], actions.shape[1]
        every = self.config.object_step
        steps = horizon // every
        assert self.chain is not None
        robot, tool, disagreement = self.robot.imagine_tool(
            robot_obs0, actions, self.chain, joints=self.tool_input, every=every
        )
        motion = tool[:, 1:] - tool[:, :-1]
        imagined = []
        for module, pose in zip(self.interactions, self.object_states(obs0), strict=True):
            start = ObjectState.at_rest(pose)
            position = start.position.expand(samples, -1)
            heading = start.heading.expand(samples, -1)
            velocity = torch.zeros_like(position)
            positions, turns, spreads = [position], [torch.zeros_like(position[:, 0])], []
            for j in range(steps):
                position, heading, velocity, spread = module.advance(
                    position, heading, velocity, tool[:, j], motion[:, j]
                )
                positions.append(position)
                turns.append(turns[-1] + velocity[:, 2])
                spreads.append(spread)
            # Held between interaction steps: step h shows the pose after the last completed one.
            held = torch.arange(1, horizon + 1) // every
            path = torch.stack(positions, 1)[:, held]
            quats = turn_quaternion(torch.stack(turns, 1)[:, held], pose[:, None, 3:7])
            imagined.append(torch.cat([path, quats], -1))
            if spreads:
                # Paid on the periods that complete an interaction step, as step() pays it.
                none = torch.zeros_like(spreads[0])
                paid = [
                    spreads[h // every] if h % every == every - 1 and h // every < steps else none
                    for h in range(horizon)
                ]
                disagreement = disagreement + torch.stack(paid, 1)
        return self.assemble(robot, imagined), disagreement


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """``indices`` as contiguous ``(start, stop)`` runs."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def _range(layout: Layout, name: str) -> range:
    where = layout.slice(name)
    return range(where.start, where.stop)
