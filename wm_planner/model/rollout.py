"""The torch world model as a planner rollout backend (for training-time checks and benchmarks; the
robot runs the ONNX bundle)."""

from __future__ import annotations

import numpy as np
import torch

from wm_planner.model.world import WorldModel
from wm_planner.planning.planner import Imagined, RolloutFn

__all__ = ["TorchRollout"]


class TorchRollout:
    """``TorchRollout(model).bind(obs) -> RolloutFn``: one batched :meth:`WorldModel.imagine` per round."""

    def __init__(
        self, model: WorldModel, *, device: str | torch.device = "cpu", uncertainty_weight: float = 0.0
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.uncertainty_weight = uncertainty_weight
        self._penalised = uncertainty_weight > 0.0

    @torch.no_grad()
    def bind(self, obs: np.ndarray) -> RolloutFn:
        """The rollout from observation ``obs [O]``: ``actions [N, H, A] -> Imagined``."""
        start = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)

        @torch.no_grad()
        def rollout(actions: np.ndarray) -> Imagined:
            a = torch.as_tensor(np.asarray(actions, dtype=np.float32), device=self.device)
            features, disagreement = self.model.imagine(start.unsqueeze(0), a)
            penalty = (
                (self.uncertainty_weight * disagreement.sum(dim=1)).cpu().numpy() if self._penalised else None
            )
            return Imagined(features=features.cpu().numpy(), penalty=penalty)

        return rollout
