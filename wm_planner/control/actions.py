"""``ActionController``: the control loop for a system whose actions are sent as they are (a gymnasium
environment's bounded Box action), not as joint position commands.

Per period it plans from the observation, judges the plan as the arm's controller does (a late or
invalid plan falls back to the last good one, shifted, then to the hold action) and returns the action
to send. Nothing here filters rates: an action space without rate limits has none to keep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wm_planner.control.judge import BindFn, PlanJudge
from wm_planner.planning.planner import CostFn, Plan, SamplingPlanner
from wm_planner.safety.status import Mode, Problem

__all__ = ["ActionController", "ActionStep"]


@dataclass(frozen=True)
class ActionStep:
    """One period's ``action [A]``, whether it is the new plan's first, a reused plan's (fallback) or the
    hold action, what went wrong if anything did, and the planner's answer if it was asked."""

    action: np.ndarray
    mode: Mode
    problem: Problem | None = None
    detail: str = ""
    plan: Plan | None = None


class ActionController:
    """Plans on each :meth:`step` toward the cost set by :meth:`start`.

    ``hold_action [A]``: what is sent with no goal or no usable plan (an action space's centre, say).
    ``max_reuse``: periods a previous plan may stand in for a late or invalid one.
    """

    def __init__(
        self, planner: SamplingPlanner, bind: BindFn, *, hold_action: np.ndarray, max_reuse: int
    ) -> None:
        self.judge = PlanJudge(planner, bind, max_reuse=max_reuse)
        self.hold_action = np.asarray(hold_action, dtype=np.float64)

    def start(self, cost: CostFn | None, *, seed: int | None = None) -> None:
        """Plan toward ``cost`` from now on (None: hold), afresh, with the planner's noise seeded by
        ``seed`` when given (an episode's seed makes the episode reproducible)."""
        self.judge.aim(cost, seed=seed)

    def step(self, obs: np.ndarray) -> ActionStep:
        """The action for this period from the observation ``obs [O]``."""
        judged = self.judge.decide(obs)
        if judged.actions is None:
            # The next plan starts afresh, as after any hold.
            self.judge.planner.reset()
            return ActionStep(self.hold_action.copy(), Mode.HOLD, judged.problem, judged.detail, judged.plan)
        return ActionStep(judged.actions[0], judged.mode, judged.problem, judged.detail, judged.plan)
