"""The other side of the planner node: send goals, call its services and lifecycle transitions, and
record what it publishes. Used by ``wm-planner ros-sim --goal`` and by the integration tests.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.srv import SetParameters
from rclpy.client import Client
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, String
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory

from wm_planner.config import default_robot_spec
from wm_planner.progress import progress_bar
from wm_planner_ros.messages import seconds

__all__ = ["GoalResult", "PlannerClient", "RecordedCommand", "drive_to_goal"]


@dataclass(frozen=True)
class RecordedCommand:
    """A command as the arm's controller received it: ``positions [K, J]`` and ``velocities [K, J]``
    (K = 1 for forward commands, with velocities unknown: NaN) at ``times [K]`` from its arrival."""

    received: float
    times: np.ndarray
    positions: np.ndarray
    velocities: np.ndarray


@dataclass
class _Record:
    commands: list[RecordedCommand] = field(default_factory=list)
    last_joint_state: tuple[float, np.ndarray] | None = None
    statuses: list[tuple[float, dict]] = field(default_factory=list)
    diagnostics: dict[str, str] | None = None


class PlannerClient:
    """A node of its own, spun in a background thread; everything recorded is read under ``lock``."""

    def __init__(
        self,
        *,
        planner: str = "/planner_node",
        command_topic: str = "/joint_trajectory_controller/joint_trajectory",
        joint_names: Sequence[str] | None = None,
        record_commands: bool = True,
    ) -> None:
        """``record_commands``: keep every command (False for long runs that only watch status)."""
        self.joint_names = list(joint_names or default_robot_spec().joint_names)
        self.node = rclpy.create_node("wm_planner_client")
        self.lock = threading.Lock()
        self.record = _Record()
        self.planner = planner
        node = self.node
        trajectory = command_topic.endswith("/joint_trajectory")
        kind = JointTrajectory if trajectory else Float64MultiArray
        on_command = self._on_trajectory if trajectory else self._on_forward
        if record_commands:
            node.create_subscription(kind, command_topic, on_command, 100)
        # Best-effort hears reliable and best-effort publishers alike.
        sensor = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
        node.create_subscription(JointState, "/joint_states", self._on_joint_state, sensor)
        node.create_subscription(String, f"{planner}/status", self._on_status, 10)
        node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics, 10)
        self.ee_goal_pub = node.create_publisher(PoseStamped, f"{planner}/goal", 10)
        self.joint_goal_pub = node.create_publisher(JointState, f"{planner}/joint_goal", 10)
        self._pause: Client = node.create_client(SetBool, f"{planner}/pause")
        self._reset: Client = node.create_client(Trigger, f"{planner}/reset")
        self._change_state: Client = node.create_client(ChangeState, f"{planner}/change_state")
        self._get_state: Client = node.create_client(GetState, f"{planner}/get_state")
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(node)
        self._thread = threading.Thread(target=self.executor.spin, name="client", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.executor.shutdown()
        self._thread.join(timeout=5.0)
        self.node.destroy_node()

    # recording -----------------------------------------------------------------------------------

    def _on_trajectory(self, msg: JointTrajectory) -> None:
        order = [list(msg.joint_names).index(n) for n in self.joint_names]
        command = RecordedCommand(
            time.monotonic(),
            np.array([seconds(p.time_from_start) for p in msg.points]),
            np.array([np.asarray(p.positions)[order] for p in msg.points]),
            np.array(
                [
                    np.asarray(p.velocities)[order] if p.velocities else np.full(len(order), np.nan)
                    for p in msg.points
                ]
            ),
        )
        with self.lock:
            self.record.commands.append(command)

    def _on_forward(self, msg: Float64MultiArray) -> None:
        positions = np.asarray(msg.data)[None]
        command = RecordedCommand(time.monotonic(), np.zeros(1), positions, np.full_like(positions, np.nan))
        with self.lock:
            self.record.commands.append(command)

    def _on_joint_state(self, msg: JointState) -> None:
        index = {n: i for i, n in enumerate(msg.name)}
        if not all(n in index for n in self.joint_names) or len(msg.position) != len(msg.name):
            return
        q = np.array([msg.position[index[n]] for n in self.joint_names])
        with self.lock:
            self.record.last_joint_state = (time.monotonic(), q)

    def _on_status(self, msg: String) -> None:
        status = json.loads(msg.data)
        with self.lock:
            self.record.statuses.append((time.monotonic(), status))

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith(self.planner.strip("/")):
                values = {kv.key: kv.value for kv in status.values}
                values["level"] = str(ord(status.level))  # a byte field
                values["message"] = status.message
                with self.lock:
                    self.record.diagnostics = values

    # reading -------------------------------------------------------------------------------------

    def commands(self) -> list[RecordedCommand]:
        with self.lock:
            return list(self.record.commands)

    def status(self) -> dict | None:
        """The latest ``~/status`` (a dict), None before the first."""
        with self.lock:
            return self.record.statuses[-1][1] if self.record.statuses else None

    def statuses(self) -> list[tuple[float, dict]]:
        """Every ``~/status`` so far with its arrival time (``time.monotonic``)."""
        with self.lock:
            return list(self.record.statuses)

    def last_joint_state_time(self) -> float | None:
        with self.lock:
            last = self.record.last_joint_state
        return None if last is None else last[0]

    def diagnostics(self) -> dict[str, str] | None:
        with self.lock:
            return self.record.diagnostics

    def joint_positions(self) -> np.ndarray | None:
        with self.lock:
            last = self.record.last_joint_state
        return None if last is None else last[1]

    def wait_for(self, condition: Callable[[], object], timeout_s: float, *, poll_s: float = 0.02) -> bool:
        """Poll ``condition`` until it holds (True) or ``timeout_s`` passes (False)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if condition():
                return True
            time.sleep(poll_s)
        return bool(condition())

    # acting --------------------------------------------------------------------------------------

    def send_ee_goal(self, xyz: Sequence[float], *, frame_id: str = "world") -> None:
        msg = PoseStamped()
        msg.header.frame_id = frame_id
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in xyz)
        msg.pose.orientation.w = 1.0
        self.ee_goal_pub.publish(msg)

    def set_parameters_result(self, **values: Any) -> list[tuple[bool, str]]:
        """Set parameters of the planner node; ``(successful, reason)`` for each."""
        client: Client = self.node.create_client(SetParameters, f"{self.planner}/set_parameters")
        request = SetParameters.Request(
            parameters=[Parameter(name, value=value).to_parameter_msg() for name, value in values.items()]
        )
        results = self._call(client, request).results
        self.node.destroy_client(client)
        return [(r.successful, r.reason) for r in results]

    def send_joint_goal(self, q: Sequence[float]) -> None:
        msg = JointState(name=self.joint_names, position=[float(v) for v in q])
        msg.header.stamp = self.node.get_clock().now().to_msg()
        self.joint_goal_pub.publish(msg)

    def _call(self, client: Client, request: object, timeout_s: float = 10.0) -> Any:
        """The service's response (a generated message type, hence Any)."""
        if not client.wait_for_service(timeout_sec=timeout_s):
            raise TimeoutError(f"service {client.srv_name} is not available")
        future = client.call_async(request)
        if not self.wait_for(future.done, timeout_s):
            raise TimeoutError(f"service {client.srv_name} did not answer in {timeout_s} s")
        return future.result()

    def pause(self, paused: bool) -> bool:
        return self._call(self._pause, SetBool.Request(data=paused)).success

    def reset(self) -> bool:
        return self._call(self._reset, Trigger.Request()).success

    def change_state(self, transition_id: int, timeout_s: float = 30.0) -> bool:
        # A request sent the moment a service is discovered can lose its reply while the reply path
        # is still being matched; a transition cannot be retried blindly, so first prove the path
        # with get_state, which can.
        self.lifecycle_state()
        request = ChangeState.Request()
        request.transition.id = transition_id
        return self._call(self._change_state, request, timeout_s).success

    def set_parameters(self, **values: Any) -> None:
        """Set parameters of the planner node; raises ``RuntimeError`` with the node's reason if refused."""
        results = self.set_parameters_result(**values)
        refused = [f"{name}: {why}" for name, (ok, why) in zip(values, results, strict=True) if not ok]
        if refused:
            raise RuntimeError(f"parameters refused: {refused}")

    def lifecycle_state(self, attempts: int = 10) -> str:
        """The planner's lifecycle state label; the query is repeated if a reply is lost."""
        for _ in range(attempts - 1):
            try:
                return self._call(self._get_state, GetState.Request(), timeout_s=2.0).current_state.label
            except TimeoutError:
                continue
        return self._call(self._get_state, GetState.Request()).current_state.label


