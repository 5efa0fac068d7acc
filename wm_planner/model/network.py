"""The latent dynamics of the robot: ``encode(obs) -> z``, ``step(z, a) -> z'``, ``decode(z) -> features``.

:class:`wm_planner.model.world.WorldModel` runs it on the robot's own observation blocks (proprioception,
tool tip) and advances objects separately, so that arm motion cannot leak into an imagined object.

Observations and actions are normalised inside the model with statistics fitted on the training set, so
callers (and the exported ONNX graphs) work in physical units. The latent is layer-normalised after every
step, which keeps long imagined rollouts bounded. The decoder predicts the observation vector: the
features that costs are written against are the observation's named blocks.

Planning cost is N x H sequential dynamics steps, so the dynamics head is a small residual ReLU MLP whose
first layer is split into a latent part and an action part: :meth:`LatentDynamics.imagine` projects all
N x H actions in one matrix product before the loop, and decodes all imagined latents in one batch after
it. Inside the loop a step is four operators once ONNX Runtime has fused them (Gemm with the projected
action as its addend, Gemm+ReLU, Gemm, Add+LayerNorm): small models are bound by per-operator overhead,
so the operator count is what sets planning speed.
"""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

from wm_planner.config import ModelConfig
from wm_planner.model.dynamics import ToolChain

__all__ = ["DynamicsHead", "LatentDynamics", "mlp"]


def mlp(inputs: int, hidden: int, outputs: int, layers: int) -> nn.Sequential:
    """Linear, LayerNorm, SiLU blocks, then a linear output."""
    blocks: list[nn.Module] = []
    width = inputs
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.SiLU()]
        width = hidden
    blocks.append(nn.Linear(width, outputs))
    return nn.Sequential(*blocks)


