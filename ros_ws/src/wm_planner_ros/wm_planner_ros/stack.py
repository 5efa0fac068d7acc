"""Everything the planner node plans with, built from its parameters: model, planner, controller,
observation builder, and the goal checks. Nothing here touches ROS, so it is built and tested alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sim.observation import ObservationBuilder
from wm_planner.config import (
    PlannerConfig,
    RobotSpec,
    RuntimeConfig,
    SafetyConfig,
    default_robot_spec,
    load_yaml_model,
    validate_model,
)
from wm_planner.control import MpcController
from wm_planner.planning import JointCost, PushCost, ReachCost, make_planner
from wm_planner.runtime import BundleError, OnnxRollout, OnnxWorldModel

__all__ = ["GoalCheck", "PlanningStack", "load_stack"]


@dataclass(frozen=True)
class GoalCheck:
    """Checks goals against the workspace box and the joint limits; ``clamp`` or reject outside them."""

    workspace_low: np.ndarray
    workspace_high: np.ndarray
    joint_low: np.ndarray
    joint_high: np.ndarray
    clamp: bool

    def _check(
        self, goal: np.ndarray, low: np.ndarray, high: np.ndarray, what: str
    ) -> tuple[np.ndarray, str]:
        outside = (goal < low) | (goal > high)
        if not outside.any():
            return goal, ""
        detail = f"{what} {np.round(goal, 4).tolist()} outside [{low.tolist()}, {high.tolist()}]"
        if not self.clamp:
            raise ValueError(f"{detail}: rejected (goal_out_of_bounds: reject)")
        return np.clip(goal, low, high), f"{detail}: clamped"

    def end_effector(self, position: np.ndarray) -> tuple[np.ndarray, str]:
        """The goal ``[3]`` to use and a note if it was clamped; ``ValueError`` if rejected."""
        return self._check(position, self.workspace_low, self.workspace_high, "end-effector goal")

    def joints(self, positions: np.ndarray) -> tuple[np.ndarray, str]:
        return self._check(positions, self.joint_low, self.joint_high, "joint goal")


@dataclass(frozen=True)
class PlanningStack:
    robot: RobotSpec
    model: OnnxWorldModel
    controller: MpcController
    observations: ObservationBuilder
    goals: GoalCheck
    object_default_pose: np.ndarray

    @property
    def state_timeout_s(self) -> float:
        return self.controller.safety.state_timeout_periods * self.robot.control_period

    @property
    def provider(self) -> str:
        return self.model.providers[0]

    def ee_goal(self, position: np.ndarray) -> ReachCost:
        return ReachCost(self.observations.layout, position)

    def joint_goal(self, positions: np.ndarray) -> JointCost:
        return JointCost(self.observations.layout, positions)

    def object_goal(self, position: np.ndarray) -> PushCost:
        return PushCost(self.observations.layout, position, control_period=self.robot.control_period)

    def warm_up(self, rounds: int = 3) -> None:
        """Plan a few times from the home pose so the first real period is not the slow first run."""
        q = (self.robot.lower() + self.robot.upper()) / 2.0
        obs = self.observations.build(q, np.zeros_like(q), self.object_default_pose)
        goal = self.ee_goal(self.observations.tool_tip(q))
        planner = self.controller.planner
        for _ in range(rounds):
            planner.plan(self.controller.bind(obs), goal)
        planner.reset()


def _robot(path: str) -> RobotSpec:
    return load_yaml_model(path, RobotSpec) if path else default_robot_spec()


def load_stack(params: dict[str, Any]) -> PlanningStack:
    """Build the planning stack from the node's parameters; raises ``ValueError`` (or
    :class:`BundleError`, a ``ValueError``) saying which parameter or file is wrong."""
    model_path = params["model_path"]
    if not model_path:
        raise ValueError("parameter model_path is empty: set it to an ONNX bundle directory")
    if not Path(model_path).is_dir():
        raise BundleError(f"model_path {model_path}: no such bundle directory")
    robot = _robot(params["robot_config"])
    period = 1.0 / params["control_rate"]
    if abs(period - robot.control_period) > 1e-9:
        raise ValueError(
            f"control_rate {params['control_rate']} Hz does not match the robot's control period "
            f"{robot.control_period} s: the model's actions are per control period"
        )
    observations = ObservationBuilder(params["scene"] or None, robot=robot)
    model = OnnxWorldModel(
        model_path,
        robot=robot,
        observation_layout=observations.layout,
        runtime=validate_model(RuntimeConfig, {"providers": list(params["providers"])}, source="providers"),
    )
    planner_config = validate_model(
        PlannerConfig,
        {
            "algorithm": params["algorithm"],
            "samples": model.samples,
            "horizon": model.horizon,
            "iterations": params["iterations"],
            "temperature": params["temperature"],
            "deadline_ms": params["plan_deadline_ms"],
            "elites": min(PlannerConfig().elites, model.samples),
        },
        source="planner parameters",
    )
    safety = validate_model(
        SafetyConfig,
        {k.removeprefix("safety."): v for k, v in params.items() if k.startswith("safety.")},
        source="safety parameters",
    )
    planner = make_planner(
        planner_config,
        action_low=-robot.max_step(),
        action_high=robot.max_step(),
        seed=params["seed"],
    )
    controller = MpcController(
        planner,
        OnnxRollout(model, uncertainty_weight=planner_config.uncertainty_weight).bind,
        robot,
        joint_slice=observations.layout.slice("joint_pos"),
        velocity_slice=observations.layout.slice("joint_vel"),
        safety=safety,
        preview_steps=params["preview_steps"],
    )
    margin = safety.position_margin
    if params["goal_out_of_bounds"] not in ("reject", "clamp"):
        raise ValueError(
            f"goal_out_of_bounds must be 'reject' or 'clamp', got {params['goal_out_of_bounds']!r}"
        )
    goals = GoalCheck(
        workspace_low=_vector(params, "goal_workspace_min", 3),
        workspace_high=_vector(params, "goal_workspace_max", 3),
        joint_low=robot.lower() + margin,
        joint_high=robot.upper() - margin,
        clamp=params["goal_out_of_bounds"] == "clamp",
    )
    return PlanningStack(
        robot, model, controller, observations, goals, _vector(params, "object_default_pose", 7)
    )


def _vector(params: dict[str, Any], name: str, size: int) -> np.ndarray:
    values = np.asarray(params[name], dtype=np.float64)
    if values.shape != (size,) or not np.all(np.isfinite(values)):
        raise ValueError(f"parameter {name} must be {size} finite numbers, got {list(params[name])}")
    return values
