"""The nodes' parameters: one table each, declared with descriptors and read back as a plain dict.

The planner node's parameters that configure the library (planner, safety, supervisor, runtime) are
generated from its pydantic models: the same names, defaults, descriptions and ranges, so each default
has one source. ``config/planner.yaml`` and ``config/sim.yaml`` list the same parameters with the same
defaults (a test keeps them in step), so a YAML file passed with ``--params-file`` overrides any subset.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import annotated_types
from pydantic import BaseModel
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node

from wm_planner.config import PlannerConfig, RuntimeConfig, SafetyConfig, SupervisorConfig
from wm_planner_ros.topics import CONTROLLERS

__all__ = [
    "NODE_DEADLINE_MS",
    "PARAMETER_FILES",
    "PLANNER_PARAMETERS",
    "SIM_PARAMETERS",
    "Param",
    "declare_parameters",
    "live",
    "parameter_file",
    "section",
]


@dataclass(frozen=True)
class Param:
    """A parameter: its name, default (which fixes its type), meaning and optional numeric range."""

    name: str
    default: Any
    description: str
    low: float | None = None
    high: float | None = None

    def descriptor(self) -> ParameterDescriptor:
        descriptor = ParameterDescriptor(name=self.name, description=self.description)
        if self.low is None and self.high is None:
            return descriptor
        if isinstance(self.default, int) and not isinstance(self.default, bool):
            low, high = int(self.low if self.low is not None else -(2**62)), int(self.high or 2**62)
            descriptor.integer_range = [IntegerRange(from_value=low, to_value=high)]
        elif isinstance(self.default, float):
            low_f = self.low if self.low is not None else -1e300
            high_f = self.high if self.high is not None else 1e300
            descriptor.floating_point_range = [FloatingPointRange(from_value=low_f, to_value=high_f)]
        return descriptor


def _bounds(metadata: list[Any]) -> tuple[float | None, float | None]:
    low = high = None
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = float(item.ge)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Gt):
            low = float(item.gt)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Le):
            high = float(item.le)  # type: ignore[arg-type]
        elif isinstance(item, annotated_types.Lt):
            high = float(item.lt)  # type: ignore[arg-type]
    return low, high


def _from_model(
    model: type[BaseModel],
    *,
    prefix: str = "",
    skip: tuple[str, ...] = (),
    defaults: dict[str, Any] | None = None,
) -> Iterator[Param]:
    """One parameter per field of ``model``: name ``prefix + field``, the field's default (or
    ``defaults``'), description and range. Tuples become lists, as ROS array parameters are."""
    for name, field in model.model_fields.items():
        if name in skip:
            continue
        default = (defaults or {}).get(name, field.default)
        if isinstance(default, tuple):
            default = list(default)
        low, high = _bounds(field.metadata)
        if isinstance(default, float) and low is not None and high is None:
            high = 1e6
        yield Param(prefix + name, default, field.description or "", low, high)