@dataclass(frozen=True)
class GoalResult:
    reached: bool
    seconds: float
    error: float | None
    unit: str
    diagnostics: dict[str, str]

    def summary(self) -> str:
        d = self.diagnostics
        error = "unknown" if self.error is None else f"{self.error:.4f} {self.unit}"
        outcome = (
            f"goal reached in {self.seconds:.1f} s"
            if self.reached
            else f"goal not reached in {self.seconds:.1f} s"
        )
        return (
            f"{outcome} (error {error}); loop rate {d.get('loop_rate_hz', '?')} Hz, plan latency p50 "
            f"{d.get('plan_latency_p50_ms', '?')} ms / p99 {d.get('plan_latency_p99_ms', '?')} ms, "
            f"deadline misses {d.get('deadline_misses', '?')}, on {d.get('execution_provider', '?')}"
        )


class _Domain(Protocol):
    domain_id: int


def drive_to_goal(
    nodes: _Domain,
    *,
    ee_goal: Sequence[float] | None = None,
    joint_goal: Sequence[float] | None = None,
    timeout_s: float = 30.0,
    ee_tolerance: float = 0.02,
    joint_tolerance: float = 0.02,
    joint_names: Sequence[str] | None = None,
) -> GoalResult:
    """Wait for the planner to be active, send the goal and follow ``~/status`` until it is reached.

    ``nodes``: the :class:`~wm_planner_ros.launcher.NodeProcesses` whose domain this process joins;
    ``joint_names``: the robot's (default: the built-in arm's), for a joint goal.
    """
    os.environ.update({"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_DOMAIN_ID": str(nodes.domain_id)})
    rclpy.init()
    client = PlannerClient(joint_names=joint_names)
    try:

        def active() -> bool:
            return (client.status() or {}).get("lifecycle") == "active"

        def refused() -> str:
            return (client.diagnostics() or {}).get("configure_error", "")

        if not client.wait_for(lambda: active() or refused(), 60.0):
            raise RuntimeError("the planner node did not become active within 60 s (see its log above)")
        if not active():
            raise RuntimeError(f"the planner node did not start: {refused()}")
        tolerance, unit = (ee_tolerance, "m") if ee_goal is not None else (joint_tolerance, "rad")
        start = time.monotonic()
        if ee_goal is not None:
            client.send_ee_goal(ee_goal)
        elif joint_goal is not None:
            client.send_joint_goal(joint_goal)
        else:
            raise ValueError("drive_to_goal needs ee_goal or joint_goal")
        error = None
        with progress_bar(total=None, desc="to goal", unit=" status") as bar:
            while time.monotonic() - start < timeout_s:
                status = client.status() or {}
                error = status.get("goal_error")
                bar.set_postfix_str(
                    f"error {error if error is None else round(error, 4)} {unit}, {status.get('mode')}"
                )
                bar.update()
                if error is not None and status.get("goal") and error <= tolerance:
                    break
                time.sleep(0.1)
        elapsed = time.monotonic() - start
        client.wait_for(lambda: client.diagnostics() is not None, 2.0)
        reached = error is not None and error <= tolerance
        return GoalResult(reached, elapsed, error, unit, client.diagnostics() or {})
    finally:
        client.close()
        rclpy.try_shutdown()
