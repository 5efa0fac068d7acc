"""Recording arm runs as rosbag2 MCAP bags, and playing excitation runs for system identification.

``wm-planner record`` writes the topics of a run (joint states, commands, goals, object pose) as they
arrive, in CDR as published, each logged at the recording node's clock (simulated time when the run
publishes ``/clock`` and ``--use-sim-time`` is given, as ``ros2 bag record --use-sim-time`` does).
``wm-planner excite`` moves the arm to the start pose, plays a multisine excitation through the
controller's JointTrajectory topic and records the run: the same on the sim node and on a robot.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
import time
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from wm_planner_ros.topics import CONTROLLERS, command_topic

__all__ = ["BagRecorder", "default_topics", "register_cli", "register_excite_cli", "type_name"]

_LEAD = 0.5
"""Seconds between sending the excitation and its stamped start: far more than any delivery delay."""


def default_topics() -> dict[str, Any]:
    """``{topic: message class}`` of a planner run: joint states, both command interfaces, goals, object."""
    from geometry_msgs.msg import PoseStamped
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64MultiArray
    from trajectory_msgs.msg import JointTrajectory

    return {
        "/joint_states": JointState,
        command_topic("trajectory", CONTROLLERS["trajectory"]): JointTrajectory,
        command_topic("forward", CONTROLLERS["forward"]): Float64MultiArray,
        "/planner_node/goal": PoseStamped,
        "/planner_node/joint_goal": JointState,
        "/planner_node/object_goal": PoseStamped,
        "/object_pose": PoseStamped,
    }


def type_name(kind: type) -> str:
    """``sensor_msgs/msg/JointState`` for the rclpy class ``sensor_msgs.msg.JointState``."""
    return f"{kind.__module__.split('.')[0]}/msg/{kind.__name__}"


class BagRecorder:
    """Records ``topics`` (``{topic: message class}``) of ``node`` into a new bag at ``path`` until
    :meth:`close`. ``received`` counts the messages written per topic."""

    def __init__(self, node: Any, path: str | Path, topics: Mapping[str, type]) -> None:
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        from calibration.logs.bags import BagWriter

        self.node, self.path = node, Path(path)
        self.received = dict.fromkeys(topics, 0)
        self._lock = threading.Lock()
        self._bag: BagWriter | None = BagWriter(self.path).__enter__()
        # Reliable and deep: a recorder that drops messages would make every later evaluation wrong.
        qos = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
        self._subscriptions = [
            node.create_subscription(
                kind, topic, partial(self._on_message, topic, type_name(kind)), qos, raw=True
            )
            for topic, kind in topics.items()
        ]

    def _on_message(self, topic: str, msgtype: str, data: bytes) -> None:
        with self._lock:
            if self._bag is None:
                return
            self._bag.write(topic, msgtype, self.node.get_clock().now().nanoseconds, data)
            self.received[topic] += 1

    def close(self) -> dict[str, int]:
        """Stop recording and finish the bag; returns the message count per topic."""
        for subscription in self._subscriptions:
            self.node.destroy_subscription(subscription)
        with self._lock:
            if self._bag is not None:
                self._bag.__exit__(None, None, None)
                self._bag = None
        return {t: n for t, n in self.received.items() if n}


@contextlib.contextmanager
def _recording(args: argparse.Namespace, name: str) -> Iterator[tuple[Any, BagRecorder]]:
    """A node ``name`` spun in the background, recording the run's topics into ``args.out``; yields the
    node and the recorder, and prints the summary when the recording ends."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter

    from wm_planner_ros.launcher import ros_environment

    os.environ.update(ros_environment(args.domain_id))
    import rclpy

    rclpy.init()
    node = rclpy.create_node(name, parameter_overrides=[Parameter("use_sim_time", value=args.use_sim_time)])
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, name=name, daemon=True)
    spinner.start()
    recorder = BagRecorder(node, args.out, default_topics())
    try:
        yield node, recorder
    finally:
        counts = recorder.close()
        executor.shutdown()
        # The spin thread must leave the executor's wait before the process exits; a thread still in
        # it when the interpreter ends aborts the process (std::terminate).
        spinner.join(timeout=5.0)
        node.destroy_node()
        rclpy.try_shutdown()
    print(_summary(counts, Path(args.out)))


def _summary(counts: dict[str, int], path: Path) -> str:
    listed = ", ".join(f"{t} {n}" for t, n in sorted(counts.items())) or "no messages"
    return f"recorded {sum(counts.values())} messages ({listed}) -> {path}"


def _cmd_record(args: argparse.Namespace) -> int:
    from wm_planner.progress import progress_bar

    with _recording(args, "wm_planner_recorder") as (_, recorder):
        try:
            with progress_bar(
                total=args.duration, desc="recording", unit="s", disable=args.duration is None
            ) as bar:
                start = time.monotonic()
                while args.duration is None or time.monotonic() - start < args.duration:
                    time.sleep(0.5)
                    bar.n = round(min(time.monotonic() - start, args.duration or 0.0), 1)
                    bar.set_postfix(messages=sum(recorder.received.values()))
        except KeyboardInterrupt:
            pass
    return 0


