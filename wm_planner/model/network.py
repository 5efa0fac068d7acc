"""The latent world model: ``encode(obs) -> z``, ``step(z, a) -> z'``, ``decode(z) -> features``.

Observations and actions are normalised inside the model with statistics fitted on the training set, so
callers (and the exported ONNX graphs) work in physical units. The latent is layer-normalised after every
step, which keeps long imagined rollouts bounded. The decoder predicts the observation vector: the
features that costs are written against are the observation's named blocks.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from wm_planner.config import ModelConfig

__all__ = ["WorldModel", "mlp"]


def mlp(inputs: int, hidden: int, outputs: int, layers: int) -> nn.Sequential:
    blocks: list[nn.Module] = []
    width = inputs
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.LayerNorm(hidden), nn.SiLU()]
        width = hidden
    blocks.append(nn.Linear(width, outputs))
    return nn.Sequential(*blocks)


class WorldModel(nn.Module):
    """Action-conditioned latent dynamics with an optional ensemble of dynamics heads.

    obs: [..., O], actions: [..., A], z: [..., L], features: [..., O] (physical units).
    """

    def __init__(self, obs_size: int, action_size: int, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.obs_size, self.action_size = obs_size, action_size
        latent, hidden, layers = config.latent_size, config.hidden_size, config.layers
        self.register_buffer("obs_mean", torch.zeros(obs_size))
        self.register_buffer("obs_std", torch.ones(obs_size))
        self.register_buffer("action_mean", torch.zeros(action_size))
        self.register_buffer("action_std", torch.ones(action_size))
        self.encoder = mlp(obs_size, hidden, latent, layers)
        self.heads = nn.ModuleList(
            mlp(latent + action_size, hidden, latent, layers) for _ in range(config.ensemble)
        )
        self.decoder = mlp(latent, hidden, obs_size, layers)
        self.latent_norm = nn.LayerNorm(latent, elementwise_affine=False)

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

    def encode(self, obs: Tensor) -> Tensor:
        return self.latent_norm(self.encoder(self.normalize_obs(obs)))

    def step_heads(self, z: Tensor, action: Tensor) -> Tensor:
        """Next latent from every head, ``[E, ..., L]``."""
        x = torch.cat([z, (action - self.action_mean) / self.action_std], dim=-1)
        return torch.stack([self.latent_norm(z + head(x)) for head in self.heads])

    def step(self, z: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """Ensemble-mean next latent ``[..., L]`` and head disagreement ``[...]`` (0 for one head)."""
        nexts = self.step_heads(z, action)
        mean = nexts.mean(dim=0)
        if len(self.heads) == 1:
            return mean, torch.zeros_like(mean[..., 0])
        return mean, nexts.var(dim=0, unbiased=False).mean(dim=-1)

    def decode_normalized(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z) * self.obs_std + self.obs_mean

    def imagine(self, obs0: Tensor, actions: Tensor) -> tuple[Tensor, Tensor]:
        """Open-loop rollout: features ``[N, H, O]`` and disagreement ``[N, H]`` for
        ``obs0: [N, O]`` and ``actions: [N, H, A]``."""
        z = self.encode(obs0)
        features, disagreement = [], []
        for h in range(actions.shape[1]):
            z, d = self.step(z, actions[:, h])
            features.append(self.decode(z))
            disagreement.append(d)
        return torch.stack(features, dim=1), torch.stack(disagreement, dim=1)
