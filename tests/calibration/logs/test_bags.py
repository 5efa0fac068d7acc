"""Bags of arm runs: written and read back without ROS, and bad logs refused with a clear reason."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from calibration.ground_truth.synthetic import SyntheticRun, write_run_bag
from calibration.logs.bags import BagWriter, read_goals, read_joint_log, typestore
from calibration.logs.joint_log import BadLogError, CommandMessage, MeasuredStates
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
    return SyntheticRun(
        MeasuredStates(stamps + 1.0, position, velocity), [_shifted(command, 1.0)], "trajectory"
    )


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
    sent = on_time.commands[0]
    early = SyntheticRun(on_time.states, [replace(sent, received=sent.stamp - 0.3)], "trajectory")
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


# Real robots' conventions: what a bag recorded on a real arm looks like.

EPOCH_NS = 1_700_000_000_123_456_789
VELOCITY_TOPIC = "/forward_velocity_controller/commands"


def _setpoint_run(kind: str = "velocity") -> SyntheticRun:
    """States every 2 ms for 0.5 s (joint j at 0.1 j + 0.2 t, with efforts), and a setpoint per physics
    step from 0.1 s: velocities (0.2 + 0.01 j rad/s) or positions, exactly on the physics grid."""
    stamps = np.round(np.arange(0.0, 0.5, DT), 9)
    position = 0.1 * np.arange(7)[None] + 0.2 * stamps[:, None]
    states = MeasuredStates(stamps, position, np.full_like(position, 0.2), np.ones_like(position))
    times = stamps[stamps >= 0.1]
    values = 0.2 + 0.01 * np.arange(7)
    commands = [CommandMessage(float(t), (values if kind == "velocity" else values + t)[None]) for t in times]
    return SyntheticRun(states, commands, kind)


def _bag(tmp_path: Path, name: str, run: SyntheticRun, **options) -> Path:
    options = {"command_topic": VELOCITY_TOPIC} | options
    names = options.pop("names", NAMES)
    return write_run_bag(run, tmp_path / name, names, **options)


def test_epoch_stamps_read_exactly_as_stamps_at_zero(tmp_path: Path):
    # At 1.7e9 s a float second is good to 2.4e-7 s: compared as floats, a setpoint sent on a physics
    # step can land a step late. Stamps are taken as integer nanoseconds from the log's start.
    run = _setpoint_run("position")
    topic = "/forward_position_controller/commands"
    at_zero = read_joint_log(_bag(tmp_path, "zero", run, command_topic=topic), NAMES, dt=DT)
    at_epoch = read_joint_log(
        _bag(tmp_path, "epoch", run, command_topic=topic, origin_ns=EPOCH_NS), NAMES, dt=DT
    )
    assert at_zero.command_kind == at_epoch.command_kind == "position"
    np.testing.assert_allclose(at_epoch.time, at_zero.time, atol=1e-12)
    np.testing.assert_allclose(at_epoch.command, at_zero.command, atol=1e-9)
    np.testing.assert_allclose(at_epoch.position, at_zero.position, atol=1e-9)
    # Every setpoint applies from its own grid step, not the one after.
    np.testing.assert_allclose(at_epoch.command[:, 0], 0.2 + at_epoch.time + 0.1, atol=1e-9)


def test_the_arms_own_joint_names_are_mapped(tmp_path: Path):
    panda = tuple(f"panda_{n}" for n in NAMES)
    by_prefix = read_joint_log(_bag(tmp_path, "prefix", _setpoint_run(), names=panda), NAMES, dt=DT)
    np.testing.assert_allclose(by_prefix.position[0], 0.1 * np.arange(7) + 0.2 * 0.1, atol=1e-9)
    odd = tuple(f"A{i + 1}" for i in range(7))
    bag = _bag(tmp_path, "odd", _setpoint_run(), names=odd)
    with pytest.raises(
        BadLogError, match=r"none of its 250 messages carries the robot's joints.*--joint-map"
    ):
        read_joint_log(bag, NAMES, dt=DT)
    mapped = read_joint_log(bag, NAMES, dt=DT, joint_map=dict(zip(odd, NAMES, strict=True)))
    np.testing.assert_allclose(mapped.position, by_prefix.position)


def test_gripper_joint_states_are_skipped_and_counted(tmp_path: Path):
    gripper = ("panda_finger_joint1", "panda_finger_joint2")
    log = read_joint_log(_bag(tmp_path, "grip", _setpoint_run(), gripper=gripper), NAMES, dt=DT)
    assert log.skipped == {"/joint_states.without_arm_joints": 25}
    np.testing.assert_allclose(log.position[:, 0], 0.2 * (log.time + 0.1), atol=1e-9)
    np.testing.assert_allclose(log.effort, 1.0)


def test_a_velocity_topic_is_read_as_velocities(tmp_path: Path):
    log = read_joint_log(_bag(tmp_path, "vel", _setpoint_run()), NAMES, dt=DT)
    assert log.command_kind == "velocity"
    np.testing.assert_allclose(log.command, np.tile(0.2 + 0.01 * np.arange(7), (len(log.time), 1)))


def test_an_ambiguous_or_mismatched_command_kind_is_refused(tmp_path: Path):
    unnamed = _bag(tmp_path, "unnamed", _setpoint_run(), command_topic="/arm/commands")
    with pytest.raises(
        BadLogError, match=r"/arm/commands carries std_msgs/msg/Float64MultiArray.*--command-kind"
    ):
        read_joint_log(unnamed, NAMES, dt=DT)
    assert read_joint_log(unnamed, NAMES, dt=DT, command_kind="velocity").command_kind == "velocity"
    with pytest.raises(BadLogError, match=r"declared to carry position setpoints but its name says velocity"):
        read_joint_log(_bag(tmp_path, "vel", _setpoint_run()), NAMES, dt=DT, command_kind="position")
    trajectory = write_run_bag(_run(), tmp_path / "traj", NAMES, command_topic=TOPIC)
    with pytest.raises(BadLogError, match=r"carries JointTrajectory messages, not velocity setpoints"):
        read_joint_log(trajectory, NAMES, dt=DT, command_kind="velocity")


def test_the_command_topic_is_the_used_one_or_the_chosen_one(tmp_path: Path):
    store = typestore()
    run = _setpoint_run()
    bag = _bag(tmp_path, "two", run)
    # A recorder subscribed to both controllers: a second topic recorded but empty is ignored ...
    empty = tmp_path / "with_empty"
    with BagWriter(empty) as writer:
        for topic, msgtype, t, msg in _messages(bag):
            writer.write(topic, msgtype, t, msg)
        writer._writer.add_connection(TOPIC, "trajectory_msgs/msg/JointTrajectory", typestore=store)
    assert read_joint_log(empty, NAMES, dt=DT).command_kind == "velocity"
    # ... two that both carry commands need a choice, which the caller makes.
    both = tmp_path / "both"
    with BagWriter(both) as writer:
        for topic, msgtype, t, msg in _messages(bag):
            writer.write(topic, msgtype, t, msg)
            if topic == VELOCITY_TOPIC:
                writer.write("/forward_position_controller/commands", msgtype, t, msg)
    with pytest.raises(BadLogError, match=r"several command topics with messages .*--command-topic"):
        read_joint_log(both, NAMES, dt=DT)
    chosen = read_joint_log(both, NAMES, dt=DT, command_topic="/forward_position_controller/commands")
    assert chosen.command_kind == "position"


def _messages(bag: Path):
    from rosbags.highlevel import AnyReader

    with AnyReader([bag], default_typestore=typestore()) as reader:
        for connection, t, raw in reader.messages():
            yield connection.topic, connection.msgtype, t, raw


def test_a_log_that_starts_mid_run_starts_at_its_first_state(tmp_path: Path):
    run = _setpoint_run()
    late = MeasuredStates(
        run.states.stamps[100:], run.states.position[100:], run.states.velocity[100:], run.states.effort[100:]
    )
    log = read_joint_log(_bag(tmp_path, "late", SyntheticRun(late, run.commands, "velocity")), NAMES, dt=DT)
    # The recorder started at 0.2 s, after the velocity commands began at 0.1 s: the arm was moving.
    np.testing.assert_allclose(log.position[0], 0.1 * np.arange(7) + 0.2 * 0.2, atol=1e-9)
    np.testing.assert_allclose(log.velocity[0], 0.2)
    np.testing.assert_allclose(log.command[0], 0.2 + 0.01 * np.arange(7))
