"""MpcController on a known system: the 'model' is a perfect integrator of joint position deltas."""

from __future__ import annotations

import numpy as np
import pytest

from wm_planner.config import PlannerConfig, SafetyConfig, default_robot_spec
from wm_planner.control import MpcController, Problem
from wm_planner.data.layout import Layout
from wm_planner.planning import Imagined, JointCost, make_planner

ROBOT = default_robot_spec()
LAYOUT = Layout.of(("joint_pos", 7, "rad"), ("joint_vel", 7, "rad/s"))
JOINTS = LAYOUT.slice("joint_pos")
HOME = (ROBOT.lower() + ROBOT.upper()) / 2.0


def integrator(obs: np.ndarray):
    """Imagined joint positions: the start plus the summed deltas; velocities the deltas per period."""
    q0 = obs[JOINTS].astype(np.float32)

    def rollout(actions: np.ndarray) -> Imagined:
        q = q0 + np.cumsum(actions, axis=1)
        return Imagined(np.concatenate([q, actions / ROBOT.control_period], axis=-1))

    return rollout


def broken(obs: np.ndarray):
    def rollout(actions: np.ndarray) -> Imagined:
        return Imagined(np.full((*actions.shape[:2], LAYOUT.size), np.nan, dtype=np.float32))

    return rollout


def controller(bind=integrator, *, deadline_ms: float | None = None, safety: SafetyConfig | None = None):
    config = PlannerConfig(samples=64, horizon=8, iterations=2, elites=8, deadline_ms=deadline_ms)
    planner = make_planner(config, action_low=-ROBOT.max_step(), action_high=ROBOT.max_step(), seed=0)
    mpc = MpcController(planner, bind, ROBOT, joint_slice=JOINTS, safety=safety)
    mpc.reset(HOME)
    return mpc


def observe(q: np.ndarray, qd: np.ndarray | None = None) -> np.ndarray:
    return np.concatenate([q, np.zeros(7) if qd is None else qd])


def within_limits(mpc: MpcController, positions: np.ndarray) -> bool:
    f = mpc.filter
    return bool(np.all(positions >= f.lower - 1e-12) and np.all(positions <= f.upper + 1e-12))


def test_controller_drives_the_arm_to_a_joint_goal_within_limits() -> None:
    mpc = controller()
    goal = HOME + np.array([0.3, -0.2, 0.1, 0.25, -0.1, 0.2, 0.3])
    mpc.set_goal(JointCost(LAYOUT, goal))
    q, previous = HOME.copy(), HOME.copy()
    for _ in range(150):
        step = mpc.step(observe(q))
        assert step.mode == "plan"
        assert np.all(np.abs(step.command.position - previous) <= mpc.filter.max_step + 1e-12)
        assert within_limits(mpc, step.trajectory.positions)
        previous = q = step.command.position  # the arm tracks its commands exactly
    assert np.max(np.abs(q - goal)) < 0.02


def test_every_preview_ends_at_rest_within_velocity_limits() -> None:
    mpc = controller()
    mpc.set_goal(JointCost(LAYOUT, ROBOT.upper()))  # pushes every joint toward its limit
    q = HOME.copy()
    for _ in range(40):
        step = mpc.step(observe(q))
        trajectory = step.trajectory
        steps = np.diff(np.concatenate([q[None], trajectory.positions]), axis=0)
        assert np.all(np.abs(steps) <= mpc.filter.max_step + 1e-12)
        assert np.all(np.abs(trajectory.velocities) <= np.asarray(ROBOT.velocity_limits) + 1e-9)
        assert np.all(trajectory.velocities[-1] == 0.0)
        assert np.allclose(trajectory.positions[-1], trajectory.positions[-2], atol=1e-9) or len(steps) == 1
        q = step.command.position


def test_no_goal_holds() -> None:
    step = controller().step(observe(HOME))
    assert step.mode == "hold" and step.problem == "no goal" and step.plan is None
    assert np.allclose(step.command.position, HOME)


