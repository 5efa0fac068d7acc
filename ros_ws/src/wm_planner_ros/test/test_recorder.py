"""Recording runs: a bag written by the recorder from a sim run reads back with every message, and an
excitation played through the sim node's trajectory interface is logged so that the scene replays it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

import rclpy
from geometry_msgs.msg import PoseStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosbags.highlevel import AnyReader

from calibration.logs.bags import bag_topics, read_goals, read_joint_log
from calibration.model.profile import load_profile
from wm_planner.config import default_robot_spec
from wm_planner_ros.launcher import NodeProcesses, ros_environment, start_node
from wm_planner_ros.recorder import BagRecorder, default_topics

pytestmark = pytest.mark.slow
ROBOT = default_robot_spec()


@pytest.fixture(scope="module")
def sim(ros: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    logs = tmp_path_factory.mktemp("sim")
    env = ros_environment(int(os.environ["ROS_DOMAIN_ID"]))
    with tempfile.TemporaryDirectory() as params, open(logs / "sim.log", "wb") as out:
        nodes = NodeProcesses(int(env["ROS_DOMAIN_ID"]))
        nodes.start(
            "sim",
            lambda: start_node(
                "sim_node", "sim_node", {"task": "reach"}, env=env, params_dir=Path(params), output=out
            ),
        )
        try:
            yield
        finally:
            nodes.stop()


def test_a_recorded_sim_run_reads_back_with_every_message(sim: None, tmp_path: Path):
    node = rclpy.create_node("recorder_test")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    goals = node.create_publisher(
        PoseStamped, "/planner_node/goal", QoSProfile(depth=200, reliability=ReliabilityPolicy.RELIABLE)
    )
    recorder = BagRecorder(node, tmp_path / "bag", default_topics())
    try:
        deadline = time.monotonic() + 10.0
        while goals.get_subscription_count() == 0 or recorder.received["/joint_states"] == 0:
            executor.spin_once(timeout_sec=0.05)
            assert time.monotonic() < deadline, "recorder did not see the sim or its own goal topic"
        sent = []
        for k in range(100):
            msg = PoseStamped()
            msg.header.frame_id = "world"
            msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (
                0.3 + k * 1e-3,
                -0.1,
                0.2 + k * 1e-4,
            )
            msg.pose.orientation.w = 1.0
            goals.publish(msg)
            sent.append((msg.pose.position.x, msg.pose.position.y, msg.pose.position.z))
            executor.spin_once(timeout_sec=0.01)
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
    finally:
        counts = recorder.close()
        node.destroy_node()
    assert counts["/planner_node/goal"] == 100
    topics = bag_topics(tmp_path / "bag")
    assert topics["/joint_states"] == "sensor_msgs/msg/JointState"
    np.testing.assert_allclose([g.value for g in read_goals(tmp_path / "bag")], sent)
    with AnyReader([tmp_path / "bag"]) as reader:
        in_bag = {c.topic: c.msgcount for c in reader.connections}
        stamps = [
            reader.deserialize(raw, c.msgtype).header.stamp
            for c, _, raw in reader.messages([c for c in reader.connections if c.topic == "/joint_states"])
        ]
    assert in_bag == counts
    assert len(stamps) == counts["/joint_states"] > 50
    times = np.array([s.sec + s.nanosec * 1e-9 for s in stamps])
    assert np.all(np.diff(times) > 0), "joint states were recorded out of order or twice"


def test_an_excitation_through_the_sim_node_replays_in_the_scene_and_identifies(sim: None, tmp_path: Path):
    wm_planner = [sys.executable, "-m", "wm_planner.cli"]
    env = ros_environment(int(os.environ["ROS_DOMAIN_ID"]))
    bag, profile = tmp_path / "bag", tmp_path / "profile.yaml"
    done = subprocess.run(
        [*wm_planner, "excite", "--out", str(bag), "--use-sim-time", "--duration", "6"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "recorded" in done.stdout and str(bag) in done.stdout
    log = read_joint_log(bag, ROBOT.joint_names, dt=0.002)
    assert log.duration > 7.5  # the approach and the excitation
    done = subprocess.run(
        [*wm_planner, "sysid", "--log", str(bag), "--out", str(profile)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    quality = load_profile(profile).quality
    # The sim node runs the default scene with no latency, and the excitation is stamped ahead, so the
    # sim and the log start it at the same instant: the default scene already reproduces the sim node's
    # arm to within the interpolation of its 100 Hz joint states, and identification keeps it there.
    fitted = load_profile(profile)
    assert max(quality.rmse_before) < 1e-4
    assert max(quality.rmse_after) < 1e-4
    assert np.mean(quality.rmse_after) <= 1.05 * np.mean(quality.rmse_before)
    assert fitted.latency < 0.002
    # The recorded sim-node run as a dataset that trains and exports.
    data, run, bundle = tmp_path / "data", tmp_path / "run", tmp_path / "bundle"
    outputs = []
    for args in (
        ["data", "import", str(bag), "--out", str(data), "--episode-steps", "100"],
        ["train", "--data", str(data), "--out", str(run), "--steps", "20", "--batch-size", "16"],
        ["export", "--run", str(run), "--out", str(bundle), "--samples", "16", "--horizon", "4"],
    ):
        done = subprocess.run([*wm_planner, *args], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        outputs.append(done.stdout)
    assert "imported 1 logs as" in outputs[0] and "trained 20 steps" in outputs[1]
    assert (bundle / "metadata.json").exists()
