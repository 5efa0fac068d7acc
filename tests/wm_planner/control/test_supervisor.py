"""The supervisor's decisions, with plain values and a known 'model' (the arm follows its commands
exactly), no ROS: each test runs in milliseconds."""

from __future__ import annotations

import numpy as np
import pytest

from wm_planner.config import ObjectSpec, PlannerConfig, SafetyConfig, SupervisorConfig, default_robot_spec
from wm_planner.control import (
    Goal,
    GoalKind,
    Mode,
    Problem,
    PushGeometry,
    Rejected,
    RolloutSource,
    Supervisor,
    build_supervisor,
    goal_cost,
    retune_supervisor,
)
from wm_planner.observation import OBSERVATION_LAYOUT, ObservationBuilder
from wm_planner.planning import Imagined, PushCost

ROBOT = default_robot_spec()
DT = ROBOT.control_period
HOME = (ROBOT.lower() + ROBOT.upper()) / 2.0
FK = ObservationBuilder(ROBOT)
JOINT_GOAL = HOME + np.array([0.3, -0.2, 0.1, 0.25, -0.1, 0.2, 0.3])


def integrator(obs: np.ndarray):
    """Imagined observations of an arm that reaches each commanded position within the period."""

    def rollout(actions: np.ndarray) -> Imagined:
        q = obs[:7] + np.cumsum(actions, axis=1)
        n, h = q.shape[:2]
        cube = np.broadcast_to(obs[17:], (n, h, 7))
        return Imagined(np.concatenate([q, actions / DT, FK.tool_tip(q), cube], axis=-1).astype(np.float32))

    return rollout


def nan_model(obs: np.ndarray):
    def rollout(actions: np.ndarray) -> Imagined:
        return Imagined(np.full((*actions.shape[:2], OBSERVATION_LAYOUT.size), np.nan, np.float32))

    return rollout


def supervisor(
    bind=integrator, *, deadline_ms: float | None = None, feasible: bool = True, **config
) -> Supervisor:
    source = RolloutSource("integrator", bind, OBSERVATION_LAYOUT, ("numpy",))
    planner = PlannerConfig(samples=32, horizon=6, elites=8, deadline_ms=deadline_ms, feasible=feasible)
    return build_supervisor(source, ROBOT, planner=planner, supervisor=SupervisorConfig(**config))


class Arm:
    """A perfect arm and its driver: publishes its state every period, stamped with the time."""

    def __init__(self, sup: Supervisor, q: np.ndarray = HOME) -> None:
        self.sup, self.q, self.t = sup, q.copy(), 1.0

    def publish(self) -> None:
        self.sup.joint_state(self.q, np.zeros(7), self.t, now=self.t, clock=self.t)

    def period(self, *, publish: bool = True):
        """One control period: the loop decides, the arm follows, time passes, the driver publishes."""
        decision = self.sup.tick(self.t)
        if decision.step is not None:
            self.q = decision.step.command.position
        self.t += DT
        if publish:
            self.publish()
        return decision


def running(bind=integrator, **kwargs) -> tuple[Supervisor, Arm]:
    sup = supervisor(bind, **kwargs)
    arm = Arm(sup)
    arm.publish()
    sup.activate()
    return sup, arm


def test_it_drives_the_arm_to_a_joint_goal_and_says_how_far_it_is() -> None:
    sup, arm = running()
    sup.set_goal(Goal(GoalKind.JOINTS, JOINT_GOAL))
    modes = {arm.period().mode for _ in range(150)}
    assert modes == {Mode.PLAN}
    assert sup.goal_error() < 0.02


def test_nothing_is_commanded_before_a_state_arrives_then_it_holds_without_a_goal() -> None:
    sup = supervisor()
    sup.activate()
    first = sup.tick(1.0)
    assert (first.step, first.mode, first.problem) == (None, Mode.IDLE, Problem.WAITING_FOR_STATE)
    Arm(sup).publish()
    held = sup.tick(1.0)
    assert held.mode == Mode.HOLD and held.problem == Problem.NO_GOAL
    assert np.allclose(held.step.command.position, HOME)


