"""``ActionController``: the control loop for a system whose actions are sent as they are (a gymnasium
environment's bounded Box action), not as joint position commands.

Per period it plans from the observation, judges the plan as the arm's controller does (a late or
invalid plan falls back to the last good one, shifted, then to the hold action) and returns the action
to send. Nothing here filters rates: an action space without rate limits has none to keep.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wm_planner.control.controller import BindFn
from wm_planner.planning.planner import CostFn, Plan, SamplingPlanner
from wm_planner.safety.fallback import PlanFallback
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
        self.planner = planner
        self.bind = bind
        self.hold_action = np.asarray(hold_action, dtype=np.float64)
        self.fallback = PlanFallback(max_reuse=max_reuse)
        self.cost: CostFn | None = None

    def start(self, cost: CostFn | None, *, seed: int | None = None) -> None:
        """Plan toward ``cost`` from now on (None: hold), afresh, with the planner's noise seeded by
        ``seed`` when given (an episode's seed makes the episode reproducible)."""
        self.cost = cost
        self.planner.reset(seed=seed)
        self.fallback.reset()

    def step(self, obs: np.ndarray) -> ActionStep:
        """The action for this period from the observation ``obs [O]``."""
        if self.cost is None:
            return self._hold(Problem.NO_GOAL, str(Problem.NO_GOAL))
        plan = self.planner.plan(self.bind(obs), self.cost)
        verdict = self.fallback.judge(plan)
        if verdict.actions is None:
            return self._hold(verdict.problem, verdict.detail, plan)
        mode = Mode.PLAN if verdict.problem is None else Mode.FALLBACK
        return ActionStep(verdict.actions[0], mode, verdict.problem, verdict.detail, plan)

    def _hold(self, problem: Problem | None, detail: str, plan: Plan | None = None) -> ActionStep:
        self.planner.reset()
        return ActionStep(self.hold_action.copy(), Mode.HOLD, problem, detail, plan)
