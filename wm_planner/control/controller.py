"""``MpcController``: one control period of model-predictive control, from a measured state to a safe
command, with everything that may go wrong on a robot handled on the way.

Per period: when the arm is far from the commands (it lagged, was blocked or was moved), bring the
commands back to it within the velocity and acceleration limits before planning again (a re-anchor never
steps the command: a real controller would see a step as a fault); plan from the observation; judge the
plan (late or invalid plans fall back to the last good one, then to a hold); and turn the chosen action
into a command through the command filter. The controller
also previews the next commands of the plan and a stop after them, so a trajectory controller that
receives them and then hears nothing more brings the arm to rest by itself.

The controller sees a rollout factory and a cost, never a model class, like the planner it drives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wm_planner.config import RobotSpec, SafetyConfig
from wm_planner.control.judge import BindFn, PlanJudge
from wm_planner.planning.planner import CostFn, Plan, SamplingPlanner
from wm_planner.safety.filter import CommandFilter, FilteredCommand
from wm_planner.safety.status import Mode, Problem

__all__ = ["ControlStep", "MpcController", "Trajectory"]

_NO_ACTIONS = np.zeros((0, 0))
"""What a hold previews after its command: no plan steps, only the stop."""


@dataclass(frozen=True)
class Trajectory:
    """Safe joint ``positions [K, J]`` at times ``dt, 2 dt, ..., K dt`` from now, ending at rest.

    ``velocities [K, J]`` are the knot velocities a spline through the positions should pass with: the
    mean of the filtered velocities into and out of each knot, zero at the last.
    """

    positions: np.ndarray
    velocities: np.ndarray
    dt: float

    @classmethod
    def of(cls, commands: list[FilteredCommand], dt: float) -> Trajectory:
        positions = np.stack([c.position for c in commands])
        inflow = np.stack([c.velocity for c in commands])
        outflow = np.concatenate([inflow[1:], np.zeros_like(inflow[:1])])
        velocities = (inflow + outflow) / 2.0
        velocities[-1] = 0.0
        return cls(positions, velocities, dt)


@dataclass(frozen=True)
class ControlStep:
    """The result of one control period.

    ``command``: the next joint command; ``trajectory``: it and the commands previewed after it.
    ``mode``: the new plan, the last good plan shifted (fallback) or a hold. ``problem`` says what went
    wrong when anything did, ``detail`` in words; ``plan`` is the planner's answer, if it was asked.
    """

    command: FilteredCommand
    trajectory: Trajectory
    mode: Mode
    problem: Problem | None = None
    detail: str = ""
    plan: Plan | None = None


class MpcController:
    """Plans on each call of :meth:`step` and keeps the commands safe (see the module docstring).

    ``joint_slice``: where the measured joint positions sit in the observation. ``preview_steps``: plan
    steps previewed after the command (the stop that follows adds as many steps as braking needs).
    """

    def __init__(
        self,
        planner: SamplingPlanner,
        bind: BindFn,
        robot: RobotSpec,
        *,
        joint_slice: slice,
        safety: SafetyConfig | None = None,
        preview_steps: int = 8,
    ) -> None:
        if preview_steps < 0:
            raise ValueError(f"preview_steps must be >= 0, got {preview_steps}")
        self.robot = robot
        self.safety = safety or SafetyConfig()
        self.joint_slice = joint_slice
        self.preview_steps = preview_steps
        self.filter = CommandFilter(robot, self.safety)
        self.judge = PlanJudge(planner, bind, max_reuse=self.safety.max_plan_reuse)
        self.reanchors = 0
        self.blend_periods = 0
        self._blending = False
        self._restarted = ""
        # A stop from full speed at the acceleration limit, plus one step for rounding.
        speed = self.filter.max_step / self.filter.acc_step
        self._max_stop_steps = int(np.ceil(np.max(speed))) + 1

    def retune(self, planner: SamplingPlanner, safety: SafetyConfig) -> None:
        """Plan with ``planner`` and filter with the limits of ``safety`` from the next period on, going
        on from the last command (a lowered speed limit is reached at the acceleration limit)."""
        self.filter = self.filter.retuned(safety)
        self.safety = safety
        self.judge.planner = planner
        self.judge.fallback.max_reuse = safety.max_plan_reuse
        self.judge.fallback.reset()

    def set_goal(self, cost: CostFn | None) -> None:
        """Plan toward ``cost`` from now on (None: hold); a new goal starts the plan afresh."""
        self.judge.aim(cost)

    def reset(self, position: np.ndarray, velocity: np.ndarray | None = None) -> None:
        """Restart commands from the measured ``position [J]`` (and ``velocity [J]``) and forget plans."""
        self.filter.reset(position, velocity)
        self.judge.forget()
        self._blending = False

    def restart_at(self, position: np.ndarray, velocity: np.ndarray | None = None) -> None:
        """The arm's driver restarted at ``position [J]``: commands restart there, a step if the arm is
        elsewhere (a fresh driver holds where the arm is, so continuing the old commands would move it
        back); the next step reports it as a re-anchor."""
        error = float(np.max(np.abs(np.asarray(position) - self.filter.position)))
        self.reset(position, velocity)
        if error > self.safety.max_tracking_error:
            self.reanchors += 1
            self._restarted = (
                f"driver restarted {error:.3f} rad from the last command: commands restart there"
            )

    def step(self, obs: np.ndarray) -> ControlStep:
        """The command for this period from the observation ``obs [O]``."""
        measured = np.asarray(obs[self.joint_slice], dtype=np.float64)
        reanchored = self._restarted or self._reanchor_if_far(measured)
        self._restarted = ""
        if self._blending:
            return self._blend(measured, reanchored)
        judged = self.judge.decide(obs, previous=self.filter.step)
        if judged.actions is None:
            return self._with_plan(self.hold(judged.problem, judged.detail), judged.plan)
        command = self.filter.filter(self.filter.position + judged.actions[0])
        preview = self._preview(command, judged.actions[1 : 1 + self.preview_steps])
        if judged.problem is None and reanchored:
            return ControlStep(command, preview, Mode.PLAN, Problem.REANCHORED, reanchored, judged.plan)
        return ControlStep(command, preview, judged.mode, judged.problem, judged.detail, judged.plan)

    def hold(self, problem: Problem | None = None, detail: str = "") -> ControlStep:
        """A smooth stop where the commands are; the next plan starts afresh."""
        self.judge.forget()
        command = self.filter.hold()
        return ControlStep(
            command, self._preview(command, _NO_ACTIONS), Mode.HOLD, problem, detail or str(problem or "")
        )

    def brake(self, problem: Problem | None = None, detail: str = "") -> ControlStep:
        """A smooth stop from the current command, sent between periods (a watchdog that noticed stale
        state). Unlike :meth:`hold` it does not take this period's step: the next period's command follows
        the last one by one period, as the arm does, however many brakes went out in between."""
        fork = self.filter.fork()
        command = fork.hold()
        preview = self._preview(command, _NO_ACTIONS, source=fork)
        return ControlStep(command, preview, Mode.HOLD, problem, detail or str(problem or ""))

    def _reanchor_if_far(self, measured: np.ndarray) -> str:
        """Start (or go on) bringing the commands back to the ``measured [J]`` arm when it is further
        from them than ``max_tracking_error``, until it is within half of that; says so ("" if not)."""
        error = float(np.max(np.abs(measured - self.filter.position)))
        limit = self.safety.max_tracking_error
        if self._blending and error <= limit / 2.0:
            self._blending = False
            self.judge.forget()
            return "commands back at the measured arm: planning again"
        if not self._blending and error <= limit:
            return ""
        if not self._blending:
            self.reanchors += 1
            self._blending = True
        return f"arm {error:.3f} rad from the last command: bringing the commands back to it"

    def _blend(self, measured: np.ndarray, detail: str) -> ControlStep:
        """A command toward the measured arm, within every limit of the filter (no step)."""
        self.blend_periods += 1
        command = self.filter.filter(measured)
        return ControlStep(
            command, self._preview(command, _NO_ACTIONS), Mode.HOLD, Problem.REANCHORED, detail
        )

    def _preview(
        self, first: FilteredCommand, actions: np.ndarray, *, source: CommandFilter | None = None
    ) -> Trajectory:
        """``first``, the filtered commands of ``actions [K, A]`` after it, then a stop; ``source`` is the
        filter that produced ``first`` (this controller's own by default)."""
        fork = (source or self.filter).fork()
        commands = [first]
        for action in actions:
            commands.append(fork.filter(fork.position + action))
        for _ in range(self._max_stop_steps):
            if fork.at_rest:
                break
            commands.append(fork.hold())
        return Trajectory.of(commands, self.filter.dt)

    @staticmethod
    def _with_plan(step: ControlStep, plan: Plan | None) -> ControlStep:
        return ControlStep(step.command, step.trajectory, step.mode, step.problem, step.detail, plan)
