"""Bags of arm runs: written and read back without ROS, and bad logs refused with a clear reason."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from calibration.bags import BagWriter, read_goals, read_joint_log, typestore
from calibration.joint_log import BadLogError, CommandMessage, MeasuredStates
from calibration.synthetic import SyntheticRun, write_run_bag
from wm_planner.config import default_robot_spec

ROBOT = default_robot_spec()
NAMES = ROBOT.joint_names
TOPIC = "/joint_trajectory_controller/joint_trajectory"
DT = 0.002


def _run(stamps: np.ndarray | None = None) -> SyntheticRun:
    """A known run: joint i at 0.1 i + 0.05 t, a two-knot trajectory sent at 0.1 s."""
    stamps = np.arange(0.0, 1.0, 0.004) if stamps is None else stamps
    position = 0.1 * np.arange(7)[None] + 0.05 * stamps[:, None]
    velocity = np.full_like(position, 0.05)
    command = CommandMessage(
        0.1,
        values=np.array([0.1 * np.arange(7) + 0.1, 0.1 * np.arange(7) + 0.2]),
        times=np.array([0.2, 0.4]),
        velocities=np.zeros((2, 7)),
    )
    return SyntheticRun(MeasuredStates(stamps + 1.0, position, velocity), _shifted(command, 1.0))


def _shifted(command: CommandMessage, by: float) -> CommandMessage:
    return CommandMessage(command.stamp + by, command.values, command.times, command.velocities)


def test_a_run_reads_back_on_one_grid(tmp_path: Path):
    bag = write_run_bag(_run(), tmp_path / "run", NAMES, command_topic=TOPIC)
    log = read_joint_log(bag, NAMES, dt=DT)
    assert log.dt == pytest.approx(DT)
    assert log.time[0] == 0.0 and log.duration == pytest.approx(0.996 - 0.1, abs=DT)
    # Measurements interpolated onto the grid, which starts at the command (1.1 s).
    t = 1.1 + log.time - 1.0
    np.testing.assert_allclose(log.position, 0.1 * np.arange(7)[None] + 0.05 * t[:, None], atol=1e-9)
    np.testing.assert_allclose(log.velocity, 0.05)
    # The setpoint starts at the measured position and reaches the knots at 0.2 s and 0.4 s after the command.
    np.testing.assert_allclose(log.command[0], log.position[0], atol=1e-12)
    for after, knot in ((0.2, 0), (0.4, 1)):
        i = round(after / DT)
        np.testing.assert_allclose(log.command[i], 0.1 * np.arange(7) + 0.1 * (knot + 1), atol=1e-9)
    np.testing.assert_allclose(log.command[-1], 0.1 * np.arange(7) + 0.2, atol=1e-12)


def test_a_trajectory_stamped_ahead_of_its_arrival_blends_from_the_arrival(tmp_path: Path):
    on_time = _run()
    early = SyntheticRun(on_time.states, replace(on_time.command, received=on_time.command.stamp - 0.3))
    logs = [
        read_joint_log(write_run_bag(run, tmp_path / name, NAMES, command_topic=TOPIC), NAMES, dt=DT)
        for run, name in ((on_time, "on_time"), (early, "early"))
    ]
    # Both grids start at the stamp and reach the knots 0.2 s and 0.4 s after it, but the early one has
    # been under way since it arrived, as joint_trajectory_controller does with a future start time.
    assert logs[0].time[0] == logs[1].time[0] == 0.0
    for after, knot in ((0.2, 0), (0.4, 1)):
        i = round(after / DT)
        for log in logs:
            np.testing.assert_allclose(log.command[i], 0.1 * np.arange(7) + 0.1 * (knot + 1), atol=1e-9)
    np.testing.assert_allclose(logs[0].command[0], logs[0].position[0], atol=1e-12)
    assert np.all(logs[1].command[0] - logs[1].position[0] > 1e-3)


def test_joint_states_in_another_order_are_matched_by_name(tmp_path: Path):
    store = typestore()
    js, header, stamp_t = (
        store.types["sensor_msgs/msg/JointState"],
        store.types["std_msgs/msg/Header"],
        store.types["builtin_interfaces/msg/Time"],
    )
    order = [6, 0, 5, 1, 4, 2, 3]
    with BagWriter(tmp_path / "bag") as bag:
        bag.write(
            TOPIC.replace(
                "joint_trajectory_controller/joint_trajectory", "forward_position_controller/commands"
            ),
            "std_msgs/msg/Float64MultiArray",
            1_000_000_000,
            store.types["std_msgs/msg/Float64MultiArray"](
                layout=store.types["std_msgs/msg/MultiArrayLayout"](dim=[], data_offset=0),
                data=np.arange(7, dtype=np.float64),
            ),
        )
        for k in range(100):
            q = np.arange(7) * 0.01 + k * 1e-3
            msg = js(
                header=header(stamp=stamp_t(sec=1, nanosec=k * 10_000_000), frame_id=""),
                name=[NAMES[i] for i in order],
                position=q[order],
                velocity=np.zeros(7),
                effort=np.zeros(0),
            )
            bag.write("/joint_states", "sensor_msgs/msg/JointState", 1_000_000_000 + k * 10_000_000, msg)
    log = read_joint_log(tmp_path / "bag", NAMES, dt=DT)
    np.testing.assert_allclose(log.position[0], np.arange(7) * 0.01, atol=1e-12)
    np.testing.assert_allclose(log.command[-1], np.arange(7))  # a forward command holds its position


def test_goals_are_listed_in_time_order(tmp_path: Path):
    store = typestore()
    pose_t = store.types["geometry_msgs/msg/PoseStamped"]
    header, stamp_t = store.types["std_msgs/msg/Header"], store.types["builtin_interfaces/msg/Time"]
    pose, point, quat = (store.types[f"geometry_msgs/msg/{n}"] for n in ("Pose", "Point", "Quaternion"))
    with BagWriter(tmp_path / "bag") as bag:
        for k, xyz in enumerate(([0.4, 0.1, 0.3], [0.5, -0.1, 0.2])):
            msg = pose_t(
                header=header(stamp=stamp_t(sec=0, nanosec=0), frame_id="world"),
                pose=pose(position=point(*xyz), orientation=quat(0.0, 0.0, 0.0, 1.0)),
            )
            bag.write("/planner_node/goal", "geometry_msgs/msg/PoseStamped", (2 - k) * 10**9, msg)
    goals = read_goals(tmp_path / "bag")
    assert [g.time for g in goals] == [1.0, 2.0]
    np.testing.assert_allclose(goals[0].value, [0.5, -0.1, 0.2])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("missing_states", "no topic /joint_states"),
        ("renamed_joint", "none of its 250 messages carries the robot's joints"),
        ("gap", "no message for"),
        ("backwards", "not monotonic"),
        ("missing_bag", "no such bag"),
    ],
)
def test_bad_logs_are_refused_naming_the_bag_and_topic(tmp_path: Path, change: str, message: str):
    stamps = np.arange(0.0, 1.0, 0.004)
    if change == "gap":
        stamps = np.r_[stamps[:100], stamps[150:] + 0.2]
    if change == "backwards":
        stamps = stamps.copy()
        stamps[120] = stamps[50]
    names = tuple("elbow" if n == "joint3" else n for n in NAMES) if change == "renamed_joint" else NAMES
    run = _run(stamps)
    bag = tmp_path / "run"
    if change == "missing_states":
        with BagWriter(bag) as writer:
            writer.write(
                "/other", "std_msgs/msg/String", 1, typestore().types["std_msgs/msg/String"](data="x")
            )
    elif change != "missing_bag":
        write_run_bag(run, bag, names, command_topic=TOPIC)
    with pytest.raises(BadLogError, match=message) as error:
        read_joint_log(bag, NAMES, dt=DT)
    assert str(bag) in str(error.value)
    if change in ("gap", "backwards", "renamed_joint"):
        assert "/joint_states" in str(error.value)