def test_model_returning_nan_makes_a_smooth_hold_and_is_counted() -> None:
    mpc = controller(broken)
    mpc.set_goal(JointCost(LAYOUT, HOME + 0.3))
    step = mpc.step(observe(HOME))
    assert step.mode == "hold" and "invalid plan" in step.problem
    assert np.all(np.isfinite(step.command.position)) and np.allclose(step.command.position, HOME)
    assert mpc.judge.fallback.invalid_plans == 1


def test_late_plans_reuse_the_last_good_plan_then_hold() -> None:
    safety = SafetyConfig(max_plan_reuse=2)
    mpc = controller(safety=safety)
    mpc.set_goal(JointCost(LAYOUT, HOME + 0.3))
    assert mpc.step(observe(HOME)).mode == "plan"
    mpc.judge.planner.config = mpc.judge.planner.config.model_copy(update={"deadline_ms": 1e-6})
    modes = [mpc.step(observe(mpc.filter.position)).mode for _ in range(4)]
    assert modes == ["fallback", "fallback", "hold", "hold"]  # nothing good left to reuse after a hold
    assert mpc.judge.fallback.deadline_misses == 4


def test_an_arm_far_from_the_commands_gets_them_back_without_a_step() -> None:
    mpc = controller()
    mpc.set_goal(JointCost(LAYOUT, HOME))
    moved = HOME + np.array([0.5, 0, 0, 0, 0, 0, 0])  # the arm was pushed away and stays there
    commands, steps = [mpc.filter.position], []
    for _ in range(100):
        steps.append(mpc.step(observe(moved)))
        commands.append(steps[-1].command.position)
        if steps[-1].mode == "plan":
            break
    assert mpc.reanchors == 1 and steps[0].problem == Problem.REANCHORED and "back" in steps[0].detail
    assert steps[-1].mode == "plan", "planning never resumed"
    assert np.max(np.abs(commands[-1] - moved)) <= mpc.safety.max_tracking_error
    velocity = np.diff(np.array(commands), axis=0)
    assert np.all(np.abs(velocity) <= mpc.filter.max_step + 1e-12)
    assert np.all(np.abs(np.diff(velocity, axis=0)) <= mpc.filter.acc_step + 1e-12)
    assert mpc.blend_periods == len(steps) - 1


def test_a_restarted_driver_restarts_the_commands_at_the_arm() -> None:
    mpc = controller()
    mpc.set_goal(JointCost(LAYOUT, HOME))
    moved = HOME + 0.3
    mpc.restart_at(moved)
    step = mpc.step(observe(moved))
    assert mpc.reanchors == 1 and step.problem == Problem.REANCHORED and step.mode == "plan"
    assert np.max(np.abs(step.command.position - moved)) <= np.max(mpc.filter.max_step) + 1e-12


def test_bad_preview_steps_are_refused() -> None:
    config = PlannerConfig(samples=8, horizon=4, elites=2)
    planner = make_planner(config, action_low=-ROBOT.max_step(), action_high=ROBOT.max_step())
    with pytest.raises(ValueError, match="preview_steps"):
        MpcController(planner, integrator, ROBOT, joint_slice=JOINTS, preview_steps=-1)


def test_brakes_between_periods_do_not_run_the_commands_ahead_of_the_arm() -> None:
    mpc = controller()
    goal = HOME + 0.5
    mpc.set_goal(JointCost(LAYOUT, goal))
    q = HOME.copy()
    for _ in range(10):
        q = mpc.step(observe(q)).command.position
    moving = mpc.filter.position.copy()
    brakes = [mpc.brake("joint states stale") for _ in range(3)]
    # Each brake is the same smooth stop from the current command, ending at rest ...
    for brake in brakes:
        np.testing.assert_array_equal(brake.trajectory.positions, brakes[0].trajectory.positions)
        assert np.all(brake.trajectory.velocities[-1] == 0.0)
        assert np.all(np.abs(brake.command.position - moving) <= mpc.filter.max_step + 1e-12)
    # ... and the commands' timeline stays where it was: the next period follows the last command.
    np.testing.assert_array_equal(mpc.filter.position, moving)
    step = mpc.step(observe(q))
    assert step.mode == "plan" and mpc.reanchors == 0
    assert np.all(np.abs(step.command.position - moving) <= mpc.filter.max_step + 1e-12)
