"""``planner_node``: the world-model planner as a ROS 2 lifecycle node driving a ros2_control arm.

The node translates: messages and parameters in, :class:`wm_planner.control.Supervisor` decides, its
decisions out as commands, status, diagnostics and the imagined path. What to command, and why not, is
decided there (and tested there, without DDS).

- configure: load and check the bundle against the robot, build the control loop, warm up. Any failure
  leaves the node unconfigured with one log line saying why; configure can be retried.
- activate: the loop runs at ``control_rate`` on its own thread and a steady clock
  (:class:`wm_planner.control.LoopRunner`), so a plan never delays a joint state and a frozen simulation
  clock cannot freeze the watchdog that notices it. Inputs are read here, on the executor's thread, and
  handed to the loop, which applies them before its next decision.
- deactivate, shutdown, error: a hold is published, then the loop stops.

Planner, safety and loop parameters take effect at once, also while active; the others are refused
while configured. A rejected message is counted by reason, reported in ``/diagnostics`` and
``~/status``, and logged at most every few seconds.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from rcl_interfaces.msg import SetParametersResult
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from wm_planner.control import Decision, Goal, GoalKind, LoopRunner, Rejected, Supervisor
from wm_planner_ros.description import DESCRIPTION_QOS, DESCRIPTION_TOPIC, needs_description
from wm_planner_ros.frames import FrameTree
from wm_planner_ros.messages import JointStateReader, pose_vector, seconds
from wm_planner_ros.outputs import Outputs
from wm_planner_ros.params import PLANNER_PARAMETERS, declare_parameters, live
from wm_planner_ros.qos import JointStateInput, check_reliability
from wm_planner_ros.spin import spin_node
from wm_planner_ros.stack import PlanningStack, load_stack, retune_stack
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
        self.configure_error = ""
        """Why the last configure failed ("" when it did not), in /diagnostics for those not reading logs."""
        self._inputs: list[Any] = []
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(self.params["diagnostics_period"], self._publish_diagnostics, clock=self.steady)
        self.create_service(SetBool, "~/pause", self._on_pause)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self._description = ""
        self.create_subscription(String, DESCRIPTION_TOPIC, self._on_description, DESCRIPTION_QOS)
        if self.params["autostart"]:
            self._started = self.steady.now().nanoseconds * 1e-9
            self._await_description = not self.params["robot_description"] and needs_description(
                self.params["model_path"]
            )
            self._autostart = self.create_timer(0.01, self._start, clock=self.steady)

    def _on_description(self, msg: String) -> None:
        self._description = msg.data

    def _start(self) -> None:
        """Configure and activate; a bundle of a URDF-described robot first waits (a while) for the
        description, which robot_state_publisher may publish a moment after this node starts."""
        waited = self.steady.now().nanoseconds * 1e-9 - self._started
        if (
            self._await_description
            and not self._description
            and waited < self.params["robot_description_wait"]
        ):
            return
        self.destroy_timer(self._autostart)
        if self.trigger_configure() == _SUCCESS:
            self.trigger_activate()

    # lifecycle ------------------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.params = {p.name: self.get_parameter(p.name).value for p in PLANNER_PARAMETERS}
        if not self.params["robot_description"] and self._description:
            self.params["robot_description"] = self._description
            self.get_logger().info(f"robot from {DESCRIPTION_TOPIC}")
        try:
            check_reliability(self.params)
            self.frames = FrameTree([t for t in self.params["static_transforms"].split(";") if t.strip()])
            stack = load_stack(self.params)
            stack.warm_up()
        except (ValueError, OSError, RuntimeError) as error:
            self.configure_error = f"configure failed: {error}"
            self.get_logger().error(self.configure_error)
            return _FAILURE
        self.configure_error = ""
        self.stack = stack
        self.loop = LoopRunner(
            stack.supervisor,
            1.0 / self.params["control_rate"],
            report=self._report,
            rejected=self._reject,
            clock=self._now,
        )
        self.reader = JointStateReader(stack.robot.joint_names)
        self.outputs = Outputs(self, self.params, stack.robot.joint_names, stack.source.feature_layout)
        topics = self.params["joint_states_topic"], self.params["object_pose_topic"]
        self.joint_states = JointStateInput(
            self, self.params, self._on_joint_state, lambda why: self.telemetry.reject(f"{topics[0]}.{why}")
        )
        self._inputs = [
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
        self.loop.call(Supervisor.activate)
        self.telemetry.clear_windows()
        self.lifecycle = "active"
        result = super().on_activate(state)
        self.loop.start()
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
        self._release()
        self.lifecycle = "finalized"
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """A transition raised: hold, release everything and go back to unconfigured (configure again)."""
        self.get_logger().error(f"error while {self.lifecycle}: holding, back to unconfigured")
        self._release()
        self.lifecycle = "unconfigured"
        return _SUCCESS

    def _release(self) -> None:
        if self.stack is not None:
            self._stop()
            self._destroy_entities()

    def destroy_node(self) -> None:
        """Stop the control loop and send its last command (a smooth stop) before the node goes."""
        self._release()
        super().destroy_node()

    def _stop(self) -> None:
        self.loop.stop()
        step = self.loop.call(Supervisor.stop)
        if step is not None:
            self.outputs.command(step)

    def _destroy_entities(self) -> None:
        self.joint_states.destroy()
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self.outputs.destroy()
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
        topic, now = self.params["joint_states_topic"], self._now()
        try:
            q, qd = self.reader.read(msg)
        except Rejected as error:
            self._reject(topic, error)
            return
        stamp, clock = seconds(msg.header.stamp), self.get_clock().now().nanoseconds * 1e-9
        self.loop.post(topic, lambda loop: loop.joint_state(q, qd, stamp, now=now, clock=clock))

    def _framed_pose(self, msg: PoseStamped) -> np.ndarray:
        return self.frames.to_root(pose_vector(msg), msg.header.frame_id, self.params["frame_id"])

    def _on_object(self, msg: PoseStamped) -> None:
        topic = self.params["object_pose_topic"]
        try:
            pose = self._framed_pose(msg)
        except Rejected as error:
            self._reject(topic, error)
            return
        self.loop.post(topic, lambda loop: loop.object_pose(pose))

    def _on_ee_goal(self, msg: PoseStamped) -> None:
        self._goal("~/goal", lambda: Goal(GoalKind.END_EFFECTOR, self._framed_pose(msg)[:3]))

    def _on_joint_goal(self, msg: JointState) -> None:
        self._goal("~/joint_goal", lambda: Goal(GoalKind.JOINTS, self.reader.read(msg)[0]))

    def _on_object_goal(self, msg: PoseStamped) -> None:
        self._goal("~/object_goal", lambda: Goal(GoalKind.OBJECT, self._framed_pose(msg)[:3]))

    def _goal(self, topic: str, read: Any) -> None:
        try:
            goal = read()
        except Rejected as error:
            self._reject(topic, error)
            return

        def set_goal(loop: Supervisor) -> None:
            previous = loop.goal
            note = loop.set_goal(goal)
            if note:
                self.telemetry.reject(f"{topic}.clamped")
                self.get_logger().warning(note)
            replaced = "" if previous is None else f" (replaces the {previous.kind} goal)"
            self.get_logger().info(f"new {goal.kind} goal {np.round(goal.value, 4).tolist()}{replaced}")

        self.loop.post(topic, set_goal)

    def _on_pause(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        response.success = self.stack is not None
        if response.success:
            self.loop.post("~/pause", lambda loop: loop.pause(bool(request.data)))
        response.message = "paused: holding" if request.data else "resumed"
        if not response.success:
            response.message = f"node is {self.lifecycle}: configure it first"
        self.get_logger().info(response.message)
        return response

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.stack is None:
            response.success, response.message = False, f"node is {self.lifecycle}: configure it first"
            return response
        self.loop.post("~/reset", Supervisor.reset)
        response.success, response.message = True, "goal cleared, commands restart from the measured state"
        return response

    def _on_set_parameters(self, changes: list[Parameter]) -> SetParametersResult:
        """Live parameters take effect at once; others are refused while configured, with the reason."""
        stack = self.stack
        if stack is None:
            return SetParametersResult(successful=True)
        fixed = [p.name for p in changes if not live(p.name)]
        if fixed:
            why = f"take effect at configure: deactivate and clean up first (node is {self.lifecycle})"
            return SetParametersResult(successful=False, reason=f"{', '.join(fixed)} {why}")
        params = self.params | {p.name: p.value for p in changes}
        try:
            note = self.loop.call(lambda loop: retune_stack(stack, params))
        except ValueError as error:
            return SetParametersResult(successful=False, reason=str(error))
        self.params.update(params)
        self.get_logger().info(f"now in effect: {', '.join(f'{p.name}={p.value}' for p in changes)}")
        if note:
            self.get_logger().warning(note)
        return SetParametersResult(successful=True)

    # the loop -------------------------------------------------------------------------------------

    def _now(self) -> float:
        return self.steady.now().nanoseconds * 1e-9

    def _report(self, decision: Decision, now: float, period: bool) -> None:
        """On the loop's thread: publish what ``decision`` sends and says."""
        if period:
            self.telemetry.period(decision)
        self.outputs.report(
            decision, now, lifecycle=self.lifecycle, supervisor=self.loop.supervisor, telemetry=self.telemetry
        )

    def _publish_diagnostics(self) -> None:
        stack = self.stack
        array = self.telemetry.diagnostics(
            None if stack is None else stack.supervisor,
            self.lifecycle,
            self._now(),
            name=f"{self.get_name()}: world-model planner",
            hardware_id=self.params["model_path"],
            extra={
                "control_rate_hz": f"{self.params['control_rate']:g}",
                "execution_provider": "" if stack is None else stack.provider,
                "loop_overruns": "0" if stack is None else str(self.loop.overruns),
                "configure_error": self.configure_error,
            },
        )
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)


def main(args: list[str] | None = None) -> int:
    return spin_node(PlannerNode, args)


if __name__ == "__main__":
    sys.exit(main())
