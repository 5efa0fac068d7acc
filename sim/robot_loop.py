"""The simulated arm driven by the control loop the robot runs.

Every period the arm's joint state and the cube's pose go to a :class:`wm_planner.control.Supervisor`,
stamped with simulated time as a driver would stamp them, and its command goes to the arm. The command
filter, the plan fallback, re-anchoring and holds all act as on the robot, and :class:`LoopStats` counts
how often they did.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.env import ArmEnv
from wm_planner.control import Decision, Goal, Rejected, Supervisor
from wm_planner.observation import CUBE_POSE

__all__ = ["LoopStats", "SupervisedArm"]

_START_S = 1.0
"""Simulated time of an episode's first state: drivers never stamp zero."""


@dataclass
class LoopStats:
    """What the control loop did over some periods: how many went out in each mode, how often each
    limit of the command filter changed a command, and what problems it met."""

    periods: int = 0
    filtered: int = 0
    """Commands that some limit of the filter changed."""
    modes: Counter[str] = field(default_factory=Counter)
    limited: Counter[str] = field(default_factory=Counter)
    problems: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    """Measurements the loop refused, by input and reason (a struck arm faster than its limits, say)."""

    def add(self, decision: Decision) -> None:
        self.periods += 1
        self.modes[str(decision.mode)] += 1
        if decision.problem is not None:
            self.problems[str(decision.problem)] += 1
        if decision.step is not None and decision.step.command.limited:
            self.filtered += 1
            self.limited.update(decision.step.command.limited)

    def to_json(self) -> dict[str, Any]:
        return {
            "periods": self.periods,
            "filtered": self.filtered,
            "modes": dict(self.modes),
            "filter_limited": dict(self.limited),
            "problems": dict(self.problems),
            "rejected": dict(self.rejected),
        }


class SupervisedArm:
    """``start(seed) -> obs``, then ``step() -> (decision, obs, success, truncated)`` until done."""

    def __init__(self, env: ArmEnv, supervisor: Supervisor) -> None:
        if abs(env.dt - supervisor.robot.control_period) > 1e-12:
            raise ValueError(
                f"the environment steps {env.dt} s but the control loop's period is "
                f"{supervisor.robot.control_period} s"
            )
        self.env = env
        self.joints = env.observation_layout.slice("joint_pos"), env.observation_layout.slice("joint_vel")
        self.supervisor = supervisor
        self.stats = LoopStats()
        self.t = _START_S

    def start(self, seed: int) -> np.ndarray:
        """Reset the arm with ``seed`` and aim the loop at the episode's goal."""
        obs = self.env.reset(seed=seed)
        self.begin(obs, seed=seed)
        return obs

    def begin(self, obs: np.ndarray, *, seed: int) -> None:
        """Start an episode from ``obs``, the arm's state just after a reset: the loop forgets the last
        episode, takes the state and aims at the episode's goal."""
        self.supervisor.restart(seed=seed)
        self.t = _START_S
        self._publish(obs)
        self.supervisor.activate()
        self.supervisor.set_goal(Goal(self.env.task.goal_kind, self.env.goal))

    def decide(self) -> tuple[Decision, np.ndarray]:
        """The loop's decision for this period and the joint target it sends the arm ``[J]`` (where the
        last command was, when it sends none)."""
        decision = self.supervisor.tick(self.t)
        self.stats.add(decision)
        target = self.env.command if decision.step is None else decision.step.command.position
        return decision, target

    def observe(self, obs: np.ndarray) -> None:
        """The arm's state ``obs`` one period after the last one, to the loop."""
        self.t += self.env.dt
        self._publish(obs)

    def step(self) -> tuple[Decision, np.ndarray, bool, bool, dict[str, Any]]:
        """One control period: the loop decides, the arm executes it for a period, the state is published."""
        decision, target = self.decide()
        obs, _, success, truncated, info = self.env.step(target - self.env.command)
        self.observe(obs)
        return decision, obs, success, truncated, info

    def _publish(self, obs: np.ndarray) -> None:
        q, qd = (obs[s] for s in self.joints)
        # As on the robot: a refused measurement is counted and the loop goes on without it.
        try:
            self.supervisor.joint_state(q, qd, self.t, now=self.t, clock=self.t)
        except Rejected as error:
            self.stats.rejected[f"joint_state.{error.reason}"] += 1
        try:
            self.supervisor.object_pose(obs[CUBE_POSE])
        except Rejected as error:
            self.stats.rejected[f"object_pose.{error.reason}"] += 1
