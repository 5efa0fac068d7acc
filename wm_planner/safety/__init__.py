"""What stands between the planner and the arm: the command filter (and, with the ROS node, the
stale-state watchdog and plan fallback)."""

from wm_planner.config import SafetyConfig
from wm_planner.safety.filter import CommandFilter, FilteredCommand, stoppable_step

__all__ = ["CommandFilter", "FilteredCommand", "SafetyConfig", "stoppable_step"]
