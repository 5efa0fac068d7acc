from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("rclpy")

from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from wm_planner.control import Rejected, Trajectory
from wm_planner_ros.messages import (
    JointStateReader,
    duration,
    trajectory_arrays,
    trajectory_message,
)

NAMES = ("a", "b", "c")


def state(names, positions, velocities=()) -> JointState:
    return JointState(name=list(names), position=list(positions), velocity=list(velocities))


def test_joint_states_are_matched_by_name_in_any_order_and_extra_joints_ignored() -> None:
    q, qd = JointStateReader(NAMES).read(
        state(["c", "gripper", "a", "b"], [3.0, 9.0, 1.0, 2.0], [0.3, 0, 0.1, 0.2])
    )
    assert q.tolist() == [1.0, 2.0, 3.0] and qd.tolist() == [0.1, 0.2, 0.3]
    assert JointStateReader(NAMES).read(state(NAMES, [1, 2, 3]))[1] is None


@pytest.mark.parametrize(
    ("msg", "reason"),
    [
        (state(NAMES, [1.0, math.nan, 3.0]), "non_finite"),
        (state(NAMES, [1.0, 2.0, 3.0], [0.0, math.inf, 0.0]), "non_finite"),
        (state(NAMES, [1.0, 2.0]), "wrong_length"),
        (state(NAMES, [1.0, 2.0, 3.0], [0.0]), "wrong_length"),
        (state(["a", "b", "x"], [1.0, 2.0, 3.0]), "unknown_joints"),
        (state(["a", "b", "c", "a"], [1.0, 2.0, 3.0, 4.0]), "duplicate_joint"),
    ],
)
def test_bad_joint_states_are_rejected_with_the_reason(msg: JointState, reason: str) -> None:
    with pytest.raises(Rejected) as error:
        JointStateReader(NAMES).read(msg)
    assert error.value.reason == reason


def test_trajectory_message_round_trips_with_strictly_increasing_times() -> None:
    positions = np.array([[0.1, 0.2, 0.3], [0.2, 0.3, 0.4], [0.25, 0.35, 0.45]])
    trajectory = Trajectory(positions, np.array([[1.0] * 3, [0.5] * 3, [0.0] * 3]), 0.02)
    msg = trajectory_message(trajectory, NAMES)
    times, back, velocities = trajectory_arrays(msg, ["c", "a", "b"])
    assert np.allclose(times, [0.02, 0.04, 0.06]) and np.all(np.diff(times) > 0)
    assert np.allclose(back, positions[:, [2, 0, 1]]) and np.allclose(velocities[-1], 0.0)
    assert len(trajectory_message(trajectory, NAMES, points=2).points) == 2


@pytest.mark.parametrize(("times", "reason"), [((0.02, 0.02), "time_order"), ((0.04, 0.02), "time_order")])
def test_trajectories_out_of_time_order_are_rejected(times, reason) -> None:
    msg = JointTrajectory(joint_names=list(NAMES))
    for t in times:
        msg.points.append(JointTrajectoryPoint(positions=[0.0, 0.0, 0.0], time_from_start=duration(t)))
    with pytest.raises(Rejected) as error:
        trajectory_arrays(msg, NAMES)
    assert error.value.reason == reason
