"""What the control loop is doing and why: the two values every report carries.

They are string enums, so a status message or a log shows the same words the code compares.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Mode", "Problem"]


class Mode(StrEnum):
    """What went to the arm this period."""

    IDLE = "idle"
    """Nothing: no measured state to command from, or the arm was brought to rest and its state is lost."""
    PLAN = "plan"
    """The new plan's next command."""
    FALLBACK = "fallback"
    """The last usable plan, shifted by the periods since."""
    HOLD = "hold"
    """A smooth stop where the commands are."""


class Problem(StrEnum):
    """Why the loop is not simply executing a fresh plan (or what it had to correct on the way)."""

    WAITING_FOR_STATE = "waiting for joint states"
    STATE_STALE = "joint states stale"
    NO_GOAL = "no goal"
    PAUSED = "paused"
    PLAN_LATE = "plan late"
    PLAN_INVALID = "invalid plan"
    REANCHORED = "re-anchored"
    STOPPED = "stopped"
    """The loop was stopped from outside (deactivated, shut down)."""
