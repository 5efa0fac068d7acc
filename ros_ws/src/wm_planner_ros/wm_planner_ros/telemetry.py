"""What the planner node reports: loop rate, plan latency percentiles and counts of what went wrong,
turned into the messages it publishes (``~/status``, ``/diagnostics``, ``~/planned_path``)."""

from __future__ import annotations

import json
from collections import Counter, deque

import numpy as np
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from std_msgs.msg import String
from visualization_msgs.msg import Marker, MarkerArray

from wm_planner.control import ControlStep, Decision, Mode, Problem, Supervisor
from wm_planner.data.layout import Layout
from wm_planner_ros.messages import point

__all__ = ["Telemetry", "path_message", "status_message"]


class Telemetry:
    """Sliding windows of the last ``window`` commands sent and plan latencies, event counters, and the
    loop's latest mode and problem."""

    def __init__(self, window: int = 500) -> None:
        self._sent: deque[float] = deque(maxlen=window)
        self._latencies: deque[float] = deque(maxlen=window)
        self.rejected: Counter[str] = Counter()
        self.modes: Counter[str] = Counter()
        self.periods = 0
        self.stale_periods = 0
        self.mode: Mode = Mode.IDLE
        self.problem: Problem | None = None

    def sent(self, now_s: float, mode: Mode) -> None:
        """A command in ``mode`` was published at ``now_s`` (the loop rate counts these)."""
        self._sent.append(now_s)
        self.modes[str(mode)] += 1

    def period(self, decision: Decision) -> None:
        """A control period decided ``decision``."""
        self.periods += 1
        self.stale_periods += decision.problem == Problem.STATE_STALE

    def planned(self, latency_s: float) -> None:
        self._latencies.append(latency_s)

    def decided(self, decision: Decision) -> bool:
        """The loop's latest decision; whether its mode or problem changed."""
        changed = (decision.mode, decision.problem) != (self.mode, self.problem)
        self.mode, self.problem = decision.mode, decision.problem
        return changed

    def reject(self, reason: str) -> int:
        """Count a rejected input; returns how many of this reason so far."""
        self.rejected[reason] += 1
        return self.rejected[reason]

    def loop_rate_hz(self) -> float:
        """Commands sent per second over the window."""
        if len(self._sent) < 2:
            return 0.0
        return (len(self._sent) - 1) / (self._sent[-1] - self._sent[0])

    def latency_ms(self, percentile: float) -> float:
        if not self._latencies:
            return 0.0
        return 1000.0 * float(np.percentile(np.fromiter(self._latencies, float), percentile))

    def clear_windows(self) -> None:
        """Start the rate and latency windows afresh (after a pause in the loop)."""
        self._sent.clear()
        self._latencies.clear()

    def health(self, lifecycle: str) -> tuple[bytes, str]:
        """Diagnostic level and message."""
        if lifecycle != "active":
            return DiagnosticStatus.WARN, lifecycle
        if self.problem not in (None, Problem.NO_GOAL):
            return DiagnosticStatus.WARN, f"{self.mode}: {self.problem}"
        return DiagnosticStatus.OK, str(self.mode)

    def diagnostics(
        self,
        supervisor: Supervisor | None,
        lifecycle: str,
        now: float,
        *,
        name: str,
        hardware_id: str,
        extra: dict[str, str],
    ) -> DiagnosticArray:
        """One ``/diagnostics`` status (stamp it before publishing)."""
        values = {
            "lifecycle": lifecycle,
            "mode": str(self.mode),
            "problem": str(self.problem or ""),
            "loop_rate_hz": f"{self.loop_rate_hz():.2f}",
            "plan_latency_p50_ms": f"{self.latency_ms(50):.2f}",
            "plan_latency_p99_ms": f"{self.latency_ms(99):.2f}",
            "periods": str(self.periods),
            "stale_periods": str(self.stale_periods),
            **extra,
            "state_age_ms": "inf" if supervisor is None else f"{1000 * supervisor.watchdog.age(now):.1f}",
        }
        if supervisor is not None:
            fallback = supervisor.controller.judge.fallback
            values |= {
                "deadline_misses": str(fallback.deadline_misses),
                "invalid_plans": str(fallback.invalid_plans),
                "fallbacks": str(fallback.fallbacks),
                "reanchors": str(supervisor.controller.reanchors),
                "reanchor_blend_periods": str(supervisor.controller.blend_periods),
                "stale_state_events": str(supervisor.watchdog.stale_events),
                "joint_states_accepted": str(supervisor.states_accepted),
                "joint_state_stamp": f"{supervisor.stamp or 0.0:.6f}",
            }
        values |= {f"ticks_{mode}": str(n) for mode, n in sorted(self.modes.items())}
        values |= {f"rejected_{reason}": str(n) for reason, n in sorted(self.rejected.items())}
        level, message = self.health(lifecycle)
        status = DiagnosticStatus(
            level=level,
            name=name,
            message=message,
            hardware_id=hardware_id,
            values=[KeyValue(key=k, value=v) for k, v in values.items()],
        )
        return DiagnosticArray(status=[status])


def status_message(
    lifecycle: str, decision: Decision, supervisor: Supervisor, rejected: Counter[str]
) -> String:
    """``~/status``: the loop's state as JSON, for people and scripts."""
    goal = supervisor.goal
    status = {
        "lifecycle": lifecycle,
        "mode": decision.mode,
        "problem": decision.problem,
        "detail": decision.detail,
        "goal": None if goal is None else goal.kind,
        "goal_error": supervisor.goal_error(),
        "paused": supervisor.paused,
        "limited": [] if decision.step is None else list(decision.step.command.limited),
        "rejected": dict(rejected),
    }
    return String(data=json.dumps(status))


def path_message(step: ControlStep, layout: Layout, frame_id: str, stamp: Time) -> MarkerArray | None:
    """``~/planned_path``: the plan's imagined tool-tip path (None when the model does not imagine one)."""
    if "ee_pos" not in layout.names or step.plan is None:
        return None
    path = Marker(ns="imagined_ee_path", id=0, type=Marker.LINE_STRIP, action=Marker.ADD)
    path.header.frame_id = frame_id
    path.header.stamp = stamp
    path.scale.x = 0.005
    path.color.g, path.color.b, path.color.a = 0.8, 1.0, 1.0
    path.pose.orientation.w = 1.0
    path.points = [point(p) for p in step.plan.features[:, layout.slice("ee_pos")]]
    return MarkerArray(markers=[path])
