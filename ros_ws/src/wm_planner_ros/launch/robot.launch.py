"""The planner alone, for a real arm under ros2_control::

    ros2 launch wm_planner_ros robot.launch.py model_path:=BUNDLE controller_name:=joint_trajectory_controller

Load the controller named by ``controller_name`` first (joint_trajectory_controller with the position
command interface for ``command_interface:=trajectory``, forward_command_controller/position for
``forward``); the planner subscribes to /joint_states from joint_state_broadcaster. ``params_file``
overrides config/planner.yaml (safety scales, goal workspace, planner settings).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from lifecycle_msgs.msg import Transition


def generate_launch_description():
    defaults = os.path.join(get_package_share_directory("wm_planner_ros"), "config", "planner.yaml")
    planner = LifecycleNode(
        package="wm_planner_ros",
        executable="planner_node",
        name="planner_node",
        namespace="",
        output="screen",
        parameters=[
            defaults,
            LaunchConfiguration("params_file"),
            {
                "model_path": LaunchConfiguration("model_path"),
                "controller_name": LaunchConfiguration("controller_name"),
                "command_interface": LaunchConfiguration("command_interface"),
            },
        ],
    )

    def transition(transition_id):
        return EmitEvent(
            event=ChangeState(lifecycle_node_matcher=matches_action(planner), transition_id=transition_id)
        )

    activate = RegisterEventHandler(
        OnStateTransition(
            target_lifecycle_node=planner,
            goal_state="inactive",
            entities=[transition(Transition.TRANSITION_ACTIVATE)],
        )
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument("model_path", description="ONNX world-model bundle directory"),
            DeclareLaunchArgument("controller_name", default_value="joint_trajectory_controller"),
            DeclareLaunchArgument(
                "command_interface", default_value="trajectory", description="trajectory or forward"
            ),
            DeclareLaunchArgument(
                "params_file", default_value=defaults, description="planner parameter overrides"
            ),
            activate,
            planner,
            transition(Transition.TRANSITION_CONFIGURE),
        ]
    )
