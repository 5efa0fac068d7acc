"""rosbag2 bags in MCAP storage, read and written without a ROS install (the ``rosbags`` package).

:class:`BagWriter` writes messages given either as CDR bytes (what an rclpy subscription hands over with
``raw=True``) or as ``rosbags`` message objects. :func:`read_joint_log` turns a bag of an arm run into a
:class:`JointLog`: joint states matched by name (mapped where the arm names its joints its own way),
commands (JointTrajectory, or Float64MultiArray positions or velocities) replayed as the controller would
have followed them, everything on one grid. :func:`read_goals` lists the goals.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from rosbags.highlevel import AnyReader
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

from calibration.logs.joint_log import (
    COMMAND_KINDS,
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
    "JointMatcher",
    "bag_topics",
    "read_goals",
    "read_joint_log",
    "read_poses",
    "resolve_command_kind",
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


def _stamp_ns(header: Any, log_time_ns: int) -> int:
    """A message's header stamp in integer nanoseconds, or the time it was logged when unstamped."""
    stamp = int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)
    return stamp if stamp > 0 else int(log_time_ns)


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


def _counts(reader: AnyReader) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in reader.connections:
        counts[c.topic] = counts.get(c.topic, 0) + c.msgcount
    return counts


def _command_topic(name: str, topics: dict[str, str], counts: dict[str, int], requested: str | None) -> str:
    """The requested command topic, or the one command topic with messages."""
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
    # A recorder subscribes to every controller's topic; only the one in use has messages.
    used = [t for t in found if counts.get(t, 0) > 0] or found
    if len(used) > 1:
        raise BadLogError(
            f"{name}: several command topics with messages {used}; choose one (--command-topic)"
        )
    return used[0]


def resolve_command_kind(name: str, topic: str, msgtype: str, declared: str | None) -> str:
    """What ``topic`` carries (see :data:`COMMAND_KINDS`): JointTrajectory is a trajectory; a
    Float64MultiArray is what ``declared`` says, else what its controller's name says (``velocity`` or
    ``position``); never a guess. Raises :class:`BadLogError` naming the topic otherwise."""
    if declared is not None and declared not in COMMAND_KINDS:
        raise ValueError(f"command kind must be one of {COMMAND_KINDS}, got {declared!r}")
    if msgtype == TRAJECTORY:
        if declared not in (None, "trajectory"):
            raise BadLogError(f"{name}: {topic} carries JointTrajectory messages, not {declared} setpoints")
        return "trajectory"
    words = {kind for kind in ("position", "velocity") if kind in topic.lower()}
    if declared == "trajectory":
        raise BadLogError(f"{name}: {topic} carries {msgtype}, not trajectories")
    if declared is not None:
        if words and declared not in words:
            raise BadLogError(
                f"{name}: {topic} was declared to carry {declared} setpoints but its name says {words.pop()}"
            )
        return declared
    if len(words) != 1:
        raise BadLogError(
            f"{name}: {topic} carries {msgtype}, which may be positions or velocities, and its name does "
            "not say which: declare the command kind (--command-kind position|velocity)"
        )
    return words.pop()


class JointMatcher:
    """Finds the robot's joints in a message's names: by name, through ``joint_map`` (logged name ->
    robot name), or, with no map, through a prefix that every logged arm joint shares (``panda_joint1``
    for ``joint1``)."""

    def __init__(self, joint_names: Sequence[str], joint_map: Mapping[str, str] | None = None) -> None:
        self.joint_names = tuple(joint_names)
        self.joint_map = dict(joint_map or {})
        unknown = sorted(set(self.joint_map.values()) - set(self.joint_names))
        if unknown:
            raise ValueError(
                f"joint map names {unknown}, which are not the robot's joints {list(joint_names)}"
            )
        self._orders: dict[tuple[str, ...], np.ndarray | None] = {}

    def order(self, names: Sequence[str]) -> np.ndarray | None:
        """Indices that put a message's ``names`` in the robot's order; None when it lacks an arm joint."""
        key = tuple(names)
        if key not in self._orders:
            self._orders[key] = self._order(key)
        return self._orders[key]

    def _order(self, names: tuple[str, ...]) -> np.ndarray | None:
        mapped = [self.joint_map.get(n, n) for n in names]
        if not self.joint_map and not set(self.joint_names) <= set(mapped):
            prefix = self._prefix(names)
            mapped = [n.removeprefix(prefix) if prefix else n for n in names]
        if not set(self.joint_names) <= set(mapped):
            return None
        if len(set(mapped)) != len(mapped):
            raise BadLogError(f"joint names {list(names)} name a joint twice")
        return np.array([mapped.index(j) for j in self.joint_names])

    def _prefix(self, names: Sequence[str]) -> str:
        first = self.joint_names[0]
        for candidate in (n[: -len(first)] for n in names if n.endswith(first) and n != first):
            if all(candidate + j in names for j in self.joint_names):
                return candidate
        return ""