def test_a_stale_state_brakes_between_periods_once_then_the_idle_arm_is_left_alone() -> None:
    sup, arm = running()
    sup.set_goal(Goal(GoalKind.JOINTS, JOINT_GOAL))
    for _ in range(10):
        arm.period()
    assert not sup.controller.filter.at_rest
    assert sup.watch(arm.t + 0.5 * DT) is None  # fresh: nothing to do between periods
    brake = sup.watch(arm.t + 1.5 * DT)
    assert brake.mode == Mode.HOLD and brake.problem == Problem.STATE_STALE
    assert sup.watch(arm.t + 1.75 * DT) is None  # said once
    arm.t += 2 * DT
    stops = [arm.period(publish=False) for _ in range(40)]
    assert {d.problem for d in stops} == {Problem.STATE_STALE}
    assert stops[-1].step is None and stops[-1].mode == Mode.IDLE  # at rest: nothing more is sent
    assert sup.watchdog.stale_events == 1


@pytest.mark.parametrize(
    ("stamp", "q_offset", "reason"),
    [
        (0.0, 0.0, "unstamped"),
        (0.5, 0.0, "out_of_order"),
        (1.2, 0.0, "future_stamp"),
        (1.0 + DT, 0.3, "jump"),
    ],
)
def test_bad_joint_states_are_rejected_and_change_nothing(stamp: float, q_offset: float, reason: str) -> None:
    sup, _ = running()
    before, accepted, last_stamp = sup.state, sup.states_accepted, sup.stamp
    with pytest.raises(Rejected) as error:
        sup.joint_state(HOME + q_offset, np.zeros(7), stamp, now=1.0 + DT, clock=1.0 + DT)
    assert error.value.reason == reason
    assert sup.state is before
    assert (sup.states_accepted, sup.stamp) == (accepted, last_stamp)


def test_every_state_taken_is_counted_with_its_stamp() -> None:
    sup, arm = running()
    accepted = sup.states_accepted
    for _ in range(5):
        arm.period()
    assert sup.states_accepted == accepted + 5
    assert sup.stamp == arm.t


@pytest.mark.parametrize(
    ("q", "qd", "reason"),
    [
        (np.full(7, np.nan), np.zeros(7), "non_finite"),
        (ROBOT.upper() + 0.2, np.zeros(7), "out_of_limits"),
        (HOME, 3.0 * np.asarray(ROBOT.velocity_limits), "too_fast"),
    ],
)
def test_states_no_arm_can_be_in_are_rejected(q: np.ndarray, qd: np.ndarray, reason: str) -> None:
    sup = supervisor()
    with pytest.raises(Rejected, match=reason):
        sup.joint_state(q, qd, 1.0, now=1.0, clock=1.0)


def test_a_restarted_driver_starts_a_new_stream_and_commands_restart_from_the_arm() -> None:
    sup, arm = running()
    sup.set_goal(Goal(GoalKind.JOINTS, JOINT_GOAL))
    for _ in range(5):
        arm.period()
    moved = HOME + 0.3  # the arm was moved while the driver was down, and its clock starts again
    outage = sup.config.stream_restart + 0.1
    arm.t += outage
    sup.joint_state(moved, np.zeros(7), 0.1, now=arm.t, clock=0.1)
    decision = sup.tick(arm.t)
    assert decision.problem == Problem.REANCHORED and decision.mode == Mode.PLAN
    assert np.max(np.abs(decision.step.command.position - moved)) <= np.max(sup.controller.filter.max_step)


def test_late_plans_fall_back_to_the_last_good_one_then_hold() -> None:
    sup, arm = running()
    sup.set_goal(Goal(GoalKind.JOINTS, JOINT_GOAL))
    arm.period()
    sup.controller.judge.planner.config = sup.controller.judge.planner.config.model_copy(
        update={"deadline_ms": 1e-6}
    )
    decisions = [arm.period() for _ in range(sup.controller.safety.max_plan_reuse + 2)]
    assert decisions[0].mode == Mode.FALLBACK and decisions[0].problem == Problem.PLAN_LATE
    assert decisions[-1].mode == Mode.HOLD and decisions[-1].problem == Problem.PLAN_LATE


