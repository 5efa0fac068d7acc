"""The planner node's parameters turned into the library's configs and its control loop.

Nothing here touches ROS messages: the loop is :class:`wm_planner.control.Supervisor`, built by the same
factory as ``wm-planner eval``. Needs numpy, pydantic, pyyaml and onnxruntime only (no torch, no MuJoCo).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from wm_planner.config import (
    PlannerConfig,
    RobotSpec,
    RuntimeConfig,
    SafetyConfig,
    SupervisorConfig,
    default_robot_spec,
    load_yaml_model,
    validate_model,
)
from wm_planner.control import (
    Goal,
    GoalKind,
    RolloutSource,
    Supervisor,
    build_supervisor,
    bundle_source,
    goal_cost,
    retune_supervisor,
)
from wm_planner.runtime import BundleError, read_bundle_metadata
from wm_planner.urdf import UrdfError, robot_from_description
from wm_planner_ros.params import section

__all__ = ["PlanningStack", "load_stack", "retune_stack"]

COMMAND_INTERFACES = ("trajectory", "forward")


@dataclass(frozen=True)
class PlanningStack:
    robot: RobotSpec
    source: RolloutSource
    supervisor: Supervisor

    @property
    def provider(self) -> str:
        return self.source.providers[0]

    def warm_up(self, rounds: int = 3) -> None:
        """Plan a few times from mid-range joints so the first real period is not the slow first run."""
        q = (self.robot.lower() + self.robot.upper()) / 2.0
        builder = self.supervisor.observations
        goal = Goal(GoalKind.END_EFFECTOR, builder.tool_tip(q))
        cost = goal_cost(goal, builder.layout, control_period=self.robot.control_period)
        planner = self.supervisor.controller.judge.planner
        for _ in range(rounds):
            planner.plan(self.source.bind(builder.build(q, np.zeros_like(q))), cost)
        planner.reset()


def load_stack(params: dict[str, Any]) -> PlanningStack:
    """Build the control loop from the node's parameters; raises ``ValueError`` (a
    :class:`~wm_planner.config.ConfigError` or :class:`BundleError`) naming the parameter or file."""
    if params["command_interface"] not in COMMAND_INTERFACES:
        interface = params["command_interface"]
        raise ValueError(f"command_interface must be 'trajectory' or 'forward', got {interface!r}")
    model_path = params["model_path"]
    if not model_path:
        raise ValueError("parameter model_path is empty: set it to an ONNX bundle directory")
    if not Path(model_path).is_dir():
        raise BundleError(f"model_path {model_path}: no such bundle directory")
    robot = _robot(params)
    if abs(1.0 / params["control_rate"] - robot.control_period) > 1e-9:
        raise ValueError(
            f"control_rate {params['control_rate']} Hz does not match the robot's control period "
            f"{robot.control_period} s: the model's actions are per control period"
        )
    planner, safety, loop = _loop_configs(params)
    runtime = validate_model(RuntimeConfig, section(params, "runtime."), source="runtime.* parameters")
    source = bundle_source(model_path, robot=robot, runtime=runtime, planner=planner)
    supervisor = build_supervisor(
        source, robot, planner=planner, safety=safety, supervisor=loop, seed=params["seed"]
    )
    return PlanningStack(robot, source, supervisor)


def _robot(params: dict[str, Any]) -> RobotSpec:
    """The robot the node commands: the one ``robot_description`` describes, along the bundle's chain (what
    differs from the bundle's robot is refused when the bundle is loaded); else ``robot_config``; else the
    built-in arm."""
    if params["robot_description"]:
        bundle = read_bundle_metadata(params["model_path"]).robot
        try:
            return robot_from_description(params["robot_description"], bundle)
        except UrdfError as error:
            raise BundleError(
                f"robot_description does not describe the robot of bundle {params['model_path']} "
                f"({bundle.name}: {', '.join(bundle.joint_names)}): {error}"
            ) from None
    if params["robot_config"]:
        return load_yaml_model(params["robot_config"], RobotSpec)
    return default_robot_spec()


def _loop_configs(params: dict[str, Any]) -> tuple[PlannerConfig, SafetyConfig, SupervisorConfig]:
    planner = validate_model(PlannerConfig, section(params, "planner."), source="planner.* parameters")
    safety = validate_model(SafetyConfig, section(params, "safety."), source="safety.* parameters")
    loop = validate_model(
        SupervisorConfig,
        {name: params[name] for name in SupervisorConfig.model_fields},
        source="supervisor parameters",
    )
    return planner, safety, loop


def retune_stack(stack: PlanningStack, params: dict[str, Any]) -> str:
    """The planner, safety and loop settings of ``params`` in effect from the next period on (a note when
    the goal had to be cleared or clamped); raises ``ValueError`` naming the parameter, and nothing
    changes then."""
    planner, safety, loop = _loop_configs(params)
    return retune_supervisor(
        stack.supervisor, stack.source, planner=planner, safety=safety, config=loop, seed=params["seed"]
    )