def _latest_state(node: Any, joint_names: tuple[str, ...], timeout: float) -> np.ndarray:
    from sensor_msgs.msg import JointState

    received: list[np.ndarray] = []

    def on_state(msg: JointState) -> None:
        if set(joint_names) <= set(msg.name):
            received.append(np.array([msg.position[list(msg.name).index(j)] for j in joint_names]))

    subscription = node.create_subscription(JointState, "/joint_states", on_state, 10)
    end = time.monotonic() + timeout
    while not received and time.monotonic() < end:
        time.sleep(0.05)
    node.destroy_subscription(subscription)
    if not received:
        raise RuntimeError(f"no /joint_states with joints {list(joint_names)} within {timeout:g} s")
    return received[-1]


def _approach(start: np.ndarray, goal: np.ndarray, velocity_limits: np.ndarray, dt: float):
    """A quintic move from ``start`` to ``goal`` at under a fifth of the velocity limits, at rest at both
    ends, as a :class:`~wm_planner.control.Trajectory`."""
    from wm_planner.control import Trajectory

    duration = max(2.0, float(np.max(1.875 * np.abs(goal - start) / (0.2 * velocity_limits))))
    s = np.arange(1, round(duration / dt) + 1) * dt / duration
    shape = 10 * s**3 - 15 * s**4 + 6 * s**5
    rate = (30 * s**2 - 60 * s**3 + 30 * s**4) / duration
    return Trajectory(start + shape[:, None] * (goal - start), rate[:, None] * (goal - start), dt)


def _wait_on_clock(node: Any, seconds: float) -> None:
    """Waits ``seconds`` on the node's clock: simulated time under ``use_sim_time``, so a simulator that
    runs slower than real time still finishes the motion before the recording ends."""
    end = node.get_clock().now().nanoseconds + round(seconds * 1e9)
    give_up = time.monotonic() + 3.0 * seconds + 10.0
    while node.get_clock().now().nanoseconds < end:
        if time.monotonic() > give_up:
            raise RuntimeError(
                f"the node's clock stopped: {seconds:.1f} s did not pass on it (is /clock published?)"
            )
        time.sleep(0.01)


def _cmd_excite(args: argparse.Namespace) -> int:
    from rclpy.duration import Duration
    from trajectory_msgs.msg import JointTrajectory

    from calibration.fitting.excitation import ExcitationOptions, excitation_trajectory
    from sim.robots import RobotFolder
    from wm_planner.control import Trajectory
    from wm_planner_ros.messages import trajectory_message

    folder = RobotFolder.of(args.robot)
    robot = folder.spec
    start = np.asarray(args.start if args.start else folder.home, dtype=np.float64)
    if start.shape != (robot.dof,):
        raise ValueError(f"--start: {start.size} values for the {robot.dof} joints of {robot.name}")
    excitation = excitation_trajectory(
        robot, start, options=ExcitationOptions(duration=args.duration), seed=args.seed
    )
    topic = command_topic("trajectory", args.controller)
    with _recording(args, "wm_planner_excite") as (node, _):
        publisher = node.create_publisher(JointTrajectory, topic, 10)
        q = _latest_state(node, robot.joint_names, 10.0)
        move = _approach(q, start, np.asarray(robot.velocity_limits), robot.control_period)
        # One message for the approach and the excitation: every message reaches the controller and the
        # recorder at slightly different instants, and identification can fit one such offset (as
        # latency) but not a different one per message.
        run = Trajectory(
            np.concatenate([move.positions, excitation.positions]),
            np.concatenate([move.velocities, excitation.velocities]),
            robot.control_period,
        )
        print(
            f"moving to the start pose ({len(move.positions) * run.dt:.1f} s), then exciting "
            f"({len(excitation.positions) * run.dt:.1f} s) on {topic}",
            flush=True,
        )
        message = trajectory_message(run, robot.joint_names)
        # Stamped ahead, the controller and the log agree on when the motion starts, whenever each of
        # them received the message.
        message.header.stamp = (node.get_clock().now() + Duration(seconds=_LEAD)).to_msg()
        publisher.publish(message)
        _wait_on_clock(node, _LEAD + len(run.positions) * run.dt + 0.5)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="bag directory to write (must not exist)")
    p.add_argument("--use-sim-time", action="store_true", help="log at /clock time (runs on the sim node)")
    p.add_argument(
        "--domain-id", type=int, default=None, help="ROS_DOMAIN_ID (default: ROS_DOMAIN_ID, else private)"
    )


def register_cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record", help="record joint states, commands and goals of a run as a rosbag2 MCAP bag"
    )
    _common(p)
    p.add_argument("--duration", type=float, default=None, help="seconds to record (default: until Ctrl-C)")
    p.set_defaults(func=_cmd_record)


def register_excite_cli(sub: argparse._SubParsersAction) -> None:
    from sim.robots import add_robot_option

    p = sub.add_parser(
        "excite",
        help="move to a start pose, play a multisine excitation through the trajectory controller, record it",
    )
    _common(p)
    p.add_argument("--duration", type=float, default=10.0, help="excitation length (s)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--start", type=float, nargs="+", help="start pose (rad; default: the robot's home pose)")
    add_robot_option(p)
    p.add_argument("--controller", default=CONTROLLERS["trajectory"], help="joint_trajectory_controller name")
    p.set_defaults(func=_cmd_excite)
