"""rosbag2 bags in MCAP storage, read and written without a ROS install (the ``rosbags`` package).

:class:`BagWriter` writes messages given either as CDR bytes (what an rclpy subscription hands over with
``raw=True``) or as ``rosbags`` message objects. :func:`read_joint_log` turns a bag of an arm run into a
:class:`JointLog`: joint states matched by name, commands (JointTrajectory or Float64MultiArray) replayed
as the controller would have followed them, everything on one grid. :func:`read_goals` lists the goals.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from calibration.joint_log import (
    BadLogError,
    CommandMessage,
    JointLog,
    MeasuredStates,
    align,
    check_stamps,
)

__all__ = [
    "COMMAND_TYPES",
    "JOINT_STATE",
    "BagWriter",
    "Goal",
    "bag_topics",
    "read_goals",
    "read_joint_log",
    "typestore",
]

JOINT_STATE = "sensor_msgs/msg/JointState"
TRAJECTORY = "trajectory_msgs/msg/JointTrajectory"
FORWARD = "std_msgs/msg/Float64MultiArray"
POSE = "geometry_msgs/msg/PoseStamped"
COMMAND_TYPES = (TRAJECTORY, FORWARD)


def typestore():
    """Message definitions of ROS 2 Kilted, the distribution the ``ros-*`` wheels provide."""
    return get_typestore(Stores.ROS2_KILTED)


class BagWriter:
    """A rosbag2 MCAP bag being written: ``with BagWriter(path) as bag: bag.write(topic, type, t_ns, msg)``.

    ``msg`` is CDR bytes or a ``rosbags`` message object. The bag directory must not exist yet.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists():
            raise FileExistsError(f"{self.path} exists; a bag is never written over another")
        self.store = typestore()
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._connections: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    def __enter__(self) -> BagWriter:
        self._writer.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self._writer.close()

    def write(self, topic: str, msgtype: str, time_ns: int, msg: bytes | Any) -> None:
        connection = self._connections.get(topic)
        if connection is None:
            connection = self._writer.add_connection(topic, msgtype, typestore=self.store)
            self._connections[topic] = connection
        elif connection.msgtype != msgtype:
            raise ValueError(f"topic {topic} is {connection.msgtype} in this bag, not {msgtype}")
        if not isinstance(msg, bytes | bytearray | memoryview):
            msg = self.store.serialize_cdr(msg, msgtype)
        self._writer.write(connection, int(time_ns), bytes(msg))
        self.counts[topic] = self.counts.get(topic, 0) + 1


def _stamp(header: Any, log_time_ns: int) -> float:
    """A message's header stamp in seconds, or the time it was logged when unstamped."""
    stamp = header.stamp.sec + header.stamp.nanosec * 1e-9
    return stamp if stamp > 0 else log_time_ns * 1e-9


def bag_topics(path: str | Path) -> dict[str, str]:
    """``{topic: message type}`` of the bag at ``path``."""
    with _open(path) as reader:
        return {c.topic: c.msgtype for c in reader.connections}


def _open(path: str | Path) -> AnyReader:
    path = Path(path)
    if not path.exists():
        raise BadLogError(f"{path}: no such bag")
    try:
        return AnyReader([path], default_typestore=typestore())
    except Exception as error:  # rosbags raises several unrelated types for unreadable bags
        raise BadLogError(f"{path}: not a readable rosbag2 bag: {error}") from error


def _messages(reader: AnyReader, topic: str):
    connections = [c for c in reader.connections if c.topic == topic]
    for connection, log_time, raw in reader.messages(connections=connections):
        yield log_time, reader.deserialize(raw, connection.msgtype)


def _command_topic(name: str, topics: dict[str, str], requested: str | None) -> str:
    if requested is not None:
        if requested not in topics:
            raise BadLogError(f"{name}: no topic {requested}; the bag has {sorted(topics)}")
        if topics[requested] not in COMMAND_TYPES:
            raise BadLogError(f"{name}: {requested} is {topics[requested]}, not one of {list(COMMAND_TYPES)}")
        return requested
    found = sorted(t for t, kind in topics.items() if kind in COMMAND_TYPES)
    if not found:
        raise BadLogError(
            f"{name}: no command topic (JointTrajectory or Float64MultiArray); the bag has {sorted(topics)}"
        )
    if len(found) > 1:
        raise BadLogError(f"{name}: several command topics {found}; choose one")
    return found[0]


def _joint_order(name: str, topic: str, names: Sequence[str], joint_names: Sequence[str]) -> np.ndarray:
    """Indices that put a message's ``names`` in ``joint_names`` order."""
    missing = [j for j in joint_names if j not in names]
    if missing or len(set(names)) != len(names):
        raise BadLogError(
            f"{name}: topic {topic}: joint names {list(names)} do not match the robot's {list(joint_names)}"
            + (f" (missing {missing})" if missing else " (duplicates)")
        )
    return np.array([list(names).index(j) for j in joint_names])


