"""Task definitions: how a goal is sampled, measured and judged. Pure functions of the observation."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from sim.workspace import Workspace
from wm_planner.control import GoalKind
from wm_planner.observation import CUBE, CUBE_POS, EE_POS, OBSERVATION_LAYOUT

__all__ = ["CUBE", "OBSERVATION_LAYOUT", "TASKS", "PushTask", "ReachTask", "Task", "get_task"]


@dataclass(frozen=True)
class Task(ABC):
    """A goal position in the world frame, the observed position it is compared to and a tolerance."""

    name: str
    success_radius: float
    """Success when :meth:`error` is within this distance (m)."""
    goal_kind: GoalKind
    """What the goal is a position of, for the control loop."""
    cube_low: tuple[float, float] = (0.42, -0.15)
    cube_high: tuple[float, float] = (0.58, 0.15)
    """Where the cube starts (m, x y): the shipped arm's region unless the robot's workspace says."""

    @abstractmethod
    def sample_goal(self, rng: np.random.Generator, cube_xy: np.ndarray) -> np.ndarray:
        """A goal ``[3]`` in the world frame for a cube starting at ``cube_xy``."""

    @abstractmethod
    def error(self, obs: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Distance to goal (m) of ``obs: [..., O]``, shape ``[...]``."""

    def cube_start(self, rng: np.random.Generator) -> np.ndarray:
        """Cube position ``[x, y]`` on the table at reset."""
        low, high = self.cube_low, self.cube_high
        return np.array([rng.uniform(low[0], high[0]), rng.uniform(low[1], high[1])])


@dataclass(frozen=True)
class ReachTask(Task):
    """Bring the tool tip to a point in the workspace above the table."""

    name: str = "reach"
    success_radius: float = 0.02
    goal_kind: GoalKind = GoalKind.END_EFFECTOR
    low: tuple[float, float, float] = (0.30, -0.30, 0.12)
    high: tuple[float, float, float] = (0.60, 0.30, 0.50)

    def sample_goal(self, rng: np.random.Generator, cube_xy: np.ndarray) -> np.ndarray:
        return rng.uniform(self.low, self.high)

    def error(self, obs: np.ndarray, goal: np.ndarray) -> np.ndarray:
        return np.linalg.norm(obs[..., EE_POS] - goal, axis=-1)


@dataclass(frozen=True)
class PushTask(Task):
    """Slide the cube across the table to a target; success is judged in the table plane."""

    name: str = "push"
    success_radius: float = 0.03
    goal_kind: GoalKind = GoalKind.OBJECT
    min_distance: float = 0.08
    max_distance: float = 0.18
    table_low: tuple[float, float] = (0.30, -0.30)
    table_high: tuple[float, float] = (0.70, 0.30)

    def sample_goal(self, rng: np.random.Generator, cube_xy: np.ndarray) -> np.ndarray:
        low, high = np.array(self.table_low), np.array(self.table_high)
        for _ in range(100):
            angle = rng.uniform(-np.pi, np.pi)
            dist = rng.uniform(self.min_distance, self.max_distance)
            target = cube_xy + dist * np.array([np.cos(angle), np.sin(angle)])
            if np.all(target >= low) and np.all(target <= high):
                return np.array([target[0], target[1], 0.0])
        raise RuntimeError("could not sample a push target on the table")

    def error(self, obs: np.ndarray, goal: np.ndarray) -> np.ndarray:
        return np.linalg.norm(obs[..., CUBE_POS][..., :2] - goal[..., :2], axis=-1)


TASKS: dict[str, Task] = {"reach": ReachTask(), "push": PushTask()}
"""The tasks of the shipped arm."""


def get_task(name: str, workspace: Workspace | None = None) -> Task:
    """Task ``name``, in ``workspace``'s regions (default: the shipped arm's)."""
    if name not in TASKS:
        raise ValueError(f"unknown task {name!r}; choose one of {sorted(TASKS)}")
    if workspace is None:
        return TASKS[name]
    cube_low, cube_high = workspace.cube_low, workspace.cube_high
    if name == "reach":
        return ReachTask(
            low=workspace.reach_low, high=workspace.reach_high, cube_low=cube_low, cube_high=cube_high
        )
    return PushTask(
        table_low=workspace.push_low, table_high=workspace.push_high, cube_low=cube_low, cube_high=cube_high
    )