def _read_states(
    name: str, reader: AnyReader, topic: str, joints: JointMatcher
) -> tuple[list[int], MeasuredStates]:
    """Joint states of the arm (stamps in ns, not yet relative) and the messages skipped."""
    stamps, positions, velocities, efforts = [], [], [], []
    skipped = 0
    for log_time, msg in _messages(reader, topic):
        order = joints.order(list(msg.name))
        if order is None:
            skipped += 1
            continue
        if len(msg.position) != len(msg.name):
            raise BadLogError(
                f"{name}: topic {topic}: {len(msg.position)} positions for {len(msg.name)} joints"
            )
        stamps.append(_stamp_ns(msg.header, log_time))
        positions.append(np.asarray(msg.position)[order])
        velocities.append(np.asarray(msg.velocity)[order] if len(msg.velocity) == len(msg.name) else None)
        efforts.append(np.asarray(msg.effort)[order] if len(msg.effort) == len(msg.name) else None)
    if not stamps:
        raise BadLogError(
            f"{name}: topic {topic}: none of its {skipped} messages carries the robot's joints "
            f"{list(joints.joint_names)}; map the logged names (--joint-map)"
        )
    position = np.array(positions)
    if not np.all(np.isfinite(position)):
        raise BadLogError(f"{name}: topic {topic}: non-finite joint positions")
    states = MeasuredStates(
        np.zeros(len(stamps)),
        position,
        np.array(velocities) if all(v is not None for v in velocities) else None,
        np.array(efforts) if all(e is not None for e in efforts) else None,
        {f"{topic}.without_arm_joints": skipped} if skipped else {},
    )
    return stamps, states


def _read_commands(
    name: str, reader: AnyReader, topic: str, msgtype: str, joints: JointMatcher
) -> list[tuple[int, int | None, CommandMessage]]:
    """``(stamp ns, received ns, command)`` with the command's times still to be made relative."""
    commands: list[tuple[int, int | None, CommandMessage]] = []
    count = len(joints.joint_names)
    for log_time, msg in _messages(reader, topic):
        if msgtype == FORWARD:
            values = np.asarray(msg.data, dtype=np.float64)
            if len(values) != count:
                raise BadLogError(f"{name}: topic {topic}: {len(values)} values for {count} joints")
            commands.append((int(log_time), None, CommandMessage(0.0, values[None])))
            continue
        order = joints.order(list(msg.joint_names))
        if order is None:
            raise BadLogError(
                f"{name}: topic {topic}: joint names {list(msg.joint_names)} do not carry the robot's "
                f"{list(joints.joint_names)}; map them (--joint-map)"
            )
        if not msg.points:
            continue
        times = np.array([p.time_from_start.sec + p.time_from_start.nanosec * 1e-9 for p in msg.points])
        positions = np.array([np.asarray(p.positions)[order] for p in msg.points])
        with_velocity = all(len(p.velocities) == len(msg.joint_names) for p in msg.points)
        velocities = (
            np.array([np.asarray(p.velocities)[order] for p in msg.points]) if with_velocity else None
        )
        commands.append(
            (
                _stamp_ns(msg.header, log_time),
                int(log_time),
                CommandMessage(0.0, positions, times, velocities),
            )
        )
    return commands


