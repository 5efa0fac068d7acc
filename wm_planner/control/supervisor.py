"""``Supervisor``: the control loop the robot runs, without ROS.

It takes plain values (joint states with their stamps, object poses, goals, the time) and decides each
period what goes to the arm and why: a plan, a fallback, a hold or nothing at all. It owns every check
on its inputs, the stale-state watchdog, goal checks and re-anchoring, and wraps :class:`MpcController`.
The ROS node, ``wm-planner eval`` and planner-driven collection all drive one of these, so what is
evaluated is what the robot runs.

Two clocks: ``now`` is a steady clock (the watchdog must not freeze with a stalled simulation clock),
``clock`` is the clock joint-state stamps are written in (ROS time, possibly simulated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wm_planner.config import SafetyConfig, SupervisorConfig
from wm_planner.control.controller import ControlStep, MpcController
from wm_planner.control.goals import Goal, GoalBounds, GoalKind, PushGeometry, goal_cost, goal_error
from wm_planner.control.inputs import Rejected, check_finite, check_measured, max_travel
from wm_planner.observation import ObservationBuilder
from wm_planner.planning import PostureCost, SamplingPlanner
from wm_planner.safety.status import Mode, Problem
from wm_planner.safety.watchdog import StateWatchdog

__all__ = ["Decision", "Supervisor"]


@dataclass(frozen=True)
class Decision:
    """What one period (or an early watchdog check) decided: the step to send (None: send nothing),
    and the loop's mode, problem and its details in words."""

    step: ControlStep | None
    mode: Mode
    problem: Problem | None
    detail: str = ""


