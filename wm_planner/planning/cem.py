"""CEM: the sampling distribution is refitted to the elite candidates (with iCEM's coloured noise as an
option through ``PlannerConfig.noise_beta``)."""

from __future__ import annotations

import numpy as np

from wm_planner.planning.planner import SamplingPlanner

__all__ = ["CEM"]


class CEM(SamplingPlanner):
    """Cross-entropy method: mean and std move toward those of the ``elites`` lowest-cost candidates;
    the std never falls below ``min_noise_std``."""

    def refit(
        self, actions: np.ndarray, costs: np.ndarray, mean: np.ndarray, std: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        elites = actions[np.argpartition(costs, self.config.elites - 1)[: self.config.elites]]
        keep = self.config.momentum
        new_mean = keep * mean + (1.0 - keep) * elites.mean(axis=0)
        new_std = keep * std + (1.0 - keep) * elites.std(axis=0)
        return new_mean, np.maximum(new_std, self.min_std)
