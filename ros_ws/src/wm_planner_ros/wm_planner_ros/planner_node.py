"""``planner_node``: the world-model planner as a ROS 2 lifecycle node driving a ros2_control arm.

The node translates: messages and parameters in, :class:`wm_planner.control.Supervisor` decides, its
decisions out as commands, status, diagnostics and the imagined path. What to command, and why not, is
decided there (and tested there, without DDS).

- configure: load and check the bundle against the robot, build the control loop, warm up. Any failure
  leaves the node unconfigured with one log line saying why; configure can be retried.
- activate: the loop runs at ``control_rate`` on a steady clock (a frozen simulation clock must not freeze
  the watchdog that notices it), and a watchdog checks four times a period for stale joint states.
- deactivate, shutdown: a hold is published, then the loop stops.

A rejected message is counted by reason, reported in ``/diagnostics`` and ``~/status``, and logged at
most every few seconds.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import JointState
from std_srvs.srv import SetBool, Trigger

from wm_planner.control import Decision, Goal, GoalKind, Rejected
from wm_planner_ros.messages import JointStateReader, pose_vector, seconds
from wm_planner_ros.outputs import Outputs
from wm_planner_ros.params import PLANNER_PARAMETERS, declare_parameters
from wm_planner_ros.spin import spin_node
from wm_planner_ros.stack import PlanningStack, load_stack
from wm_planner_ros.telemetry import Telemetry

__all__ = ["PlannerNode", "main"]

_SUCCESS, _FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
_LOG_EVERY_S = 5.0


class PlannerNode(LifecycleNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("planner_node", **kwargs)
        self.params = declare_parameters(self, PLANNER_PARAMETERS)
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.telemetry = Telemetry()
        self.stack: PlanningStack | None = None
        self.lifecycle = "unconfigured"
        self._inputs: list[Any] = []
        self._loop_timers: list[Any] = []
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(self.params["diagnostics_period"], self._publish_diagnostics, clock=self.steady)
        self.create_service(SetBool, "~/pause", self._on_pause)
        self.create_service(Trigger, "~/reset", self._on_reset)
        if self.params["autostart"]:
            self._autostart = self.create_timer(0.01, self._start, clock=self.steady)

    def _start(self) -> None:
        self.destroy_timer(self._autostart)
        if self.trigger_configure() == _SUCCESS:
            self.trigger_activate()

    # lifecycle ------------------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.params = {p.name: self.get_parameter(p.name).value for p in PLANNER_PARAMETERS}
        try:
            stack = load_stack(self.params)
            stack.warm_up()
        except (ValueError, OSError, RuntimeError) as error:
            self.get_logger().error(f"configure failed: {error}")
            return _FAILURE
        self.stack, self.supervisor = stack, stack.supervisor
        self.reader = JointStateReader(stack.robot.joint_names)
        self.outputs = Outputs(self, self.params, stack.robot.joint_names, stack.source.feature_layout)
        topics = self.params["joint_states_topic"], self.params["object_pose_topic"]
        # Reliable, as joint_state_broadcaster publishes: a best-effort reader lost every other state
        # after a driver restart in testing, which no watchdog timeout can tell from an outage.
        self._inputs = [
            self.create_subscription(JointState, topics[0], self._on_joint_state, 5),
            self.create_subscription(PoseStamped, topics[1], self._on_object, 10),
            self.create_subscription(PoseStamped, "~/goal", self._on_ee_goal, 10),
            self.create_subscription(JointState, "~/joint_goal", self._on_joint_goal, 10),
            self.create_subscription(PoseStamped, "~/object_goal", self._on_object_goal, 10),
        ]
        self.lifecycle = "inactive"
        self.get_logger().info(
            f"configured: {self.params['model_path']} (N={stack.source.samples}, H={stack.source.horizon}) "
            f"on {stack.provider}, commands on {self.outputs.topic}"
        )
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.supervisor.activate()
        self.telemetry.clear_windows()
        period = 1.0 / self.params["control_rate"]
        self._loop_timers = [
            self.create_timer(period, self._control_tick, clock=self.steady),
            self.create_timer(period / 4, self._watchdog_tick, clock=self.steady),
        ]
        self.lifecycle = "active"
        result = super().on_activate(state)
        self.get_logger().info(f"active: planning at {self.params['control_rate']:g} Hz")
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop()
        self.lifecycle = "inactive"
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._destroy_entities()
        self.lifecycle = "unconfigured"
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.stack is not None:
            self._stop()
            self._destroy_entities()
        self.lifecycle = "finalized"
        return super().on_shutdown(state)

    def _stop(self) -> None:
        for timer in self._loop_timers:
            self.destroy_timer(timer)
        self._loop_timers = []
        step = self.supervisor.stop()
        if step is not None:
            self.outputs.command(step)

    def _destroy_entities(self) -> None:
        self.outputs.destroy()
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._inputs, self.stack = [], None

    # inputs ---------------------------------------------------------------------------------------

    def _reject(self, source: str, error: Rejected) -> None:
        count = self.telemetry.reject(f"{source}.{error.reason}")
        message = f"rejected {source} message ({count} {error.reason} so far): {error}"
        if count == 1:  # rclpy fixes a call site's throttling at its first call: two sites
            self.get_logger().warning(message)
        else:
            self.get_logger().warning(message, throttle_duration_sec=_LOG_EVERY_S)

    def _on_joint_state(self, msg: JointState) -> None:
        try:
            q, qd = self.reader.read(msg)
            clock = self.get_clock().now().nanoseconds * 1e-9
            self.supervisor.joint_state(q, qd, seconds(msg.header.stamp), now=self._now(), clock=clock)
        except Rejected as error:
            self._reject(self.params["joint_states_topic"], error)

    def _framed_pose(self, msg: PoseStamped) -> np.ndarray:
        frame = msg.header.frame_id
        if frame and frame != self.params["frame_id"]:
            raise Rejected("wrong_frame", f"frame {frame!r}, expected {self.params['frame_id']!r}")
        return pose_vector(msg)

    def _on_object(self, msg: PoseStamped) -> None:
        try:
            self.supervisor.object_pose(self._framed_pose(msg))
        except Rejected as error:
            self._reject(self.params["object_pose_topic"], error)

    def _on_ee_goal(self, msg: PoseStamped) -> None:
        self._goal("~/goal", lambda: Goal(GoalKind.END_EFFECTOR, self._framed_pose(msg)[:3]))

    def _on_joint_goal(self, msg: JointState) -> None:
        self._goal("~/joint_goal", lambda: Goal(GoalKind.JOINTS, self.reader.read(msg)[0]))

    def _on_object_goal(self, msg: PoseStamped) -> None:
        self._goal("~/object_goal", lambda: Goal(GoalKind.OBJECT, self._framed_pose(msg)[:3]))

    def _goal(self, topic: str, read: Any) -> None:
        try:
            goal = read()
            note = self.supervisor.set_goal(goal)
        except Rejected as error:
            self._reject(topic, error)
            return
        if note:
            self.telemetry.reject(f"{topic}.clamped")
            self.get_logger().warning(note)
        self.get_logger().info(f"new {goal.kind} goal {np.round(goal.value, 4).tolist()}")

    def _on_pause(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        if self.stack is not None:
            self.supervisor.pause(bool(request.data))
        response.success = self.stack is not None
        response.message = "paused: holding" if request.data else "resumed"
        if not response.success:
            response.message = f"node is {self.lifecycle}: configure it first"
        self.get_logger().info(response.message)
        return response

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.stack is None:
            response.success, response.message = False, f"node is {self.lifecycle}: configure it first"
            return response
        self.supervisor.reset()
        response.success, response.message = True, "goal cleared, commands restart from the measured state"
        return response

    # the loop -------------------------------------------------------------------------------------

    def _now(self) -> float:
        return self.steady.now().nanoseconds * 1e-9

    def _watchdog_tick(self) -> None:
        decision = self.supervisor.watch(self._now())
        if decision is not None:
            self._report(decision, self._now())

    def _control_tick(self) -> None:
        now = self._now()
        self.telemetry.tick(now)
        self._report(self.supervisor.tick(now), now)

    def _report(self, decision: Decision, now: float) -> None:
        self.outputs.report(
            decision, now, lifecycle=self.lifecycle, supervisor=self.supervisor, telemetry=self.telemetry
        )

    def _publish_diagnostics(self) -> None:
        array = self.telemetry.diagnostics(
            None if self.stack is None else self.supervisor,
            self.lifecycle,
            self._now(),
            name=f"{self.get_name()}: world-model planner",
            hardware_id=self.params["model_path"],
            extra={
                "control_rate_hz": f"{self.params['control_rate']:g}",
                "execution_provider": "" if self.stack is None else self.stack.provider,
            },
        )
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)


def main(args: list[str] | None = None) -> int:
    return spin_node(PlannerNode, args)


if __name__ == "__main__":
    sys.exit(main())