def _read_states(name: str, reader: AnyReader, topic: str, joint_names: Sequence[str]) -> MeasuredStates:
    stamps, positions, velocities = [], [], []
    names: list[str] = []
    order = None
    for log_time, msg in _messages(reader, topic):
        if list(msg.name) != names:
            names = list(msg.name)
            order = _joint_order(name, topic, names, joint_names)
        if len(msg.position) != len(names):
            raise BadLogError(f"{name}: topic {topic}: {len(msg.position)} positions for {len(names)} joints")
        stamps.append(_stamp(msg.header, log_time))
        positions.append(np.asarray(msg.position)[order])
        velocities.append(np.asarray(msg.velocity)[order] if len(msg.velocity) == len(names) else None)
    stamps = np.array(stamps)
    check_stamps(stamps, log=name, topic=topic)
    position = np.array(positions)
    if not np.all(np.isfinite(position)):
        raise BadLogError(f"{name}: topic {topic}: non-finite joint positions")
    have_velocity = all(v is not None for v in velocities)
    return MeasuredStates(stamps, position, np.array(velocities) if have_velocity else None)


def _read_commands(
    name: str, reader: AnyReader, topic: str, msgtype: str, joint_names: Sequence[str]
) -> list[CommandMessage]:
    commands = []
    for log_time, msg in _messages(reader, topic):
        if msgtype == FORWARD:
            position = np.asarray(msg.data, dtype=np.float64)
            if len(position) != len(joint_names):
                raise BadLogError(
                    f"{name}: topic {topic}: {len(position)} values for {len(joint_names)} joints"
                )
            commands.append(CommandMessage(log_time * 1e-9, position[None]))
            continue
        order = _joint_order(name, topic, list(msg.joint_names), joint_names)
        if not msg.points:
            continue
        times = np.array([p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in msg.points])
        positions = np.array([np.asarray(p.positions)[order] for p in msg.points])
        with_velocity = all(len(p.velocities) == len(order) for p in msg.points)
        velocities = (
            np.array([np.asarray(p.velocities)[order] for p in msg.points]) if with_velocity else None
        )
        commands.append(
            CommandMessage(_stamp(msg.header, log_time), positions, times, velocities, log_time * 1e-9)
        )
    check_stamps(np.array([c.stamp for c in commands]), log=name, topic=topic)
    return commands


def read_joint_log(
    path: str | Path,
    joint_names: Sequence[str],
    *,
    dt: float,
    joint_states_topic: str = "/joint_states",
    command_topic: str | None = None,
    max_gap: float = 0.1,
) -> JointLog:
    """The arm run in the bag at ``path`` as a :class:`JointLog` on a grid of step ``dt``.

    The command topic is found by type unless given. Raises :class:`BadLogError` naming the bag and topic
    for a missing topic, joint names that differ from ``joint_names``, stamps that go backwards, or joint
    states more than ``max_gap`` seconds apart.
    """
    name = str(path)
    with _open(path) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        if joint_states_topic not in topics:
            raise BadLogError(f"{name}: no topic {joint_states_topic}; the bag has {sorted(topics)}")
        if topics[joint_states_topic] != JOINT_STATE:
            kind = topics[joint_states_topic]
            raise BadLogError(f"{name}: {joint_states_topic} is {kind}, not {JOINT_STATE}")
        commands_at = _command_topic(name, topics, command_topic)
        states = _read_states(name, reader, joint_states_topic, joint_names)
        check_stamps(states.stamps, log=name, topic=joint_states_topic, max_gap=max_gap)
        commands = _read_commands(name, reader, commands_at, topics[commands_at], joint_names)
    return align(Path(path).name, joint_names, states, commands, dt=dt)


@dataclass(frozen=True)
class Goal:
    """A goal sent during a run: its time (s), topic and value (xyz, or joint positions)."""

    time: float
    topic: str
    value: np.ndarray


def read_goals(path: str | Path) -> list[Goal]:
    """Every goal (PoseStamped, or JointState on a ``*joint_goal`` topic) in the bag, in time order."""
    goals = []
    with _open(path) as reader:
        for connection in reader.connections:
            is_pose = connection.msgtype == POSE and connection.topic.endswith("goal")
            is_joint = connection.msgtype == JOINT_STATE and connection.topic.endswith("joint_goal")
            if not (is_pose or is_joint):
                continue
            for log_time, msg in _messages(reader, connection.topic):
                if is_pose:
                    p = msg.pose.position
                    value = np.array([p.x, p.y, p.z])
                else:
                    value = np.asarray(msg.position, dtype=np.float64)
                goals.append(Goal(log_time * 1e-9, connection.topic, value))
    return sorted(goals, key=lambda g: g.time)
