"""Translation between ROS messages and the library's arrays, with every incoming message checked.

A message that fails a check raises :class:`wm_planner.control.Rejected` saying which field is wrong;
nodes count these per reason and never let them reach the planner or the arm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import Point, PoseStamped
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64MultiArray, MultiArrayDimension
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from wm_planner.control import Rejected, Trajectory, check_finite

__all__ = [
    "JointStateReader",
    "duration",
    "forward_command",
    "point",
    "pose_vector",
    "seconds",
    "trajectory_arrays",
    "trajectory_message",
]


def seconds(stamp: Time | Duration) -> float:
    return stamp.sec + 1e-9 * stamp.nanosec


def duration(t: float) -> Duration:
    ns = round(t * 1e9)
    return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


class JointStateReader:
    """Reads the configured joints out of JointState messages, by name and in any order.

    Other joints in the message (a gripper, say) are ignored. Positions are required; velocities may be
    absent (then ``None``) but if present must match the names.
    """

    def __init__(self, joint_names: Sequence[str]) -> None:
        self.joint_names = tuple(joint_names)

    def read(self, msg: JointState) -> tuple[np.ndarray, np.ndarray | None]:
        """``(positions [J], velocities [J] or None)`` in the configured joint order."""
        names = list(msg.name)
        if len(set(names)) != len(names):
            duplicated = sorted({n for n in names if names.count(n) > 1})
            raise Rejected("duplicate_joint", f"name lists {duplicated} more than once")
        if len(msg.position) != len(names):
            raise Rejected("wrong_length", f"{len(names)} names but {len(msg.position)} positions")
        if len(msg.velocity) not in (0, len(names)):
            raise Rejected("wrong_length", f"{len(names)} names but {len(msg.velocity)} velocities")
        index = {name: i for i, name in enumerate(names)}
        missing = [n for n in self.joint_names if n not in index]
        if missing:
            raise Rejected("unknown_joints", f"missing joints {missing}; got {names}")
        order = [index[n] for n in self.joint_names]
        positions = check_finite(np.asarray(msg.position)[order], "position")
        velocities = check_finite(np.asarray(msg.velocity)[order], "velocity") if len(msg.velocity) else None
        return positions, velocities


def pose_vector(msg: PoseStamped) -> np.ndarray:
    """``[x, y, z, qw, qx, qy, qz]`` of a pose, checked finite."""
    p, q = msg.pose.position, msg.pose.orientation
    return check_finite(np.array([p.x, p.y, p.z, q.w, q.x, q.y, q.z]), "pose")


def trajectory_message(
    trajectory: Trajectory, joint_names: Sequence[str], *, points: int | None = None
) -> JointTrajectory:
    """A JointTrajectory starting now (zero stamp) through the first ``points`` knots of ``trajectory``.

    When cut short, the last knot sent keeps its velocity: set ``allow_nonzero_velocity_at_trajectory_end``
    on the controller for that, or send whole trajectories (the default), which end at rest.
    """
    count = len(trajectory.positions) if points is None else min(points, len(trajectory.positions))
    msg = JointTrajectory(joint_names=list(joint_names))
    for k in range(count):
        msg.points.append(
            JointTrajectoryPoint(
                positions=trajectory.positions[k].tolist(),
                velocities=trajectory.velocities[k].tolist(),
                time_from_start=duration((k + 1) * trajectory.dt),
            )
        )
    return msg


def trajectory_arrays(
    msg: JointTrajectory, joint_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``(times [K], positions [K, J], velocities [K, J] or None)`` of a trajectory, in the configured
    joint order; checked as joint_trajectory_controller checks it."""
    names = list(msg.joint_names)
    if sorted(names) != sorted(joint_names) or len(set(names)) != len(names):
        raise Rejected("unknown_joints", f"trajectory joints {names} are not {list(joint_names)}")
    if not msg.points:
        raise Rejected("empty", "trajectory has no points")
    order = [names.index(n) for n in joint_names]
    times = np.array([seconds(p.time_from_start) for p in msg.points])
    if np.any(np.diff(times) <= 0.0) or times[0] < 0.0:
        raise Rejected("time_order", f"time_from_start must increase strictly, got {times.tolist()}")
    rows, speeds = [], []
    for k, point in enumerate(msg.points):
        if len(point.positions) != len(names):
            raise Rejected("wrong_length", f"point {k} has {len(point.positions)} positions")
        if len(point.velocities) not in (0, len(names)):
            raise Rejected("wrong_length", f"point {k} has {len(point.velocities)} velocities")
        rows.append(check_finite(np.asarray(point.positions)[order], f"points[{k}].positions"))
        if len(point.velocities):
            speeds.append(check_finite(np.asarray(point.velocities)[order], f"points[{k}].velocities"))
    if speeds and len(speeds) != len(rows):
        raise Rejected("wrong_length", "velocities given for some points only")
    return times, np.stack(rows), np.stack(speeds) if speeds else None


def forward_command(position: np.ndarray) -> Float64MultiArray:
    """A forward_command_controller position command ``[J]``."""
    msg = Float64MultiArray(data=np.asarray(position, dtype=np.float64).tolist())
    msg.layout.dim.append(MultiArrayDimension(label="joints", size=len(msg.data), stride=len(msg.data)))
    return msg


def point(xyz: np.ndarray) -> Point:
    return Point(x=float(xyz[0]), y=float(xyz[1]), z=float(xyz[2]))
