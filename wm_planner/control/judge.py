"""``PlanJudge``: the core every controller shares. Each period it asks the planner for a plan from the
observation toward the cost, and judges the answer (:class:`~wm_planner.safety.fallback.PlanFallback`): a
usable plan is executed, a late or invalid one falls back to the last usable plan, shifted, then to a
hold. What a hold sends is the controller's business (a smooth stop through the command filter for an
arm, a hold action for an action space)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from wm_planner.planning.planner import CostFn, Plan, RolloutFn, SamplingPlanner
from wm_planner.safety.fallback import PlanFallback
from wm_planner.safety.status import Mode, Problem

__all__ = ["BindFn", "Judged", "PlanJudge"]

BindFn = Callable[[np.ndarray], RolloutFn]
"""``bind(obs [O]) -> rollout``: the rollout of candidates from the observed state."""


@dataclass(frozen=True)
class Judged:
    """One period's outcome: the actions to execute ``[H, A]`` (None: hold), whether they are the new
    plan's or a reused one's (fallback), what went wrong if anything did, and the planner's answer (None
    when it was not asked: no goal)."""

    actions: np.ndarray | None
    mode: Mode
    problem: Problem | None = None
    detail: str = ""
    plan: Plan | None = None


class PlanJudge:
    """Plans toward :attr:`cost` with ``planner`` on the rollout ``bind`` gives for each observation, and
    judges each plan; ``max_reuse``: periods a previous plan may stand in for a late or invalid one."""

    def __init__(self, planner: SamplingPlanner, bind: BindFn, *, max_reuse: int) -> None:
        self.planner = planner
        self.bind = bind
        self.fallback = PlanFallback(max_reuse=max_reuse)
        self.cost: CostFn | None = None

    def aim(self, cost: CostFn | None, *, seed: int | None = None) -> None:
        """Plan toward ``cost`` from now on (None: hold), afresh, the planner reseeded when ``seed`` is
        given."""
        self.cost = cost
        self.forget(seed=seed)

    def forget(self, *, seed: int | None = None) -> None:
        """Start the next plan afresh: no warm start, no plan kept to fall back on."""
        self.planner.reset(seed=seed)
        self.fallback.reset()

    def decide(self, obs: np.ndarray, *, previous: np.ndarray | None = None) -> Judged:
        """Plan from ``obs [O]`` (``previous [A]``: the action executed last period, where the planner's
        limit on action changes starts) and judge the plan."""
        if self.cost is None:
            return Judged(None, Mode.HOLD, Problem.NO_GOAL, str(Problem.NO_GOAL))
        plan = self.planner.plan(self.bind(obs), self.cost, previous=previous)
        verdict = self.fallback.judge(plan)
        if verdict.actions is None:
            return Judged(None, Mode.HOLD, verdict.problem, verdict.detail, plan)
        mode = Mode.PLAN if verdict.problem is None else Mode.FALLBACK
        return Judged(verdict.actions, mode, verdict.problem, verdict.detail, plan)
