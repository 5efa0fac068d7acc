"""The sim and planner nodes running as processes, a client watching them, and the checks the ROS tests
share."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from wm_planner.config import SafetyConfig, default_robot_spec
from wm_planner.observation import ObservationBuilder
from wm_planner_ros.client import PlannerClient, RecordedCommand
from wm_planner_ros.launcher import NodeProcesses, ros_environment, start_node, start_nodes
from wm_planner_ros.params import SIM_PARAMETERS
from wm_planner_ros.topics import CONTROLLERS, command_topic

ROBOT = default_robot_spec()
PERIOD = ROBOT.control_period
MARGIN = SafetyConfig().position_margin
JOINT_GOAL = np.array([0.3, -0.5, 0.2, -2.0, 0.1, 1.8, 0.5])
EE_GOAL = np.array([0.45, 0.12, 0.3])


class Rig:
    """Running nodes and a client that watches them."""

    def __init__(self, nodes: NodeProcesses, client: PlannerClient) -> None:
        self.nodes, self.client = nodes, client
        self.fk = ObservationBuilder()

    def joint_error(self, goal: np.ndarray) -> float:
        q = self.client.joint_positions()
        return np.inf if q is None else float(np.max(np.abs(q - goal)))

    def ee_error(self, goal: np.ndarray) -> float:
        q = self.client.joint_positions()
        return np.inf if q is None else float(np.linalg.norm(self.fk.tool_tip(q) - goal))

    def mode(self) -> str | None:
        return (self.client.status() or {}).get("mode")


def start_planner(params: dict[str, object], params_dir: Path, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """The planner node alone (not autostarted) in this test run's domain, its output in ``log``."""
    env = ros_environment(int(os.environ["ROS_DOMAIN_ID"]))
    return start_node("planner_node", "planner_node", params, env=env, params_dir=params_dir, output=log)


@contextlib.contextmanager
def running_rig(
    bundle: Path,
    interface: str,
    log_path: Path,
    *,
    sim_params: dict[str, object] | None = None,
    **planner_params: object,
) -> Iterator[Rig]:
    """The sim node (with ``sim_params``) and an autostarted planner node on ``interface`` (with
    ``planner_params`` overriding its parameters), their output in ``log_path``."""
    planner = {
        "model_path": str(bundle),
        "command_interface": interface,
        "controller_name": CONTROLLERS[interface],
        **planner_params,
    }
    topic = command_topic(interface, CONTROLLERS[interface])
    with open(log_path, "wb") as log:
        nodes = start_nodes(
            planner,
            {"task": "reach", "seed": 0, **(sim_params or {})},
            domain_id=int(os.environ["ROS_DOMAIN_ID"]),
            output=log,
        )
        client = PlannerClient(command_topic=topic)
        try:
            active = client.wait_for(lambda: (client.status() or {}).get("lifecycle") == "active", 90.0)
            assert active, f"planner node did not become active; see {log_path}"
            assert client.wait_for(lambda: (client.status() or {}).get("mode") == "hold", 10.0), (
                "the planner node got no joint states"
            )
            # The client discovers the sim node on its own, and may do so after the planner node has.
            assert client.wait_for(lambda: client.joint_positions() is not None, 10.0), (
                "the client got no joint states"
            )
            yield Rig(nodes, client)
        finally:
            client.close()
            nodes.stop()


def arm_displacement(client: PlannerClient, seconds: float) -> float:
    """How far (rad, the largest joint) the measured arm moves over the next ``seconds``."""
    before = client.joint_positions()
    time.sleep(seconds)
    return float(np.max(np.abs(client.joint_positions() - before)))


def assert_within_limits(commands: list[RecordedCommand], *, acceleration: bool = False) -> None:
    """Every command within the position limits (less the margin) and velocity limits, its knots in
    time order and a feasible step apart, and each command a feasible step from the one before (and,
    with ``acceleration``, a feasible change of step: this reads the commands as one per period, so a run
    with watchdog brakes between periods cannot be checked for it)."""
    assert commands, "no commands were published"
    lower, upper = ROBOT.lower() + MARGIN - 1e-9, ROBOT.upper() - MARGIN + 1e-9
    vmax = np.asarray(ROBOT.velocity_limits)
    step = vmax * PERIOD * (1 + 1e-9)
    firsts = []
    for command in commands:
        assert np.all(np.isfinite(command.positions))
        assert np.all(command.positions >= lower) and np.all(command.positions <= upper)
        if not np.isnan(command.velocities).all():
            assert np.all(np.abs(command.velocities) <= vmax + 1e-9)
            assert np.all(np.diff(command.times) > 0.0)
            assert np.all(np.abs(np.diff(command.positions, axis=0)) <= step)
        firsts.append(command.positions[0])
    steps = np.diff(np.array(firsts), axis=0)
    assert np.all(np.abs(steps) <= step), "consecutive commands jump"
    if acceleration:
        acc_step = np.asarray(ROBOT.acceleration_limits) * PERIOD**2 * (1 + 1e-9)
        assert np.all(np.abs(np.diff(steps, axis=0)) <= acc_step), "consecutive commands jolt"


def fresh_diagnostics(client: PlannerClient, timeout_s: float = 3.0) -> dict[str, str]:
    """The next ``/diagnostics`` of the planner (not one received before this call)."""
    with client.lock:
        client.record.diagnostics = None
    assert client.wait_for(lambda: client.diagnostics() is not None, timeout_s), "no diagnostics"
    return client.diagnostics() or {}


def stale_share(before: dict[str, str], after: dict[str, str]) -> tuple[int, int]:
    """Control periods held for stale joint states between two diagnostics, and all periods."""
    periods = int(after["periods"]) - int(before["periods"])
    return int(after["stale_periods"]) - int(before["stale_periods"]), periods


SIM_PERIOD = 1.0 / next(p.default for p in SIM_PARAMETERS if p.name == "publish_rate")
"""s between two joint states of the sim node (its stamps advance by exactly this)."""


def states_taken(before: dict[str, str], after: dict[str, str]) -> tuple[int, int]:
    """Joint states the planner took into its loop between two diagnostics, and how many the sim node
    published meanwhile (its stamps advance by exactly one publish period per state)."""
    published = round((float(after["joint_state_stamp"]) - float(before["joint_state_stamp"])) / SIM_PERIOD)
    return int(after["joint_states_accepted"]) - int(before["joint_states_accepted"]), published


def assert_no_state_lost(before: dict[str, str], after: dict[str, str]) -> None:
    """Every joint state the sim node published between two diagnostics was taken into the loop.
    Behaviour, not speed: a busy machine delays states (and the loop holds for them, as it should) but
    loses none."""
    accepted, published = states_taken(before, after)
    assert published > 50, f"the sim published only {published} joint states"
    # A diagnostic may read the count and the stamp either side of one state's arrival: one either way.
    assert abs(accepted - published) <= 1, f"{accepted} joint states taken of {published} published"


def plan_p99_s(client: PlannerClient) -> float:
    """The planner's own p99 plan latency (s) as it last reported it: bounds that depend on how fast this
    machine plans are derived from it."""
    return float((client.diagnostics() or {}).get("plan_latency_p99_ms", 0.0)) / 1000.0
