"""What the control loop is doing and why: the two values every report carries.

They are string enums, so a status message, a JSON report or a log shows the same words the code compares.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["Mode", "Problem", "TextEnum"]


class TextEnum(str, Enum):
    """An enum whose members are their words: printed, formatted and serialized as their value
    (``enum.StrEnum`` does this from Python 3.11; robot computers still run 3.10)."""

    def __str__(self) -> str:
        return str(self.value)

    def __format__(self, spec: str) -> str:
        return format(str(self.value), spec)


class Mode(TextEnum):
    """What went to the arm this period."""

    IDLE = "idle"
    """Nothing: no measured state to command from, or the arm was brought to rest and its state is lost."""
    PLAN = "plan"
    """The new plan's next command."""
    FALLBACK = "fallback"
    """The last usable plan, shifted by the periods since."""
    HOLD = "hold"
    """A smooth stop where the commands are."""


class Problem(TextEnum):
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