class Supervisor:
    """Decides every control period what the arm is commanded (see the module docstring).

    Inputs: :meth:`joint_state`, :meth:`object_pose`, :meth:`set_goal`, :meth:`pause`, :meth:`reset`;
    rejected inputs raise :class:`Rejected`. Each period: :meth:`tick`; between periods: :meth:`watch`.
    The loop commands only while active (:meth:`activate`, :meth:`stop`).
    """

    def __init__(
        self,
        controller: MpcController,
        observations: ObservationBuilder,
        *,
        push: PushGeometry,
        config: SupervisorConfig | None = None,
    ) -> None:
        self.controller = controller
        self.observations = observations
        self.robot = controller.robot
        self.push = push
        """The tool's and the object's sizes that object goals are planned with."""
        self.watchdog = StateWatchdog(controller.safety.state_timeout_periods * self.robot.control_period)
        self._configure(config or SupervisorConfig())
        self.state: tuple[np.ndarray, np.ndarray] | None = None
        self.object: np.ndarray | None = None
        self.goal: Goal | None = None
        self.paused = False
        self.active = False
        self.last = Decision(None, Mode.IDLE, Problem.WAITING_FOR_STATE)
        self._stamp: float | None = None
        self.states_accepted = 0
        """Joint states taken into the loop so far (a stream's lost states show as too few of these)."""
        self._anchored = False

    def _configure(self, config: SupervisorConfig) -> None:
        self.config = config
        self.bounds = GoalBounds.of(self.robot, self.controller.safety, config)
        self.posture = (
            PostureCost(
                self.observations.layout,
                self.robot.lower(),
                self.robot.upper(),
                weight=config.posture_weight,
                free=config.posture_free,
            )
            if config.posture_weight > 0.0
            else None
        )
        self.watchdog.timeout_s = self.controller.safety.state_timeout_periods * self.robot.control_period
        self.controller.preview_steps = config.preview_steps

    def retune(self, config: SupervisorConfig, *, planner: SamplingPlanner, safety: SafetyConfig) -> str:
        """New settings from the next period on, without stopping: the loop's ``config``, the
        ``planner`` and the command filter's ``safety`` limits (see :meth:`MpcController.retune`). The
        goal is kept and checked against the new bounds; returns a note when that cleared or clamped it."""
        self.controller.retune(planner, safety)
        self._configure(config)
        if self.goal is None:
            return ""
        try:
            return self.set_goal(self.goal)
        except Rejected as error:
            self.clear_goal()
            return f"goal cleared: {error}"

    # inputs ---------------------------------------------------------------------------------------

    @property
    def stamp(self) -> float | None:
        """Stamp (s) of the latest joint state taken into the loop."""
        return self._stamp

    def joint_state(
        self, q: np.ndarray, qd: np.ndarray | None, stamp: float, *, now: float, clock: float
    ) -> None:
        """A measured state ``q [J]``, ``qd [J]`` (None: unknown) stamped ``stamp`` (s, on ``clock``),
        received at ``now`` (steady s). Raises :class:`Rejected` for a state no arm can be in, an
        unstamped, older or future one, or one that jumped further than the arm can move."""
        q = check_finite(q, "position")
        qd = None if qd is None else check_finite(qd, "velocity")
        check_measured(self.robot, q, qd)
        if stamp <= 0.0:
            raise Rejected("unstamped", "stamp is zero")
        in_stream = self._in_stream(now)
        if in_stream and self._stamp is not None and stamp < self._stamp:
            raise Rejected("out_of_order", f"stamp {stamp:.4f} s is older than {self._stamp:.4f} s")
        lead = stamp - clock
        if lead > self.config.max_stamp_lead:
            raise Rejected("future_stamp", f"stamp is {lead:.3f} s ahead of the clock")
        if in_stream and self.state is not None and self._stamp is not None:
            elapsed = stamp - self._stamp
            jump = np.abs(q - self.state[0])
            if np.any(jump > max_travel(self.robot, elapsed)):
                raise Rejected("jump", f"joints moved {np.round(jump, 3).tolist()} rad in {elapsed:.3f} s")
        restarted = self._stamp is not None and not in_stream
        self._stamp = stamp
        self.states_accepted += 1
        self.state = (q, np.zeros_like(q) if qd is None else qd)
        self.watchdog.feed(now)
        if self.active and not self._anchored:
            self.controller.reset(*self.state)
            self._anchored = True
        elif self.active and restarted:
            self.controller.restart_at(*self.state)

    def _in_stream(self, now: float) -> bool:
        """Whether the next state continues the last one. Only after a real outage (a restarted driver or
        simulation, whose clock may start again from zero) may a stream begin afresh; a brief gap, or a
        flood of other messages delaying the caller, must not let an old or forged state in."""
        return self._stamp is not None and self.watchdog.age(now) < self.config.stream_restart

    def object_pose(self, pose: np.ndarray) -> None:
        """The object's measured pose ``[x, y, z, qw, qx, qy, qz]`` (world frame); :class:`Rejected`
        when not finite or outside the workspace (:meth:`GoalBounds.check_object_pose`)."""
        self.object = self.bounds.check_object_pose(pose)

    def set_goal(self, goal: Goal) -> str:
        """Plan toward ``goal`` from now on; returns a note when it was clamped into bounds."""
        goal, note = self.bounds.check(goal)
        self.goal = goal
        layout = self.observations.layout
        period = self.robot.control_period
        self.controller.set_goal(
            goal_cost(goal, layout, control_period=period, posture=self.posture, push=self.push)
        )
        return note

    def clear_goal(self) -> None:
        self.goal = None
        self.controller.set_goal(None)

    def pause(self, paused: bool) -> None:
        self.paused = paused

    def reset(self) -> None:
        """Clear the goal and restart the commands from the measured state."""
        self.clear_goal()
        if self.state is not None:
            self.controller.reset(*self.state)

    def restart(self, *, seed: int | None = None) -> None:
        """Forget the measured state, its stream and the goal: the robot was replaced or reset (a new
        simulated episode). Nothing is commanded until the next state arrives; the planner's sampling
        restarts from ``seed`` (None: its own)."""
        self.clear_goal()
        self.state = self.object = self._stamp = None
        self.watchdog.clear()
        self._anchored = False
        self.last = Decision(None, Mode.IDLE, Problem.WAITING_FOR_STATE)
        self.controller.judge.planner.reset(seed=seed)

    # the loop -------------------------------------------------------------------------------------

    def activate(self) -> None:
        """Start commanding: from the measured state if there is one, else from the first that arrives."""
        self.active = True
        self._anchored = self.state is not None
        if self.state is not None:
            self.controller.reset(*self.state)

    def stop(self) -> ControlStep | None:
        """Stop commanding; the hold to send last (None if nothing was ever commanded)."""
        was_commanding = self.active and self._anchored
        self.active = self._anchored = False
        if not was_commanding:
            return None
        step = self.controller.hold(Problem.STOPPED)
        self.last = Decision(step, step.mode, step.problem, step.detail)
        return step

    def tick(self, now: float) -> Decision:
        """This period's decision."""
        self.last = self._decide(now, between_periods=False)
        return self.last

    def watch(self, now: float) -> Decision | None:
        """Between periods: a brake as soon as the state goes stale (None while all is well), so the hold
        goes out within the timeout plus the check interval, not plus a whole period."""
        if not self._anchored or self.last.problem == Problem.STATE_STALE or not self.watchdog.stale(now):
            return None
        self.last = self._decide(now, between_periods=True)
        return self.last

    def _decide(self, now: float, *, between_periods: bool) -> Decision:
        if not self.active or not self._anchored:
            # Without a measured state there is nothing safe to command, not even a hold.
            return Decision(None, Mode.IDLE, Problem.WAITING_FOR_STATE if self.active else Problem.STOPPED)
        controller = self.controller
        if self.watchdog.stale(now):
            if controller.filter.at_rest:
                # The arm was brought to rest; repeating that command could only do harm if the driver
                # came back elsewhere (restarted, or the arm moved by hand).
                return Decision(None, Mode.IDLE, Problem.STATE_STALE)
            # Between periods the commands' timeline must not advance: each early hold would put the
            # commands a period further ahead of the arm, and a flickering stream re-anchored it.
            stale = controller.brake if between_periods else controller.hold
            return self._of(stale(Problem.STATE_STALE))
        if self.paused:
            return self._of(controller.hold(Problem.PAUSED))
        return self._of(controller.step(self.observation()))

    @staticmethod
    def _of(step: ControlStep) -> Decision:
        return Decision(step, step.mode, step.problem, step.detail)

    # reports --------------------------------------------------------------------------------------

    def observation(self) -> np.ndarray:
        """The model's observation ``[O]`` of the latest state and object pose."""
        if self.state is None:
            raise RuntimeError("no joint state yet")
        pose = self.object if self.object is not None else np.array(self.config.object_default_pose)
        return self.observations.build(*self.state, pose)

    def goal_error(self) -> float | None:
        """Distance of the latest state from the goal (see :func:`goal_error`); None without a goal, a
        state, or, for an object goal, a measured object pose."""
        if self.goal is None or self.state is None:
            return None
        if self.goal.kind == GoalKind.OBJECT and self.object is None:
            return None
        return goal_error(self.goal, self.observation(), self.observations.layout)
