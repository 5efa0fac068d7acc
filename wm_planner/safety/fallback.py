"""What to execute when the planner's answer cannot be used.

A plan is usable when it came in time and every action and its cost are finite. Otherwise the previous
usable plan, shifted by the steps executed since, is used for at most ``max_reuse`` control periods; after
that (or with none to reuse) the caller holds, which the command filter turns into a smooth stop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wm_planner.planning.planner import Plan
from wm_planner.safety.status import Problem

__all__ = ["PlanFallback", "PlanVerdict"]


@dataclass(frozen=True)
class PlanVerdict:
    """The actions to execute ``[H, A]`` (None: hold), why they differ from the plan (None if not) and
    the details in words."""

    actions: np.ndarray | None
    problem: Problem | None
    detail: str = ""


class PlanFallback:
    """Checks each plan and keeps the last usable one; counts deadline misses and invalid plans."""

    def __init__(self, *, max_reuse: int) -> None:
        if max_reuse < 0:
            raise ValueError(f"max_reuse must be >= 0, got {max_reuse}")
        self.max_reuse = max_reuse
        self.deadline_misses = 0
        self.invalid_plans = 0
        self.fallbacks = 0
        self.reset()

    def reset(self) -> None:
        """Forget the last usable plan (after a new goal, a reset or a hold)."""
        self._kept: np.ndarray | None = None
        self._reused = 0

    def judge(self, plan: Plan) -> PlanVerdict:
        """The actions to execute this period, given the planner's latest ``plan``."""
        if not (np.isfinite(plan.cost) and np.all(np.isfinite(plan.actions))):
            self.invalid_plans += 1
            return self._fall_back(Problem.PLAN_INVALID, "non-finite cost or actions")
        if plan.deadline_missed:
            self.deadline_misses += 1
            return self._fall_back(Problem.PLAN_LATE, f"{1000 * plan.latency_s:.1f} ms")
        self._kept, self._reused = plan.actions, 0
        return PlanVerdict(plan.actions, None)

    def _fall_back(self, problem: Problem, detail: str) -> PlanVerdict:
        self.fallbacks += 1
        if self._kept is None or self._reused >= self.max_reuse:
            self.reset()
            return PlanVerdict(None, problem, f"{problem} ({detail}): holding")
        self._reused += 1
        self._kept = np.concatenate([self._kept[1:], np.zeros_like(self._kept[:1])])
        return PlanVerdict(self._kept, problem, f"{problem} ({detail}): previous plan reused")
