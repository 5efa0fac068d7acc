"""Sim node + planner node over real DDS: a joint goal and an end-effector goal are reached with each
command interface, and every command published on the way respects the limits."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("rclpy")

from rig import EE_GOAL, JOINT_GOAL, PERIOD, Rig, assert_within_limits

pytestmark = pytest.mark.slow


def test_joint_goal_then_end_effector_goal_are_reached_within_limits(rig: Rig) -> None:
    client = rig.client
    start = time.monotonic()
    client.send_joint_goal(JOINT_GOAL)
    assert client.wait_for(lambda: rig.joint_error(JOINT_GOAL) < 0.03, 10.0), rig.joint_error(JOINT_GOAL)
    joint_s = time.monotonic() - start
    start = time.monotonic()
    client.send_ee_goal(EE_GOAL)
    assert client.wait_for(lambda: rig.ee_error(EE_GOAL) < 0.02, 10.0), rig.ee_error(EE_GOAL)
    ee_s = time.monotonic() - start
    commands = client.commands()
    assert len(commands) > 0.8 * (joint_s + ee_s) / PERIOD
    assert_within_limits(commands)
    client.wait_for(lambda: float((client.diagnostics() or {}).get("loop_rate_hz", 0)) > 0, 2.0)
    diagnostics = client.diagnostics()
    print(
        f"joint goal in {joint_s:.2f} s, EE goal in {ee_s:.2f} s; loop {diagnostics['loop_rate_hz']} Hz, "
        f"plan p50 {diagnostics['plan_latency_p50_ms']} ms, p99 {diagnostics['plan_latency_p99_ms']} ms"
    )
    assert float(diagnostics["loop_rate_hz"]) >= 0.95 * 50.0
