"""What stands between the planner and the arm: the command filter, the stale-state watchdog and the
fallback for late or invalid plans."""

from wm_planner.config import SafetyConfig
from wm_planner.safety.fallback import PlanFallback, PlanVerdict
from wm_planner.safety.filter import CommandFilter, FilteredCommand, stoppable_step
from wm_planner.safety.status import Mode, Problem
from wm_planner.safety.watchdog import StateWatchdog

__all__ = [
    "CommandFilter",
    "FilteredCommand",
    "Mode",
    "PlanFallback",
    "PlanVerdict",
    "Problem",
    "SafetyConfig",
    "StateWatchdog",
    "stoppable_step",
]