def test_a_model_returning_nan_holds_the_arm_where_it_is() -> None:
    sup, arm = running(nan_model)
    sup.set_goal(Goal(GoalKind.END_EFFECTOR, np.array([0.5, 0.0, 0.3])))
    decisions = [arm.period() for _ in range(5)]
    assert {(d.mode, d.problem) for d in decisions} == {(Mode.HOLD, Problem.PLAN_INVALID)}
    assert np.allclose(arm.q, HOME)
    assert sup.controller.judge.fallback.invalid_plans == 5


@pytest.mark.parametrize(
    ("goal", "reason"),
    [
        (Goal(GoalKind.END_EFFECTOR, np.array([2.0, 0.0, 0.3])), "out_of_bounds"),
        (Goal(GoalKind.JOINTS, ROBOT.upper()), "out_of_bounds"),
        (Goal(GoalKind.OBJECT, np.array([0.5, 0.9, 0.0])), "out_of_bounds"),
        (Goal(GoalKind.END_EFFECTOR, np.array([np.nan, 0.0, 0.3])), "non_finite"),
        (Goal(GoalKind.JOINTS, HOME[:3]), "wrong_length"),
    ],
)
def test_goals_outside_the_bounds_are_rejected_and_the_old_goal_kept(goal: Goal, reason: str) -> None:
    sup, _ = running()
    sup.set_goal(Goal(GoalKind.JOINTS, JOINT_GOAL))
    with pytest.raises(Rejected) as error:
        sup.set_goal(goal)
    assert error.value.reason == reason
    assert sup.goal.kind == GoalKind.JOINTS


def test_goals_outside_the_workspace_can_be_clamped_instead() -> None:
    sup, _ = running(goal_out_of_bounds="clamp")
    note = sup.set_goal(Goal(GoalKind.END_EFFECTOR, np.array([2.0, 0.0, 0.3])))
    assert "clamped" in note
    assert np.allclose(sup.goal.value, [0.85, 0.0, 0.3])


def test_pause_holds_and_resume_plans_again() -> None:
    sup, arm = running()
    sup.set_goal(Goal(GoalKind.JOINTS, JOINT_GOAL))
    arm.period()
    sup.pause(True)
    held = [arm.period() for _ in range(30)]
    assert {(d.mode, d.problem) for d in held} == {(Mode.HOLD, Problem.PAUSED)}
    assert sup.controller.filter.at_rest
    sup.pause(False)
    assert arm.period().mode == Mode.PLAN


def test_stop_sends_one_last_hold_and_then_nothing() -> None:
    sup, arm = running()
    sup.set_goal(Goal(GoalKind.JOINTS, JOINT_GOAL))
    arm.period()
    last = sup.stop()
    assert last.mode == Mode.HOLD and last.problem == Problem.STOPPED
    after = arm.period()
    assert after.step is None and after.problem == Problem.STOPPED
    assert supervisor().stop() is None  # never commanded: nothing to send


def test_object_poses_are_checked_and_used_for_object_goals() -> None:
    sup, _ = running()
    with pytest.raises(Rejected, match="non_finite"):
        sup.object_pose(np.array([np.inf, 0, 0, 1, 0, 0, 0]))
    sup.set_goal(Goal(GoalKind.OBJECT, np.array([0.5, 0.1, 0.0])))
    assert sup.goal_error() is None  # no object seen yet
    sup.object_pose(np.array([0.5, 0.0, 0.025, 1, 0, 0, 0]))
    assert sup.goal_error() == pytest.approx(0.1)
    for far in ([5.0, 0.0, 0.025], [0.5, 0.0, -0.2], [0.5, 1e300, 0.025]):
        with pytest.raises(Rejected, match="out_of_bounds"):
            sup.object_pose(np.array([*far, 1, 0, 0, 0]))
    assert sup.goal_error() == pytest.approx(0.1)  # the last good pose is kept