def read_joint_log(
    path: str | Path,
    joint_names: Sequence[str],
    *,
    dt: float,
    joint_states_topic: str = "/joint_states",
    command_topic: str | None = None,
    command_kind: str | None = None,
    joint_map: Mapping[str, str] | None = None,
    max_gap: float = 0.1,
) -> JointLog:
    """The arm run in the bag at ``path`` as a :class:`JointLog` on a grid of step ``dt``.

    The command topic is the one with messages unless given; its kind is declared (``command_kind``) or
    read from its type and name (:func:`resolve_command_kind`). Joint states that do not carry the arm's
    joints (a gripper's) are skipped and counted; logged joint names are mapped by ``joint_map`` or a shared
    prefix. Times are taken in integer nanoseconds from the log's first message. Raises
    :class:`BadLogError` naming the bag and topic for a missing topic, an ambiguous or mismatched command
    kind, joints that cannot be found, stamps that go backwards, or joint states more than ``max_gap``
    seconds apart.
    """
    name = str(path)
    joints = JointMatcher(joint_names, joint_map)
    with _open(path) as reader:
        topics = {c.topic: c.msgtype for c in reader.connections}
        if joint_states_topic not in topics:
            raise BadLogError(f"{name}: no topic {joint_states_topic}; the bag has {sorted(topics)}")
        if topics[joint_states_topic] != JOINT_STATE:
            kind = topics[joint_states_topic]
            raise BadLogError(f"{name}: {joint_states_topic} is {kind}, not {JOINT_STATE}")
        commands_at = _command_topic(name, topics, _counts(reader), command_topic)
        kind = resolve_command_kind(name, commands_at, topics[commands_at], command_kind)
        state_ns, states = _read_states(name, reader, joint_states_topic, joints)
        raw_commands = _read_commands(name, reader, commands_at, topics[commands_at], joints)
    if not raw_commands:
        raise BadLogError(f"{name}: topic {commands_at} has no commands")
    origin = min(state_ns[0], min(stamp for stamp, _, _ in raw_commands))
    states = replace(states, stamps=_seconds(state_ns, origin))
    commands = [
        replace(
            command,
            stamp=float(_seconds([stamp], origin)[0]),
            received=None if received is None else float(_seconds([received], origin)[0]),
        )
        for stamp, received, command in raw_commands
    ]
    check_stamps(states.stamps, log=name, topic=joint_states_topic, max_gap=max_gap)
    check_stamps(np.array([c.stamp for c in commands]), log=name, topic=commands_at)
    return align(Path(path).name, joint_names, states, commands, dt=dt, kind=kind, origin_ns=origin)


def _seconds(stamps_ns: Sequence[int], origin_ns: int) -> np.ndarray:
    """Integer nanosecond stamps as float seconds after ``origin_ns``, subtracted before converting."""
    return np.array([(s - origin_ns) for s in stamps_ns], dtype=np.int64) * 1e-9


@dataclass(frozen=True)
class Goal:
    """A goal sent during a run: its time (s; the header's stamp, else when it was logged), topic and
    value (xyz, or joint positions)."""

    time: float
    topic: str
    value: np.ndarray


def read_poses(path: str | Path, topic: str) -> tuple[np.ndarray, np.ndarray]:
    """Every PoseStamped on ``topic``: stamps (integer ns, the header's, else when logged) ``[M]`` and
    poses ``[M, 7]`` (xyz, quaternion wxyz); empty when the bag has no such topic."""
    stamps, poses = [], []
    with _open(path) as reader:
        if topic in {c.topic for c in reader.connections if c.msgtype == POSE}:
            for log_time, msg in _messages(reader, topic):
                p, o = msg.pose.position, msg.pose.orientation
                stamps.append(_stamp_ns(msg.header, log_time))
                poses.append([p.x, p.y, p.z, o.w, o.x, o.y, o.z])
    return np.array(stamps, dtype=np.int64), np.array(poses, dtype=np.float64).reshape(-1, 7)


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
                goals.append(Goal(_stamp_ns(msg.header, log_time) * 1e-9, connection.topic, value))
    return sorted(goals, key=lambda g: g.time)
