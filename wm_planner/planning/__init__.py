"""Sampling-based MPC (MPPI, CEM) over any rollout callable, and task costs on imagined features."""

import numpy as np

from wm_planner.config import PlannerConfig
from wm_planner.planning.cem import CEM
from wm_planner.planning.costs import CostSum, JointCost, PostureCost, PushCost, ReachCost
from wm_planner.planning.mppi import MPPI, mppi_weights
from wm_planner.planning.noise import coloured_noise
from wm_planner.planning.planner import CostFn, Imagined, Plan, RolloutFn, SamplingPlanner, limit_changes

__all__ = [
    "CEM",
    "MPPI",
    "CostFn",
    "CostSum",
    "Imagined",
    "JointCost",
    "Plan",
    "PlannerConfig",
    "PostureCost",
    "PushCost",
    "ReachCost",
    "RolloutFn",
    "SamplingPlanner",
    "coloured_noise",
    "limit_changes",
    "make_planner",
    "mppi_weights",
]


def make_planner(
    config: PlannerConfig,
    *,
    action_low: np.ndarray,
    action_high: np.ndarray,
    hold_action: np.ndarray | None = None,
    max_change: np.ndarray | None = None,
    seed: int = 0,
) -> SamplingPlanner:
    """The planner named by ``config.algorithm`` (see :class:`SamplingPlanner` for the options)."""
    kind = {"mppi": MPPI, "cem": CEM}[config.algorithm]
    return kind(
        config,
        action_low=action_low,
        action_high=action_high,
        hold_action=hold_action,
        max_change=max_change,
        seed=seed,
    )