def section(params: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The values of the parameters named ``prefix`` + field, by field."""
    return {k.removeprefix(prefix): v for k, v in params.items() if k.startswith(prefix)}


NODE_DEADLINE_MS = 16.0
"""The node plans against a deadline (the library's default has none): a plan later than this, in a 20 ms
period, leaves too little time to send its command."""

PLANNER_PARAMETERS: tuple[Param, ...] = (
    Param("model_path", "", "ONNX world-model bundle directory (required)"),
    Param(
        "robot_description",
        "",
        "the robot's URDF text, as robot_state_publisher takes it; empty: the transient-local "
        "/robot_description topic when published, else robot_config",
    ),
    Param(
        "robot_description_wait",
        3.0,
        "s autostart waits for /robot_description when the bundle's robot came from a URDF",
        0.0,
        60.0,
    ),
    Param("robot_config", "", "RobotSpec YAML (joint names, limits, kinematics); empty: the built-in Panda"),
    Param("autostart", False, "configure and activate at start, without a lifecycle manager"),
    Param("control_rate", 50.0, "Hz; must be 1 / the bundle's control period", 1.0, 1000.0),
    Param(
        "command_interface",
        "trajectory",
        "'trajectory' (joint_trajectory_controller) or 'forward' "
        "(forward_command_controller, position interface)",
    ),
    Param("controller_name", CONTROLLERS["trajectory"], "commands go to /<controller_name>/..."),
    Param("trajectory_points", 0, "knots sent per JointTrajectory; 0: all, ending at rest", 0, 1000),
    Param("joint_states_topic", "/joint_states", "sensor_msgs/JointState input"),
    Param("object_pose_topic", "/object_pose", "geometry_msgs/PoseStamped of the pushed object"),
    Param("frame_id", "world", "frame the loop plans in: goals and object poses are transformed into it"),
    Param(
        "static_transforms",
        "",
        "frames goals and object poses may come in besides frame_id: 'parent child x y z qx qy qz qw' "
        "(static_transform_publisher's order), several separated by ';'",
    ),
    Param(
        "joint_states_reliability",
        "auto",
        "'auto' (reliable, or best-effort once a best-effort publisher is seen), 'reliable' or 'best_effort'",
    ),
    Param(
        "joint_states_depth",
        1000,
        "joint states queued for the loop: deep enough that a burst of other messages cannot push the "
        "driver's out",
        1,
        10000,
    ),
    Param("seed", 0, "planner sampling seed", 0, 2**31 - 1),
    *_from_model(SupervisorConfig),
    *_from_model(
        PlannerConfig,
        prefix="planner.",
        skip=("samples", "horizon"),
        defaults={"deadline_ms": NODE_DEADLINE_MS},
    ),
    *_from_model(SafetyConfig, prefix="safety."),
    *_from_model(RuntimeConfig, prefix="runtime.", skip=("trt_cache_dir",)),
    Param("diagnostics_period", 1.0, "s between /diagnostics messages", 0.05, 60.0),
    Param("status_period", 0.2, "s between ~/status messages (and at every mode change)", 0.01, 60.0),
    Param("path_period", 0.1, "s between ~/planned_path messages", 0.01, 60.0),
)

_FIXED_WHILE_COMMANDING = ("safety.position_margin",)


def live(name: str) -> bool:
    """Whether parameter ``name`` may change while the node is configured: the planner's, the safety
    limits' (not the margin: the last command might lie outside a wider one), the loop's and the report
    periods; the others take effect at configure."""
    if name in _FIXED_WHILE_COMMANDING:
        return False
    if name.startswith(("planner.", "safety.")):
        return True
    return name in SupervisorConfig.model_fields or name in ("status_period", "path_period")


SIM_PARAMETERS: tuple[Param, ...] = (
    Param("task", "reach", "'reach' or 'push': where the cube starts and which target marker shows"),
    Param("seed", 0, "seed of the start pose, cube and target at each reset", 0, 2**31 - 1),
    Param("robot", "", "robot folder (wm-planner robot import); empty: the built-in arm on a table"),
    Param("scene", "", "MJCF scene; empty: the robot's twin"),
    Param(
        "calibration",
        "",
        "calibration profile (wm-planner sysid): run its twin (scene, latency, filter, actuator net)",
    ),
    Param("real_time_factor", 1.0, "simulated seconds per wall second; 0: as fast as possible", 0.0, 100.0),
    Param("publish_rate", 100.0, "Hz of /joint_states, /clock and the object pose", 1.0, 1000.0),
    Param("joint_states_topic", "/joint_states", "sensor_msgs/JointState output"),
    Param(
        "joint_states_reliability",
        "reliable",
        "'reliable' (as joint_state_broadcaster) or 'best_effort' (as many drivers publish)",
    ),
    Param("object_pose_topic", "/object_pose", "geometry_msgs/PoseStamped of the cube"),
    Param(
        "trajectory_controller",
        CONTROLLERS["trajectory"],
        "takes trajectory_msgs/JointTrajectory on /<name>/joint_trajectory",
    ),
    Param(
        "forward_controller",
        CONTROLLERS["forward"],
        "takes std_msgs/Float64MultiArray positions on /<name>/commands",
    ),
    Param("frame_id", "world", "frame of the object pose"),
)


_HEADER = """# Parameters of {node}, with their defaults (the node declares the same ones; generated by
# `python -m wm_planner_ros.params`, and a test keeps it in step).
# Pass with: ros2 run wm_planner_ros {node} --ros-args --params-file {file}
# or override in a launch file.{note}
{node}:
  ros__parameters:
"""


def _yaml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    return repr(value)


def _range(param: Param) -> str:
    if param.low is None and param.high is None:
        return ""
    integer = isinstance(param.default, int)
    low = "-inf" if param.low is None else f"{param.low:.0f}" if integer else f"{param.low:g}"
    unbounded = param.high is None or (not integer and param.high >= 1e6)
    high = "inf" if unbounded else f"{param.high:.0f}" if integer else f"{param.high:g}"
    return f" [{low}, {high}]"


def parameter_file(node: str, table: tuple[Param, ...], *, file: str, note: str = "") -> str:
    """The ``ros__parameters`` YAML of ``table``: every parameter with its default, described."""
    lines = [_HEADER.format(node=node, file=file, note=note and f"\n# {note}").rstrip("\n")]
    group = ""
    for param in table:
        prefix, _, name = param.name.rpartition(".")
        indent = "      " if prefix else "    "
        if prefix != group:
            if prefix:
                lines.append(f"    {prefix}:")
            group = prefix
        lines.append(f"{indent}# {param.description}{_range(param)}")
        lines.append(f"{indent}{name}: {_yaml_value(param.default)}")
    return "\n".join(lines) + "\n"


PARAMETER_FILES = {
    "planner.yaml": ("planner_node", PLANNER_PARAMETERS, "model_path is the one that must be set."),
    "sim.yaml": ("sim_node", SIM_PARAMETERS, ""),
}
"""The parameter files of ``config/``: node name, table and a note for the header."""


def declare_parameters(node: Node, table: tuple[Param, ...]) -> dict[str, Any]:
    """Declare every parameter of ``table`` on ``node`` and return their current values by name."""
    for param in table:
        node.declare_parameter(param.name, param.default, param.descriptor())
    return {param.name: node.get_parameter(param.name).value for param in table}


def main() -> int:
    """Write ``config/planner.yaml`` and ``config/sim.yaml`` from the tables (into the directory given,
    or the package's ``config/``)."""
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "config"
    for file, (node, table, note) in PARAMETER_FILES.items():
        (out / file).write_text(parameter_file(node, table, file=file, note=note))
        print(f"wrote {out / file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
