"""What the planner node publishes from the control loop's decisions: commands in the configured
interface, ``~/status`` on every change (and periodically), ``~/planned_path`` at its own rate."""

from __future__ import annotations

from typing import Any

from rclpy.lifecycle import LifecycleNode
from std_msgs.msg import Float64MultiArray, String
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import MarkerArray

from wm_planner.control import ControlStep, Decision, Supervisor
from wm_planner.data.layout import Layout
from wm_planner_ros.messages import forward_command, trajectory_message
from wm_planner_ros.telemetry import Telemetry, path_message, status_message
from wm_planner_ros.topics import command_topic

__all__ = ["Outputs"]


class Outputs:
    """The node's lifecycle publishers and when each publishes (``params``: the node's parameters)."""

    def __init__(
        self,
        node: LifecycleNode,
        params: dict[str, Any],
        joint_names: tuple[str, ...],
        feature_layout: Layout,
    ) -> None:
        self.node = node
        self.trajectory = params["command_interface"] == "trajectory"
        self.topic = command_topic(params["command_interface"], params["controller_name"])
        kind = JointTrajectory if self.trajectory else Float64MultiArray
        self.commands = node.create_lifecycle_publisher(kind, self.topic, 10)
        self.path = node.create_lifecycle_publisher(MarkerArray, "~/planned_path", 1)
        self.status = node.create_lifecycle_publisher(String, "~/status", 10)
        self.params = params
        self.joint_names = joint_names
        self.feature_layout = feature_layout
        self._next_status = self._next_path = 0.0

    def destroy(self) -> None:
        for publisher in (self.commands, self.path, self.status):
            self.node.destroy_lifecycle_publisher(publisher)

    def command(self, step: ControlStep) -> None:
        if self.trajectory:
            points = self.params["trajectory_points"] or None
            self.commands.publish(trajectory_message(step.trajectory, self.joint_names, points=points))
        else:
            self.commands.publish(forward_command(step.command.position))

    def report(
        self, decision: Decision, now: float, *, lifecycle: str, supervisor: Supervisor, telemetry: Telemetry
    ) -> None:
        """Publish what ``decision`` sends and says, counting it in ``telemetry``."""
        step = decision.step
        if step is not None:
            if step.plan is not None:
                telemetry.planned(step.plan.latency_s)
            self.command(step)
            telemetry.sent(now, step.mode)
        if telemetry.decided(decision) or now >= self._next_status:
            self.status.publish(status_message(lifecycle, decision, supervisor, telemetry.rejected))
            self._next_status = now + self.params["status_period"]
        if step is not None and step.plan is not None and now >= self._next_path:
            stamp = self.node.get_clock().now().to_msg()
            path = path_message(step, self.feature_layout, self.params["frame_id"], stamp)
            if path is not None:
                self.path.publish(path)
            self._next_path = now + self.params["path_period"]
