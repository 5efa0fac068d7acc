"""The arm's own dynamics in joint space: the commanded target, the servo's lag and forward kinematics.

An action is a change of the commanded joint target, which position servos track. So the state carries
what decides the next motion: joint positions ``q``, velocities ``qd`` and the command's lead over the
arm, ``e = target - q`` (not measured; estimated from ``q, qd`` at the start). A step adds the action to
the lead, and a small ensemble of MLPs predicts how far the servos move the joints in one period from
``(q, qd, e, a)``: a function of the arm's local state, so it holds for any action sequence, including the
jerky candidates a sampling planner tries, not only for the smooth motions of the training data. The tool
tip is placed by forward kinematics of the imagined joints, exactly.

A :class:`~wm_planner.model.dynamics.RobotDynamics` on the robot's blocks: ``joint_pos``, ``joint_vel``
and optionally ``ee_pos``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wm_planner.data.layout import Layout
from wm_planner.model.dynamics import ToolChain
from wm_planner.model.interaction import EnsembleMLP

__all__ = ["ROBOT_BLOCKS", "JointDynamics"]

ROBOT_BLOCKS = ("joint_pos", "joint_vel", "ee_pos")
POSITION_ERROR_SCALE = 0.01
"""rad and m: joint and tool-tip position errors are scored in units of this."""


class JointDynamics(nn.Module):
    """``state [B, 3J] = (q, qd, e)``; features in the robot layout (``joint_pos``, ``joint_vel``, and
    ``ee_pos`` from ``tip(q)`` when the layout has it)."""

    q_mean: Tensor
    q_std: Tensor
    qd_std: Tensor
    action_mean: Tensor
    action_std: Tensor

    def __init__(
        self, layout: Layout, action_size: int, *, hidden: int, layers: int, heads: int, tip
    ) -> None:
        super().__init__()
        unknown = [name for name in layout.names if name not in ROBOT_BLOCKS]
        if unknown or "joint_pos" not in layout.names or "joint_vel" not in layout.names:
            raise ValueError(
                f"joint-space dynamics need joint_pos and joint_vel blocks and no others but ee_pos; "
                f"the robot's blocks are {layout.describe()}"
            )
        joints = layout.slice("joint_pos").stop - layout.slice("joint_pos").start
        if joints != action_size:
            raise ValueError(
                f"joint-space dynamics need one action per joint: {joints} joints, {action_size} actions"
            )
        self.layout = layout
        self.joints = joints
        self.tip = tip if "ee_pos" in layout.names else None
        if "ee_pos" in layout.names and tip is None:
            raise ValueError("an ee_pos block needs the robot's kinematics to be placed")
        self.register_buffer("q_mean", torch.zeros(joints))
        self.register_buffer("q_std", torch.ones(joints))
        self.register_buffer("qd_std", torch.ones(joints))
        self.register_buffer("action_mean", torch.zeros(action_size))
        self.register_buffer("action_std", torch.ones(action_size))
        self.lead = EnsembleMLP(2 * joints, hidden, joints, layers, 1)
        self.servo = EnsembleMLP(4 * joints, hidden, 2 * joints, layers, heads)

    @property
    def state_size(self) -> int:
        return 3 * self.joints

    def set_normalization(
        self, obs_mean: Tensor, obs_std: Tensor, action_mean: Tensor, action_std: Tensor
    ) -> None:
        """Data statistics of the robot's blocks ``[R]`` and of the actions ``[A]``."""
        q, qd = self.layout.slice("joint_pos"), self.layout.slice("joint_vel")
        self.q_mean.copy_(obs_mean[q])
        self.q_std.copy_(obs_std[q].clamp_min(1e-3))
        self.qd_std.copy_(obs_std[qd].clamp_min(1e-3))
        self.action_mean.copy_(action_mean)
        self.action_std.copy_(action_std.clamp_min(1e-4))

    def _inputs(self, q: Tensor, qd: Tensor) -> list[Tensor]:
        return [(q - self.q_mean) / self.q_std, qd / self.qd_std]

    def anchor(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """State ``[B, 3J]`` of robot observations ``[B, R]``, and a zero offset: q and qd are carried
        exactly and the tip is placed by exact kinematics."""
        q, qd = obs[:, self.layout.slice("joint_pos")], obs[:, self.layout.slice("joint_vel")]
        lead = self.lead(torch.cat(self._inputs(q, qd), -1))[0] * self.action_std
        return torch.cat([q, qd, lead], -1), torch.zeros_like(obs)

    def encode(self, obs: Tensor) -> Tensor:
        return self.anchor(obs)[0]

    def _folded(self) -> tuple[list[Tensor], list[Tensor], Tensor, Tensor]:
        """The servo network with its input normalisation and output scales folded into the weights, so a
        step is the network on raw ``[q, qd, lead] [B, 3J]`` plus the action's share of the first layer:
        weights and biases per layer (the first layer's weight is for the state part only), the action
        part of the first layer ``[E, J, hidden]`` and its constant share ``[E, 1, hidden]``."""
        weights, biases = list(self.servo.weights), list(self.servo.biases)
        j = self.joints
        scale = torch.cat([self.q_std, self.qd_std, self.action_std, self.action_std])
        shift = torch.cat(
            [self.q_mean, torch.zeros_like(self.qd_std), torch.zeros_like(self.action_std), self.action_mean]
        )
        first = weights[0] / scale[:, None]  # [E, 4J, hidden]
        first_bias = biases[0] - ((shift / scale) @ weights[0]).unsqueeze(1)
        out_scale = torch.cat([self.action_std, self.qd_std])
        weights = [first[:, : 3 * j], *weights[1:-1], weights[-1] * out_scale]
        biases = [first_bias, *biases[1:-1], biases[-1] * out_scale]
        return weights, biases, first[:, 3 * j :], first_bias

    def _advance(self, state: Tensor, action: Tensor, action_share: Tensor, weights, biases) -> Tensor:
        """Every head's next state ``[E, B, 3J]`` from ``state [B, 3J]`` (or ``[E, B, 3J]``), the action
        ``[B, J]`` and its share of the first layer ``[E, B, hidden]``."""
        j = self.joints
        q, qd, lead = state[..., :j], state[..., j : 2 * j], state[..., 2 * j :] + action
        h = torch.matmul(torch.cat([q, qd, lead], -1), weights[0]) + action_share
        for w, b in zip(weights[1:], biases[1:], strict=True):
            h = torch.matmul(torch.relu(h), w) + b
        moved, accelerated = h[..., :j], h[..., j:]
        return torch.cat([q + moved, qd + accelerated, lead - moved], -1)

    def step_heads(self, state: Tensor, action: Tensor) -> Tensor:
        """Every head's next state ``[E, B, 3J]``."""
        weights, biases, action_weight, first_bias = self._folded()
        return self._advance(state, action, torch.matmul(action, action_weight) + first_bias, weights, biases)

    def step(self, state: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """Ensemble-mean next state ``[B, 3J]`` and the heads' spread of the joint motion ``[B]`` (rad)."""
        return self._mean(self.step_heads(state, action))

    def _mean(self, heads: Tensor) -> tuple[Tensor, Tensor]:
        if heads.shape[0] == 1:
            return heads[0], torch.zeros_like(heads[0, :, 0])
        return heads.mean(0), heads[..., : self.joints].var(0, unbiased=False).mean(-1)

    def decode(self, state: Tensor, *, tip: Tensor | None = None) -> Tensor:
        """Robot features ``[..., R]`` of states ``[..., 3J]``; ``tip [..., 3]`` when already placed."""
        q, qd = state[..., : self.joints], state[..., self.joints : 2 * self.joints]
        blocks = {"joint_pos": q, "joint_vel": qd}
        if self.tip is not None:
            blocks["ee_pos"] = self.tip(q) if tip is None else tip
        return torch.cat([blocks[name] for name in self.layout.names], -1)

    def imagine(self, obs0: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """Features ``[N, H, R]`` and disagreement ``[N, H]`` for ``obs0 [N or 1, R]``, ``actions [N, H, A]``.
        The tip is placed once for all imagined steps after the sequential loop."""
        states, disagreement = self.imagine_states(obs0, actions)
        return self.decode(states), disagreement

    def imagine_tool(
        self, obs0: Tensor, actions: Tensor, chain: ToolChain, *, joints: slice, every: int
    ) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`imagine`, and the tool's spheres ``[N, H // every + 1, M, 3]`` where interaction steps
        end, from one forward kinematics for the tip at every step and the spheres (see
        :class:`~wm_planner.model.dynamics.RobotDynamics`)."""
        states, disagreement = self.imagine_states(obs0, actions)
        steps = actions.shape[1] // every
        q0 = obs0[:, None, joints].expand(actions.shape[0], 1, -1)
        points = chain.points(torch.cat([q0, states[..., joints]], 1))  # [N, H+1, 1+M, 3]
        features = self.decode(states, tip=points[:, 1:, 0])
        return features, points[:, : steps * every + 1 : every, 1:], disagreement

    def imagine_states(self, obs0: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """States ``[N, H, 3J]`` and disagreement ``[N, H]`` of an open-loop rollout (see :meth:`imagine`)."""
        state, _ = self.anchor(obs0)
        samples, horizon = actions.shape[0], actions.shape[1]
        j = self.joints
        q, qd, lead = (part.expand(samples, -1) for part in state.split(j, -1))
        weights, biases, action_weight, first_bias = self._folded()
        # The actions' share of the first layer for all steps at once: [E, N, H, hidden].
        shares = torch.matmul(actions.unsqueeze(0), action_weight.unsqueeze(1)) + first_bias.unsqueeze(1)
        ensemble = weights[0].shape[0] > 1
        states, spreads = [], []
        for h in range(horizon):
            lead = lead + actions[:, h]
            x = torch.matmul(torch.cat([q, qd, lead], -1), weights[0]) + shares[:, :, h]
            for w, b in zip(weights[1:], biases[1:], strict=True):
                x = torch.matmul(torch.relu(x), w) + b
            if ensemble:
                spreads.append(x[..., :j].var(0, unbiased=False).mean(-1))
            x = x.mean(0)
            q, qd, lead = q + x[:, :j], qd + x[:, j:], lead - x[:, :j]
            states.append(torch.cat([q, qd, lead], -1))
        stacked = torch.stack(states, 1)
        if not ensemble:
            return stacked, torch.zeros_like(stacked[..., 0])
        return stacked, torch.stack(spreads, 1)

    def multi_step_loss(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """Open-loop error over windows ``obs [B, H+1, R]``, ``actions [B, H, A]``: every head's joint
        positions and tool tip (in units of 1 cm / 0.01 rad) and velocities (in data stds), at every step;
        the state advances by the ensemble mean. Returns ``(feature_loss, 0)`` (no latent to keep
        consistent).

        The servo network is folded once and the tips of all steps are placed by one forward kinematics
        after the loop (the state does not depend on them): a chain of small operations per step
        otherwise dominates a training step, backward pass included."""
        state, _ = self.anchor(obs[:, 0])
        j, horizon = self.joints, actions.shape[1]
        q_at, qd_at = self.layout.slice("joint_pos"), self.layout.slice("joint_vel")
        weights, biases, action_weight, first_bias = self._folded()
        shares = torch.matmul(actions.unsqueeze(0), action_weight.unsqueeze(1)) + first_bias.unsqueeze(1)
        total = torch.zeros((), device=obs.device)
        positions = []
        for k in range(horizon):
            heads = self._advance(state, actions[:, k], shares[:, :, k], weights, biases)
            truth = obs[:, k + 1]
            q, qd = heads[..., :j], heads[..., j : 2 * j]
            total = total + ((q - truth[:, q_at]) / POSITION_ERROR_SCALE).pow(2).mean()
            total = total + ((qd - truth[:, qd_at]) / self.qd_std).pow(2).mean()
            positions.append(q)
            state = heads.mean(0)
        if self.tip is not None:
            tips = self.tip(torch.stack(positions, 2))  # [E, B, H, 3]
            error = (tips - obs[:, 1:, self.layout.slice("ee_pos")]) / POSITION_ERROR_SCALE
            total = total + error.pow(2).mean(dim=(0, 1, 3)).sum()
        return total / horizon, torch.zeros_like(total)
