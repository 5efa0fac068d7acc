"""MPPI: the sampling mean moves to the softmax-weighted average of the candidates, and the std to their
weighted spread (covariance adaptation as in PI²-CMA), never below ``min_noise_std``."""

from __future__ import annotations

import numpy as np

from wm_planner.planning.planner import SamplingPlanner

__all__ = ["MPPI", "mppi_weights"]


def mppi_weights(costs: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax weights ``[N]`` of ``costs [N]`` (inf for failed candidates, which get weight 0).

    Costs are first scaled to [0, 1] by the round's best and worst finite cost, so ``temperature`` does
    not depend on the units of the cost function.
    """
    finite = np.isfinite(costs)
    if not finite.any():
        return np.full(costs.shape, 1.0 / costs.size)
    low, high = costs[finite].min(), costs[finite].max()
    scaled = (np.where(finite, costs, high) - low) / max(high - low, 1e-12)
    weights = np.where(finite, np.exp(-scaled / temperature), 0.0)
    return np.asarray(weights / weights.sum())


class MPPI(SamplingPlanner):
    """Model-predictive path integral control (Williams et al. 2017) with an adapted diagonal std."""

    def refit(
        self, actions: np.ndarray, costs: np.ndarray, mean: np.ndarray, std: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        weights = mppi_weights(costs, self.config.temperature).astype(np.float32)
        new_mean = np.tensordot(weights, actions, axes=1)
        spread = np.sqrt(np.tensordot(weights, (actions - new_mean) ** 2, axes=1))
        return new_mean, np.maximum(spread, self.min_std)
