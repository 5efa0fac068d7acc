"""The ONNX bundle as a planner rollout backend: ``OnnxRollout(model).bind(obs) -> RolloutFn``."""

from __future__ import annotations

import numpy as np

from wm_planner.planning.planner import Imagined, RolloutFn
from wm_planner.runtime.session import OnnxWorldModel

__all__ = ["OnnxRollout"]


class OnnxRollout:
    """Imagines candidates with the bundle's rollout graph: one ONNX call per planner round.

    Task costs are computed by the planner's cost function on the returned features, so the graph's
    own goal weights are zero and its cost output is just ``uncertainty_weight`` times the summed
    ensemble disagreement, which becomes the candidates' penalty.
    """

    def __init__(self, model: OnnxWorldModel, *, uncertainty_weight: float = 0.0) -> None:
        self.model = model
        self.uncertainty_weight = uncertainty_weight
        features = model.meta.feature_layout.size
        self._zeros = np.zeros(features, dtype=np.float32)
        self._penalised = uncertainty_weight > 0.0

    def bind(self, obs: np.ndarray) -> RolloutFn:
        """The rollout from observation ``obs [O]``: ``actions [N, H, A] -> Imagined``."""
        obs = np.asarray(obs, dtype=np.float32)

        def rollout(actions: np.ndarray) -> Imagined:
            cost, features = self.model.rollout(
                obs, actions, self._zeros, self._zeros, uncertainty_weight=self.uncertainty_weight
            )
            return Imagined(features=features, penalty=cost if self._penalised else None)

        return rollout
