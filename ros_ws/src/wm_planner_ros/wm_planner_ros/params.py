"""The nodes' parameters: one table each, declared with descriptors and read back as a plain dict.

``config/planner.yaml`` and ``config/sim.yaml`` list the same parameters with the same defaults (a test
keeps them in step), so a YAML file passed with ``--params-file`` overrides any subset.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
from rclpy.node import Node

from wm_planner.config import RuntimeConfig, SafetyConfig
from wm_planner_ros.topics import CONTROLLERS

__all__ = ["PLANNER_PARAMETERS", "SIM_PARAMETERS", "Param", "declare_parameters"]


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
        if self.low is not None and self.high is not None:
            if isinstance(self.default, int) and not isinstance(self.default, bool):
                descriptor.integer_range = [IntegerRange(from_value=int(self.low), to_value=int(self.high))]
            elif isinstance(self.default, float):
                descriptor.floating_point_range = [
                    FloatingPointRange(from_value=self.low, to_value=self.high)
                ]
        return descriptor


_SAFETY = SafetyConfig()


PLANNER_PARAMETERS: tuple[Param, ...] = (
    Param("model_path", "", "ONNX world-model bundle directory (required)"),
    Param("robot_config", "", "RobotSpec YAML (joint names and limits); empty: the built-in Panda"),
    Param("scene", "", "MJCF whose arm gives the tool tip by forward kinematics; empty: the built-in scene"),
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
    Param("preview_steps", 8, "plan steps previewed after the next command", 0, 1000),
    Param("joint_states_topic", "/joint_states", "sensor_msgs/JointState input"),
    Param("object_pose_topic", "/object_pose", "geometry_msgs/PoseStamped of the pushed object"),
    Param(
        "object_default_pose",
        [0.5, 0.0, 0.025, 1.0, 0.0, 0.0, 0.0],
        "object pose [x y z qw qx qy qz] used until one arrives (reach goals do not need it)",
    ),
    Param("frame_id", "world", "frame of goals, the object pose and the planned path"),
    Param("goal_workspace_min", [0.2, -0.6, 0.02], "m; lower corner of allowed end-effector goals"),
    Param("goal_workspace_max", [0.85, 0.6, 0.8], "m; upper corner of allowed end-effector goals"),
    Param("goal_out_of_bounds", "reject", "'reject' or 'clamp' goals outside the workspace or joint limits"),
    Param("max_stamp_lead", 0.05, "s a joint state stamp may be ahead of this node's clock", 0.0, 10.0),
    Param("algorithm", "mppi", "'mppi' or 'cem'"),
    Param("iterations", 2, "planner rounds per control period", 1, 100),
    Param("temperature", 0.05, "MPPI temperature, relative to a round's cost spread", 1e-6, 100.0),
    Param("plan_deadline_ms", 16.0, "plans later than this fall back to the previous plan", 0.1, 10000.0),
    Param("seed", 0, "planner sampling seed", 0, 2**31 - 1),
    Param("providers", list(RuntimeConfig().providers), "ONNX Runtime execution providers, in order"),
    Param("safety.position_margin", _SAFETY.position_margin, "rad kept clear of each joint limit", 0.0, 1.0),
    Param("safety.speed_scale", _SAFETY.speed_scale, "fraction of the velocity limits", 0.01, 1.0),
    Param(
        "safety.acceleration_scale",
        _SAFETY.acceleration_scale,
        "fraction of the acceleration limits",
        0.01,
        1.0,
    ),
    Param(
        "safety.state_timeout_periods",
        _SAFETY.state_timeout_periods,
        "control periods without a joint state before holding",
        0.5,
        100.0,
    ),
    Param(
        "safety.max_tracking_error",
        _SAFETY.max_tracking_error,
        "rad between command and arm before commands restart from the arm",
        0.001,
        10.0,
    ),
    Param(
        "safety.max_plan_reuse",
        _SAFETY.max_plan_reuse,
        "periods a late or invalid plan may be replaced by the last good one",
        0,
        1000,
    ),
    Param("diagnostics_period", 1.0, "s between /diagnostics messages", 0.05, 60.0),
    Param("status_period", 0.2, "s between ~/status messages (and at every mode change)", 0.01, 60.0),
    Param("path_period", 0.1, "s between ~/planned_path messages", 0.01, 60.0),
)

SIM_PARAMETERS: tuple[Param, ...] = (
    Param("task", "reach", "'reach' or 'push': where the cube starts and which target marker shows"),
    Param("seed", 0, "seed of the start pose, cube and target at each reset", 0, 2**31 - 1),
    Param("scene", "", "MJCF scene; empty: the built-in arm on a table"),
    Param("real_time_factor", 1.0, "simulated seconds per wall second; 0: as fast as possible", 0.0, 100.0),
    Param("publish_rate", 100.0, "Hz of /joint_states, /clock and the object pose", 1.0, 1000.0),
    Param("joint_states_topic", "/joint_states", "sensor_msgs/JointState output"),
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


def declare_parameters(node: Node, table: tuple[Param, ...]) -> dict[str, Any]:
    """Declare every parameter of ``table`` on ``node`` and return their current values by name."""
    for param in table:
        node.declare_parameter(param.name, param.default, param.descriptor())
    return {param.name: node.get_parameter(param.name).value for param in table}