def test_object_goals_are_planned_with_the_robots_tip_and_the_declared_object() -> None:
    sup, _ = running()
    sup.set_goal(Goal(GoalKind.OBJECT, np.array([0.5, 0.1, 0.0])))
    cost = sup.controller.judge.cost.terms[0]
    # The shipped pusher's tip sphere, nearest its tip; no model declared an object: the task's cube.
    assert isinstance(cost, PushCost) and (cost.tip_radius, cost.cube_half) == (0.02, 0.025)
    puck = ObjectSpec(
        name="puck", position="cube_pos", orientation="cube_quat", half_extents=(0.04, 0.03, 0.01)
    )
    assert PushGeometry.of(ROBOT, (puck,)) == PushGeometry(tip_radius=0.02, object_half=0.04)
    with pytest.raises(ValueError, match="push="):
        goal_cost(Goal(GoalKind.OBJECT, np.zeros(3)), OBSERVATION_LAYOUT, control_period=DT)


def smallest_limit_margin(posture_weight: float, goals: int = 20) -> float:
    """The closest any joint came to a limit at the end of ``goals`` end-effector goals in a row."""
    sup, arm = running(posture_weight=posture_weight)
    rng = np.random.default_rng(0)
    half = (ROBOT.upper() - ROBOT.lower()) / 2
    margins = []
    for _ in range(goals):
        target = np.clip(
            FK.tool_tip(HOME + rng.uniform(-0.5, 0.5, 7) * half), [0.25, -0.5, 0.1], [0.8, 0.5, 0.7]
        )
        sup.set_goal(Goal(GoalKind.END_EFFECTOR, target))
        for _ in range(100):
            arm.period()
        assert sup.goal_error() < 0.02
        margins.append(np.min(np.minimum(arm.q - ROBOT.lower(), ROBOT.upper() - arm.q)))
    return float(min(margins))


def test_the_posture_cost_keeps_redundant_joints_off_their_limits_over_many_goals() -> None:
    # Without it, sampling noise walks the joints the tip does not need toward their limits.
    assert smallest_limit_margin(1.0) > 0.25 > smallest_limit_margin(0.0)


@pytest.mark.parametrize("feasible", [True, False])
def test_feasible_plans_reach_the_arm_as_planned(feasible: bool) -> None:
    sup, arm = running(feasible=feasible)
    sup.set_goal(Goal(GoalKind.JOINTS, JOINT_GOAL))
    limited = sum("acceleration" in arm.period().step.command.limited for _ in range(100))
    assert sup.goal_error() < 0.05
    # Sampled within the filter's acceleration limits, plans need no correction; unconstrained ones do.
    assert limited == 0 if feasible else limited > 20


def test_a_lower_speed_limit_takes_effect_at_once_and_is_reached_at_the_acceleration_limit() -> None:
    sup, arm = running()
    source = RolloutSource("integrator", integrator, OBSERVATION_LAYOUT, ("numpy",))
    sup.set_goal(Goal(GoalKind.JOINTS, ROBOT.lower() + 0.1))  # far: the arm runs at full speed
    positions = [arm.q]
    for _ in range(30):
        arm.period()
        positions.append(arm.q)
    slow = SafetyConfig(speed_scale=0.25)
    planner = PlannerConfig(samples=32, horizon=6, elites=8)
    retune_supervisor(sup, source, planner=planner, safety=slow, config=sup.config)
    for _ in range(40):
        assert arm.period().mode == Mode.PLAN  # the goal is kept
        positions.append(arm.q)
    steps = np.diff(np.array(positions), axis=0)
    acc_step = sup.controller.filter.acc_step
    assert np.all(np.abs(np.diff(steps, axis=0)) <= acc_step + 1e-12)  # no jolt when the limit drops
    assert np.max(np.abs(steps[:30])) > 0.5 * np.max(ROBOT.max_step())
    assert np.all(np.abs(steps[-10:]) <= 0.25 * ROBOT.max_step() + 1e-12)