class DynamicsHead(nn.Module):
    """``z' = norm(z + body(W_z z + W_a a + b))`` with ``body`` ReLU, (Linear, ReLU)*, Linear."""

    def __init__(self, latent: int, action: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.latent_in = nn.Linear(latent, hidden)
        self.action_in = nn.Linear(action, hidden, bias=False)
        body: list[nn.Module] = [nn.ReLU()]
        for _ in range(layers - 1):
            body += [nn.Linear(hidden, hidden), nn.ReLU()]
        body.append(nn.Linear(hidden, latent))
        self.body = nn.Sequential(*body)

    def project(self, action: Tensor) -> Tensor:
        """The action's (and the bias's) share of the first layer, ``[..., hidden]``."""
        return self.action_in(action) + self.latent_in.bias

    def advance(self, z: Tensor, projected: Tensor) -> Tensor:
        """Residual update ``[B, L]`` (before the latent norm) from ``z [B, L]`` and a :meth:`project`."""
        return z + self.body(torch.addmm(projected, z, self.latent_in.weight.t()))


class LatentDynamics(nn.Module):
    """Action-conditioned latent dynamics with an optional ensemble of dynamics heads.

    obs: [..., O], actions: [..., A], z: [..., L], features: [..., O] (physical units).
    """

    obs_mean: Tensor
    obs_std: Tensor
    action_mean: Tensor
    action_std: Tensor

    def __init__(self, obs_size: int, action_size: int, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.obs_size, self.action_size = obs_size, action_size
        latent = config.latent_size
        self.register_buffer("obs_mean", torch.zeros(obs_size))
        self.register_buffer("obs_std", torch.ones(obs_size))
        self.register_buffer("action_mean", torch.zeros(action_size))
        self.register_buffer("action_std", torch.ones(action_size))
        self.encoder = mlp(obs_size, config.encoder_hidden, latent, config.encoder_layers)
        self.heads = nn.ModuleList(
            DynamicsHead(latent, action_size, config.hidden_size, config.layers)
            for _ in range(config.ensemble)
        )
        self.decoder = mlp(latent, config.decoder_hidden, obs_size, config.decoder_layers)
        self.latent_norm = nn.LayerNorm(latent, elementwise_affine=False)

    @property
    def state_size(self) -> int:
        return self.config.latent_size

    @property
    def head_list(self) -> list[DynamicsHead]:
        """The dynamics heads, typed (a ModuleList yields plain Modules)."""
        return cast(list[DynamicsHead], list(self.heads))

    def set_normalization(
        self, obs_mean: Tensor, obs_std: Tensor, action_mean: Tensor, action_std: Tensor
    ) -> None:
        """Store data statistics; stds are floored so constant inputs do not blow up."""
        self.obs_mean.copy_(obs_mean)
        self.obs_std.copy_(obs_std.clamp_min(1e-3))
        self.action_mean.copy_(action_mean)
        self.action_std.copy_(action_std.clamp_min(1e-4))

    def normalize_obs(self, obs: Tensor) -> Tensor:
        return (obs - self.obs_mean) / self.obs_std

    def normalize_action(self, action: Tensor) -> Tensor:
        return (action - self.action_mean) / self.action_std

    def encode(self, obs: Tensor) -> Tensor:
        return self.latent_norm(self.encoder(self.normalize_obs(obs)))

    def anchor(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        """Latent ``[B, L]`` of ``obs: [B, O]`` and the offset ``obs - decode(z)`` ``[B, O]`` that anchors
        every feature imagined from it (see :meth:`imagine`)."""
        z = self.encode(obs)
        return z, obs - self.decode(z)

    def step_heads(self, z: Tensor, action: Tensor) -> Tensor:
        """Next latent from every head, ``[E, B, L]`` for ``z: [B, L]``, ``action: [B, A]``."""
        a = self.normalize_action(action)
        return torch.stack([self.latent_norm(head.advance(z, head.project(a))) for head in self.head_list])

    def _advance_all(self, z: Tensor, projected: list[Tensor]) -> tuple[Tensor, Tensor]:
        """Ensemble-mean next latent and disagreement; a single head skips the ensemble arithmetic."""
        if len(self.heads) == 1:
            z_next = self.latent_norm(self.head_list[0].advance(z, projected[0]))
            return z_next, torch.zeros_like(z_next[..., 0])
        nexts = torch.stack(
            [self.latent_norm(head.advance(z, p)) for head, p in zip(self.head_list, projected, strict=True)]
        )
        return nexts.mean(dim=0), nexts.var(dim=0, unbiased=False).mean(dim=-1)

    def step(self, z: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """Ensemble-mean next latent ``[B, L]`` and head disagreement ``[B]`` (0 for one head)."""
        a = self.normalize_action(action)
        return self._advance_all(z, [head.project(a) for head in self.head_list])

    def decode_normalized(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z) * self.obs_std + self.obs_mean

    def imagine(self, obs0: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """Open-loop rollout: features ``[N, H, O]`` and disagreement ``[N, H]`` for
        ``obs0: [N, O]`` (or ``[1, O]``, one start shared by all N) and ``actions: [N, H, A]``.

        Features are anchored to the start: ``decode(z_k) + (obs0 - decode(z_0))``, so the decoder's
        error at the current state (a bias of about a centimetre at the end effector) does not move
        every imagined future; the model is trained on exactly this prediction.
        """
        z, offset = self.anchor(obs0)
        z = z.expand(actions.shape[0], -1)
        a = self.normalize_action(actions)
        projected = [head.project(a) for head in self.head_list]
        latents, disagreement = [], []
        for h in range(actions.shape[1]):
            z, d = self._advance_all(z, [p[:, h] for p in projected])
            latents.append(z)
            disagreement.append(d)
        return self.decode(torch.stack(latents, dim=1)) + offset.unsqueeze(1), torch.stack(
            disagreement, dim=1
        )

    def imagine_tool(
        self, obs0: Tensor, actions: Tensor, chain: ToolChain, *, joints: slice, every: int
    ) -> tuple[Tensor, Tensor, Tensor]:
        """:meth:`imagine`, and the tool's spheres ``[N, H // every + 1, M, 3]`` placed at the decoded
        joint positions where interaction steps end (see
        :class:`~wm_planner.model.dynamics.RobotDynamics`)."""
        features, disagreement = self.imagine(obs0, actions)
        steps = actions.shape[1] // every
        q0 = obs0[:, None, joints].expand(actions.shape[0], 1, -1)
        ends = features[:, every - 1 : steps * every : every, joints]
        return features, chain(torch.cat([q0, ends], 1)), disagreement

    def multi_step_loss(self, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """Feature and latent-consistency losses over windows ``obs [B, H+1, O]``, ``actions [B, H, A]``:
        decoded-feature error at the start and at every imagined step (anchored to the start, as
        :meth:`imagine` predicts), and every head's distance to the encoder's latent of the truth."""
        target = self.normalize_obs(obs)
        z = self.encode(obs[:, 0])
        start_error = self.decode_normalized(z) - target[:, 0]
        feature_loss = start_error.pow(2).mean()
        with torch.no_grad():
            z_targets = self.encode(obs[:, 1:])
        latent_loss = torch.zeros((), device=obs.device)
        horizon = actions.shape[1]
        for k in range(horizon):
            heads = self.step_heads(z, actions[:, k])
            predicted = self.decode_normalized(heads) - start_error  # anchored, as imagine()
            feature_loss = feature_loss + (predicted - target[:, k + 1]).pow(2).mean()
            latent_loss = latent_loss + (heads - z_targets[:, k]).pow(2).mean()
            z = heads.mean(dim=0)
        return feature_loss / (horizon + 1), latent_loss / horizon
