"""Whatever goes wrong, the commands stay safe and the planner says what happened: a flood of malformed
and adversarial messages."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rclpy")

from geometry_msgs.msg import PoseStamped
from rig import (
    EE_GOAL,
    JOINT_GOAL,
    ROBOT,
    Rig,
    assert_no_state_lost,
    assert_within_limits,
    fresh_diagnostics,
    running_rig,
    stale_share,
    states_taken,
)
from sensor_msgs.msg import JointState

pytestmark = pytest.mark.slow

FUZZ_MESSAGES = 10_000
NAMES = list(ROBOT.joint_names)


def joint_state(rng: np.random.Generator, stamp_s: float) -> JointState:
    """A JointState that is wrong in one of many ways, chosen by ``rng``."""
    names, q = list(NAMES), rng.uniform(-3, 3, 7).tolist()
    kind = rng.integers(9)
    if kind == 0:
        q[rng.integers(7)] = float(rng.choice([math.nan, math.inf, -math.inf]))
    elif kind == 1:
        q = q[: rng.integers(7)]
    elif kind == 2:
        names[rng.integers(7)] = "elbow"
    elif kind == 3:
        names[1] = names[0]
    elif kind == 4:
        q = (rng.choice([1.0, -1.0], 7) * 10.0 ** rng.uniform(1, 300, 7)).tolist()
    elif kind == 5:
        stamp_s = 0.0
    elif kind == 6:
        stamp_s = 1e9  # far in the future
    elif kind == 7:
        stamp_s = 1e-3  # long before anything the sim has published
    msg = JointState(
        name=names, position=q, velocity=rng.uniform(-1e3, 1e3, int(rng.integers(0, 8))).tolist()
    )
    sec = math.floor(stamp_s)
    msg.header.stamp.sec, msg.header.stamp.nanosec = sec, int((stamp_s - sec) * 1e9)
    return msg


def pose(rng: np.random.Generator) -> PoseStamped:
    msg = PoseStamped()
    msg.header.frame_id = str(rng.choice(["world", "", "camera", "base_link"]))
    xyz = rng.choice(
        [rng.uniform(-5, 5, 3), np.full(3, math.nan), np.full(3, 1e300), EE_GOAL + rng.normal(0, 0.2, 3)]
    )
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in xyz)
    msg.pose.orientation.w = float(rng.choice([1.0, math.nan, 0.0]))
    return msg


@pytest.fixture(scope="module")
def fuzz_rig(ros: None, bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    with running_rig(bundle, "trajectory", tmp_path_factory.mktemp("logs") / "nodes.log") as running:
        yield running


def test_fuzzed_inputs_never_produce_an_unsafe_command(fuzz_rig: Rig) -> None:
    rig, client = fuzz_rig, fuzz_rig.client
    node = client.node
    states = node.create_publisher(JointState, "/joint_states", 10)
    goals = node.create_publisher(PoseStamped, "/planner_node/goal", 10)
    joint_goals = node.create_publisher(JointState, "/planner_node/joint_goal", 10)
    rng = np.random.default_rng(0)
    client.send_ee_goal(EE_GOAL)
    for i in range(FUZZ_MESSAGES):
        kind = i % 4
        if kind < 2:
            states.publish(joint_state(rng, time.time()))
        elif kind == 2:
            goals.publish(pose(rng))
        else:
            msg = joint_state(rng, time.time())
            msg.position = (
                (np.asarray(JOINT_GOAL) + rng.normal(0, 3, 7)).tolist() if i % 8 == 3 else msg.position
            )
            joint_goals.publish(msg)
        if i % 200 == 0:
            time.sleep(0.01)  # let the subscribers' queues drain now and then, so most messages are read
    planner = rig.nodes.processes["planner"]
    assert planner.poll() is None, "the planner node died"
    assert client.wait_for(
        lambda: (
            sum(int(v) for k, v in (client.diagnostics() or {}).items() if k.startswith("rejected_")) > 1000
        ),
        3.0,
    )
    assert_within_limits(client.commands())
    time.sleep(1.0)  # fuzzed goals still in flight must not overtake the valid one
    # Still responsive: a valid goal is reached. A joint goal, because the fuzzed (clamped) joint goals
    # can leave the arm in poses the small test model reaches end-effector goals from only slowly.
    client.send_joint_goal(JOINT_GOAL)
    assert client.wait_for(lambda: rig.joint_error(JOINT_GOAL) < 0.03, 15.0)
    assert client.pause(True) and client.pause(False)
    assert_within_limits(client.commands())


FLOOD_MESSAGES = 5_000


def test_a_flood_while_moving_pushes_out_no_joint_state(fuzz_rig: Rig) -> None:
    rig, client = fuzz_rig, fuzz_rig.client
    node = client.node
    states = node.create_publisher(JointState, "/joint_states", 10)
    objects = node.create_publisher(PoseStamped, "/object_pose", 10)
    goals = node.create_publisher(PoseStamped, "/planner_node/goal", 10)
    rng = np.random.default_rng(1)
    home = (ROBOT.lower() + ROBOT.upper()) / 2.0
    client.send_joint_goal(home)
    assert client.wait_for(lambda: rig.joint_error(home) < 0.03, 15.0)
    client.send_joint_goal(JOINT_GOAL)
    before = fresh_diagnostics(client)
    time.sleep(1.0)
    flood_start = fresh_diagnostics(client)
    commands_before = len(client.commands())
    for i in range(FLOOD_MESSAGES):
        kind = i % 3
        if kind == 0:
            states.publish(joint_state(rng, time.time()))
        elif kind == 1:
            objects.publish(pose(rng))
        else:
            goals.publish(pose(rng))
    flood_end = fresh_diagnostics(client)
    time.sleep(0.5)  # flooded goals still in flight must not overtake the next one
    settled = fresh_diagnostics(client)
    client.send_joint_goal(JOINT_GOAL)
    assert client.wait_for(lambda: rig.joint_error(JOINT_GOAL) < 0.03, 15.0), "the goal after the flood"
    time.sleep(1.0)  # a second of the stream after the flood, to count
    after = fresh_diagnostics(client)
    (stale_a, periods_a), (stale_b, periods_b) = (
        stale_share(before, flood_start),
        stale_share(flood_end, after),
    )
    during, flood_periods = stale_share(flood_start, flood_end)
    taken, published = states_taken(flood_start, settled)
    print(
        f"stale periods: {stale_a + stale_b} of {periods_a + periods_b} outside the flood, {during} of "
        f"{flood_periods} during it; joint states taken during the flood: {taken} of {published}"
    )
    # While the flood shares the topic's queue, a loaded machine may drop some of the sim's states with
    # it (counted above); before and after it, every one is taken.
    assert_no_state_lost(before, flood_start)
    assert_no_state_lost(settled, after)
    assert len(client.commands()) > commands_before
    assert_within_limits(client.commands())
    rejected = sum(int(v) - int(flood_start.get(k, 0)) for k, v in after.items() if k.startswith("rejected_"))
    print(f"{rejected} flooded messages read and refused")
    # Forged states are refused, never taken: the loop took no more states than the sim published. How
    # many of the flood the node reads before its queue overflows depends on the machine's speed.
    assert taken <= published + 1, f"{taken} joint states taken while the sim published {published}"
    assert rejected > 0
