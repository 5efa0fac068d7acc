"""The joint-state input and its QoS: reliable as joint_state_broadcaster publishes, or best-effort as
many drivers do.

A reliable reader never hears a best-effort writer (DDS reports the pair as incompatible), while a
best-effort reader hears both but, after a driver restart in testing, lost every other state: a loss no
watchdog timeout can tell from an outage. So ``auto`` reads reliably unless a best-effort publisher is
there (at configure, or when DDS reports the mismatch later).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState

__all__ = ["RELIABILITY_MODES", "JointStateInput", "check_reliability"]

RELIABILITY_MODES = ("auto", "reliable", "best_effort")


def check_reliability(params: dict[str, Any]) -> None:
    mode = params["joint_states_reliability"]
    if mode not in RELIABILITY_MODES:
        raise ValueError(f"joint_states_reliability must be one of {list(RELIABILITY_MODES)}, got {mode!r}")


class JointStateInput:
    """``node``'s subscription to ``joint_states_topic`` (``params``), calling ``callback`` with each
    message and ``count(reason)`` when a publisher's QoS does not match."""

    def __init__(
        self,
        node: Node,
        params: dict[str, Any],
        callback: Callable[[JointState], None],
        count: Callable[[str], object],
    ) -> None:
        self.node, self.callback, self.count = node, callback, count
        self.topic, self.mode = params["joint_states_topic"], params["joint_states_reliability"]
        self.depth = params["joint_states_depth"]
        publishers = node.get_publishers_info_by_topic(self.topic)
        seen = any(p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT for p in publishers)
        self.subscription = self._subscribe(
            best_effort=self.mode == "best_effort" or (self.mode == "auto" and seen)
        )

    def _subscribe(self, *, best_effort: bool) -> Any:
        self.best_effort = best_effort
        if best_effort and self.mode == "auto":
            self.node.get_logger().warning(f"a best-effort publisher on {self.topic}: listening best-effort")
        policy = ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE
        return self.node.create_subscription(
            JointState,
            self.topic,
            self.callback,
            QoSProfile(depth=self.depth, reliability=policy),
            event_callbacks=SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible),
        )

    def _on_incompatible(self, event: Any) -> None:
        self.count("incompatible_qos")
        if self.best_effort:
            return
        if self.mode != "auto":
            self.node.get_logger().error(
                f"a publisher on {self.topic} has QoS incompatible with joint_states_reliability="
                f"{self.mode!r}: its joint states never arrive"
            )
            return

        # Replaced from a one-shot timer: a subscription is not destroyed inside its own event callback.
        def replace() -> None:
            self.node.destroy_timer(timer)
            if self.subscription is not None and not self.best_effort:
                self.node.destroy_subscription(self.subscription)
                self.subscription = self._subscribe(best_effort=True)

        timer = self.node.create_timer(0.0, replace)

    def destroy(self) -> None:
        if self.subscription is not None:
            self.node.destroy_subscription(self.subscription)
            self.subscription = None
