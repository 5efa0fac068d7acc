"""``planner_node``: the world-model planner as a ROS 2 lifecycle node driving a ros2_control arm.

- configure: load and check the bundle against the robot, build planner and safety filter, warm up.
  Any failure leaves the node unconfigured with one log line saying why; configure can be retried.
- activate: the control loop runs at ``control_rate`` on a steady clock (a frozen simulation clock must
  not freeze the watchdog that notices it). Each tick plans from the latest joint state and publishes the
  filtered command; with a stale state, no goal, a pause, or a failed plan it publishes a smooth hold.
- deactivate: a hold is published, then the loop stops.

Inputs are checked at the boundary; a rejected message is counted by reason, reported in
``/diagnostics`` and ``~/status``, and logged at most every few seconds.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PoseStamped
from rclpy.clock import Clock, ClockType
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory
from visualization_msgs.msg import Marker, MarkerArray

from wm_planner.control import ControlStep
from wm_planner.safety import StateWatchdog
from wm_planner_ros.messages import (
    InvalidMessage,
    JointStateReader,
    check_measured,
    forward_command,
    max_travel,
    point,
    pose_vector,
    seconds,
    trajectory_message,
)
from wm_planner_ros.params import PLANNER_PARAMETERS, declare_parameters
from wm_planner_ros.spin import spin_node
from wm_planner_ros.stack import PlanningStack, load_stack
from wm_planner_ros.telemetry import Telemetry
from wm_planner_ros.topics import command_topic

__all__ = ["PlannerNode", "main"]

_SUCCESS, _FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
_LOG_EVERY_S = 5.0
_STREAM_RESTART_S = 0.5


class PlannerNode(LifecycleNode):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("planner_node", **kwargs)
        self.params = declare_parameters(self, PLANNER_PARAMETERS)
        self.steady = Clock(clock_type=ClockType.STEADY_TIME)
        self.telemetry = Telemetry()
        self.stack: PlanningStack | None = None
        self.lifecycle = "unconfigured"
        self.mode, self.problem = "idle", None
        self.goal: dict[str, Any] | None = None
        self.paused = False
        self._reset_inputs()
        self._diagnostics = self.create_publisher(DiagnosticArray, "/diagnostics", 10)
        self.create_timer(self.params["diagnostics_period"], self._publish_diagnostics, clock=self.steady)
        self.create_service(SetBool, "~/pause", self._on_pause)
        self.create_service(Trigger, "~/reset", self._on_reset)
        self._outputs: list[Any] = []
        self._inputs: list[Any] = []
        self._control_timer = self._watchdog_timer = None
        if self.params["autostart"]:
            self._autostart = self.create_timer(0.01, self._start, clock=self.steady)

    def _reset_inputs(self) -> None:
        self.state: tuple[np.ndarray, np.ndarray] | None = None
        self.last_stamp: float | None = None
        self.object_pose: np.ndarray | None = None
        self.watchdog: StateWatchdog | None = None
        self._anchored = False

    def _start(self) -> None:
        self.destroy_timer(self._autostart)
        if self.trigger_configure() == _SUCCESS:
            self.trigger_activate()

    # lifecycle ------------------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.params = {p.name: self.get_parameter(p.name).value for p in PLANNER_PARAMETERS}
        try:
            if self.params["command_interface"] not in ("trajectory", "forward"):
                interface = self.params["command_interface"]
                raise ValueError(f"command_interface must be 'trajectory' or 'forward', got {interface!r}")
            stack = load_stack(self.params)
            stack.warm_up()
        except (ValueError, OSError, RuntimeError) as error:
            self.get_logger().error(f"configure failed: {error}")
            return _FAILURE
        self.stack = stack
        self.watchdog = StateWatchdog(stack.state_timeout_s)
        self.reader = JointStateReader(stack.robot.joint_names)
        self._create_entities()
        self.lifecycle = "inactive"
        self.get_logger().info(
            f"configured: {self.params['model_path']} (N={stack.model.samples}, H={stack.model.horizon}) "
            f"on {stack.provider}, commands on {self._command_topic()}"
        )
        return super().on_configure(state)

    def _command_topic(self) -> str:
        return command_topic(self.params["command_interface"], self.params["controller_name"])

    def _trajectory_interface(self) -> bool:
        return self.params["command_interface"] == "trajectory"

    def _create_entities(self) -> None:
        kind = JointTrajectory if self._trajectory_interface() else Float64MultiArray
        self._commands = self.create_lifecycle_publisher(kind, self._command_topic(), 10)
        self._path = self.create_lifecycle_publisher(MarkerArray, "~/planned_path", 1)
        self._status = self.create_lifecycle_publisher(String, "~/status", 10)
        self._outputs = [self._commands, self._path, self._status]
        self._inputs = [
            # Reliable, as joint_state_broadcaster publishes: a best-effort reader lost every other
            # state after a driver restart in testing, which no watchdog timeout can tell from an outage.
            self.create_subscription(JointState, self.params["joint_states_topic"], self._on_joint_state, 5),
            self.create_subscription(PoseStamped, self.params["object_pose_topic"], self._on_object, 10),
            self.create_subscription(PoseStamped, "~/goal", self._on_ee_goal, 10),
            self.create_subscription(JointState, "~/joint_goal", self._on_joint_goal, 10),
            self.create_subscription(PoseStamped, "~/object_goal", self._on_object_goal, 10),
        ]

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self.state is not None:
            self.stack.controller.reset(*self.state)
        self._anchored = self.state is not None
        self.telemetry.clear_windows()
        period = 1.0 / self.params["control_rate"]
        self._control_timer = self.create_timer(period, self._control_tick, clock=self.steady)
        # Staleness is checked four times a period, so the hold goes out within the timeout plus a
        # quarter period, not plus a whole one.
        self._watchdog_timer = self.create_timer(period / 4, self._watchdog_tick, clock=self.steady)
        self._next_status = self._next_path = 0.0
        self.lifecycle = "active"
        result = super().on_activate(state)
        self.get_logger().info(f"active: planning at {self.params['control_rate']:g} Hz")
        return result

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_timers()
        self._publish(self.stack.controller.hold("deactivated"))
        self.lifecycle = "inactive"
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._destroy_entities()
        self.stack, self.goal = None, None
        self.lifecycle = "unconfigured"
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if self._control_timer is not None:
            self._stop_timers()
            self._publish(self.stack.controller.hold("shutting down"))
        self._destroy_entities()
        self.lifecycle = "finalized"
        return super().on_shutdown(state)

    def _destroy_entities(self) -> None:
        for publisher in self._outputs:
            self.destroy_lifecycle_publisher(publisher)
        for subscription in self._inputs:
            self.destroy_subscription(subscription)
        self._outputs, self._inputs = [], []
        self._reset_inputs()

    # inputs ---------------------------------------------------------------------------------------

    def _reject(self, source: str, error: InvalidMessage | ValueError) -> None:
        reason = getattr(error, "reason", "invalid")
        count = self.telemetry.reject(f"{source}.{reason}")
        message = f"rejected {source} message ({count} {reason} so far): {error}"
        if count == 1:
            self.get_logger().warning(message)
        else:
            self.get_logger().warning(message, throttle_duration_sec=_LOG_EVERY_S)

    def _on_joint_state(self, msg: JointState) -> None:
        try:
            q, qd = self.reader.read(msg)
            check_measured(self.stack.robot, q, qd)
            stamp = self._check_stamp(msg)
            self._check_continuous(q, stamp)
        except InvalidMessage as error:
            self._reject(self.params["joint_states_topic"], error)
            return
        self.last_stamp = stamp
        self.state = (q, np.zeros_like(q) if qd is None else qd)
        self.watchdog.feed(self._now())
        if not self._anchored and self.lifecycle == "active":
            self.stack.controller.reset(*self.state)
            self._anchored = True

    def _check_stamp(self, msg: JointState) -> float:
        stamp = seconds(msg.header.stamp)
        if stamp <= 0.0:
            raise InvalidMessage("unstamped", "header.stamp is zero")
        if self._in_stream() and stamp < self.last_stamp:
            raise InvalidMessage("out_of_order", f"stamp {stamp:.4f} s is older than {self.last_stamp:.4f} s")
        lead = stamp - self.get_clock().now().nanoseconds * 1e-9
        if lead > self.params["max_stamp_lead"]:
            raise InvalidMessage("future_stamp", f"stamp is {lead:.3f} s ahead of this node's clock")
        return stamp

    def _in_stream(self) -> bool:
        """Whether the next state continues the last one. Only after a real outage (a restarted driver
        or simulation, whose clock may start again from zero) may a stream begin afresh; a brief gap,
        or a flood of other messages delaying this node, must not let an old or forged state in."""
        return self.last_stamp is not None and self.watchdog.age(self._now()) < _STREAM_RESTART_S

    def _check_continuous(self, q: np.ndarray, stamp: float) -> None:
        if not self._in_stream():
            return
        reach = max_travel(self.stack.robot, stamp - self.last_stamp)
        jump = np.abs(q - self.state[0])
        if np.any(jump > reach):
            raise InvalidMessage(
                "jump", f"joints moved {np.round(jump, 3).tolist()} rad in {stamp - self.last_stamp:.3f} s"
            )

    def _check_frame(self, msg: PoseStamped) -> None:
        frame = msg.header.frame_id
        if frame and frame != self.params["frame_id"]:
            raise InvalidMessage("wrong_frame", f"frame {frame!r}, expected {self.params['frame_id']!r}")

    def _on_object(self, msg: PoseStamped) -> None:
        try:
            self._check_frame(msg)
            self.object_pose = pose_vector(msg)
        except InvalidMessage as error:
            self._reject(self.params["object_pose_topic"], error)

    def _on_ee_goal(self, msg: PoseStamped) -> None:
        try:
            self._check_frame(msg)
            goal, note = self.stack.goals.end_effector(pose_vector(msg)[:3])
        except ValueError as error:
            self._reject("~/goal", error)
            return
        self._set_goal("end_effector", goal, self.stack.ee_goal(goal), note)

    def _on_joint_goal(self, msg: JointState) -> None:
        try:
            goal, note = self.stack.goals.joints(self.reader.joint_goal(msg))
        except ValueError as error:
            self._reject("~/joint_goal", error)
            return
        self._set_goal("joints", goal, self.stack.joint_goal(goal), note)

    def _on_object_goal(self, msg: PoseStamped) -> None:
        try:
            self._check_frame(msg)
            goal = pose_vector(msg)[:3]
        except ValueError as error:
            self._reject("~/object_goal", error)
            return
        self._set_goal("object", goal, self.stack.object_goal(goal), "")

    def _set_goal(self, kind: str, value: np.ndarray, cost: Any, note: str) -> None:
        if note:
            self.telemetry.reject(f"{kind}_goal.clamped")
            self.get_logger().warning(note)
        self.goal = {"kind": kind, "value": value}
        self.stack.controller.set_goal(cost)
        self.get_logger().info(f"new {kind} goal {np.round(value, 4).tolist()}")

    def _on_pause(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        self.paused = bool(request.data)
        response.success = True
        response.message = "paused: holding" if self.paused else "resumed"
        self.get_logger().info(response.message)
        return response

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.stack is None:
            response.success, response.message = False, f"node is {self.lifecycle}: configure it first"
            return response
        self.goal = None
        self.stack.controller.set_goal(None)
        if self.state is not None:
            self.stack.controller.reset(*self.state)
        response.success, response.message = True, "goal cleared, commands restart from the measured state"
        return response

    # control loop ---------------------------------------------------------------------------------

    def _now(self) -> float:
        return self.steady.now().nanoseconds * 1e-9

    def _stop_timers(self) -> None:
        self.destroy_timer(self._control_timer)
        self.destroy_timer(self._watchdog_timer)
        self._control_timer = self._watchdog_timer = None

    def _watchdog_tick(self) -> None:
        if self._anchored and self.problem != "joint states stale" and self.watchdog.stale(self._now()):
            self._step(self._now(), between_periods=True)

    def _control_tick(self) -> None:
        now = self._now()
        self.telemetry.tick(now)
        self._step(now)

    def _step(self, now: float, *, between_periods: bool = False) -> None:
        """Decide and publish this period's command (also called early by the watchdog, between periods)."""
        if not self._anchored:
            # Without a measured state there is nothing safe to command, not even a hold.
            self._publish_idle(now, "waiting for joint states")
            return
        step = self._decide(now, between_periods)
        if step is None:
            return
        if step.plan is not None:
            self.telemetry.planned(step.plan.latency_s)
        self.telemetry.stepped(step.mode)
        self._publish(step)
        changed = (step.mode, step.problem) != (self.mode, self.problem)
        self.mode, self.problem = step.mode, step.problem
        if changed or now >= self._next_status:
            self._publish_status(step)
            self._next_status = now + self.params["status_period"]
        if step.plan is not None and now >= self._next_path:
            self._publish_path(step)
            self._next_path = now + self.params["path_period"]

    def _publish_idle(self, now: float, problem: str) -> None:
        if (self.mode, self.problem) != ("idle", problem) or now >= self._next_status:
            self.mode, self.problem = "idle", problem
            status = {"lifecycle": self.lifecycle, "mode": self.mode, "problem": self.problem}
            self._status.publish(String(data=json.dumps(status)))
            self._next_status = now + self.params["status_period"]

    def _decide(self, now: float, between_periods: bool) -> ControlStep | None:
        """This period's step; None when there is nothing to send."""
        controller = self.stack.controller
        if self.watchdog.stale(now):
            if controller.filter.at_rest:
                # The arm was brought to rest; repeating that command could only do harm if the
                # driver came back elsewhere (restarted, or the arm moved by hand).
                self._publish_idle(now, "joint states stale")
                return None
            # Between periods the commands' timeline must not advance: each early hold would put the
            # commands a period further ahead of the arm, and a flickering stream re-anchored it.
            stale = controller.brake if between_periods else controller.hold
            return stale("joint states stale")
        if self.paused:
            return controller.hold("paused")
        q, qd = self.state
        pose = self.object_pose if self.object_pose is not None else self.stack.object_default_pose
        return controller.step(self.stack.observations.build(q, qd, pose))

    def _publish(self, step: ControlStep) -> None:
        if self._trajectory_interface():
            points = self.params["trajectory_points"] or None
            msg = trajectory_message(step.trajectory, self.stack.robot.joint_names, points=points)
            msg.header.frame_id = ""
            self._commands.publish(msg)
        else:
            self._commands.publish(forward_command(step.command.position))

    def _goal_error(self) -> float | None:
        if self.goal is None or self.state is None:
            return None
        q = self.state[0]
        if self.goal["kind"] == "joints":
            return float(np.max(np.abs(q - self.goal["value"])))
        if self.goal["kind"] == "end_effector":
            return float(np.linalg.norm(self.stack.observations.tool_tip(q) - self.goal["value"]))
        if self.object_pose is None:
            return None
        return float(np.linalg.norm(self.object_pose[:2] - self.goal["value"][:2]))

    def _publish_status(self, step: ControlStep) -> None:
        status = {
            "lifecycle": self.lifecycle,
            "mode": step.mode,
            "problem": step.problem,
            "goal": None if self.goal is None else self.goal["kind"],
            "goal_error": self._goal_error(),
            "paused": self.paused,
            "limited": list(step.command.limited),
            "rejected": dict(self.telemetry.rejected),
        }
        self._status.publish(String(data=json.dumps(status)))

    def _publish_path(self, step: ControlStep) -> None:
        layout = self.stack.model.meta.feature_layout
        if "ee_pos" not in layout.names:
            return
        path = Marker(ns="imagined_ee_path", id=0, type=Marker.LINE_STRIP, action=Marker.ADD)
        path.header.frame_id = self.params["frame_id"]
        path.header.stamp = self.get_clock().now().to_msg()
        path.scale.x = 0.005
        path.color.g, path.color.b, path.color.a = 0.8, 1.0, 1.0
        path.pose.orientation.w = 1.0
        path.points = [point(p) for p in step.plan.features[:, layout.slice("ee_pos")]]
        self._path.publish(MarkerArray(markers=[path]))

    def _publish_diagnostics(self) -> None:
        level, message = self._health()
        values = {
            "lifecycle": self.lifecycle,
            "mode": self.mode,
            "problem": self.problem or "",
            "loop_rate_hz": f"{self.telemetry.loop_rate_hz():.2f}",
            "control_rate_hz": f"{self.params['control_rate']:g}",
            "plan_latency_p50_ms": f"{self.telemetry.latency_ms(50):.2f}",
            "plan_latency_p99_ms": f"{self.telemetry.latency_ms(99):.2f}",
            "execution_provider": self.stack.provider if self.stack else "",
            "state_age_ms": f"{1000 * self.watchdog.age(self._now()):.1f}" if self.watchdog else "inf",
        }
        if self.stack is not None:
            controller = self.stack.controller
            values |= {
                "deadline_misses": str(controller.fallback.deadline_misses),
                "invalid_plans": str(controller.fallback.invalid_plans),
                "fallbacks": str(controller.fallback.fallbacks),
                "reanchors": str(controller.reanchors),
                "stale_state_events": str(self.watchdog.stale_events),
            }
        values |= {f"ticks_{mode}": str(n) for mode, n in sorted(self.telemetry.modes.items())}
        values |= {f"rejected_{reason}": str(n) for reason, n in sorted(self.telemetry.rejected.items())}
        status = DiagnosticStatus(
            level=level,
            name=f"{self.get_name()}: world-model planner",
            message=message,
            hardware_id=self.params["model_path"],
            values=[KeyValue(key=k, value=v) for k, v in values.items()],
        )
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self._diagnostics.publish(array)

    def _health(self) -> tuple[bytes, str]:
        if self.lifecycle != "active":
            return DiagnosticStatus.WARN, f"{self.lifecycle}"
        if self.problem not in (None, "no goal"):
            return DiagnosticStatus.WARN, f"{self.mode}: {self.problem}"
        return DiagnosticStatus.OK, self.mode


def main(args: list[str] | None = None) -> int:
    return spin_node(PlannerNode, args)


if __name__ == "__main__":
    sys.exit(main())
