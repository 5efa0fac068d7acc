"""The MuJoCo arm and the planner: ``ros2 launch wm_planner_ros sim.launch.py model_path:=BUNDLE``.

Arguments: model_path (required), robot (a robot folder from ``wm-planner robot import``; default the
built-in arm), calibration (a profile from ``wm-planner sysid``: the sim runs its twin), task
(reach|push), command_interface (trajectory|forward), real_time_factor, rviz (true|false). With a robot
folder the sim runs its twin and the planner is given its URDF as ``robot_description``, as
robot_state_publisher would be. The planner is started unconfigured and brought to active by the launch
file's lifecycle events, as a lifecycle manager would. Without ROS installed, ``wm-planner ros-sim``
starts the same two nodes with the same parameters.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from lifecycle_msgs.msg import Transition


def generate_launch_description():
    share = get_package_share_directory("wm_planner_ros")
    config = os.path.join(share, "config")
    interface = LaunchConfiguration("command_interface")
    controller = PythonExpression(
        [
            "'joint_trajectory_controller' if '",
            interface,
            "' == 'trajectory' else 'forward_position_controller'",
        ]
    )
    robot = LaunchConfiguration("robot")
    description = ParameterValue(
        PythonExpression(["open(r'", robot, "/robot.urdf').read() if r'", robot, "' else ''"]), value_type=str
    )
    sim = Node(
        package="wm_planner_ros",
        executable="sim_node",
        name="sim_node",
        output="screen",
        parameters=[
            os.path.join(config, "sim.yaml"),
            {
                "robot": robot,
                "calibration": LaunchConfiguration("calibration"),
                "task": LaunchConfiguration("task"),
                "real_time_factor": LaunchConfiguration("real_time_factor"),
                "use_sim_time": True,
            },
        ],
    )
    planner = LifecycleNode(
        package="wm_planner_ros",
        executable="planner_node",
        name="planner_node",
        namespace="",
        output="screen",
        parameters=[
            os.path.join(config, "planner.yaml"),
            {
                "model_path": LaunchConfiguration("model_path"),
                "robot_description": description,
                "command_interface": interface,
                "controller_name": controller,
                "use_sim_time": True,
            },
        ],
    )

    def transition(transition_id):
        return EmitEvent(
            event=ChangeState(lifecycle_node_matcher=matches_action(planner), transition_id=transition_id)
        )

    configure = transition(Transition.TRANSITION_CONFIGURE)
    activate = RegisterEventHandler(
        OnStateTransition(
            target_lifecycle_node=planner,
            goal_state="inactive",
            entities=[transition(Transition.TRANSITION_ACTIVATE)],
        )
    )
    rviz = Node(
        package="rviz2",
        executable="rviz2",
        arguments=["-d", os.path.join(config, "wm_planner.rviz")],
        condition=IfCondition(LaunchConfiguration("rviz")),
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument("model_path", description="ONNX world-model bundle directory"),
            DeclareLaunchArgument(
                "robot", default_value="", description="robot folder; empty: the built-in arm"
            ),
            DeclareLaunchArgument(
                "calibration", default_value="", description="calibration profile; empty: no twin"
            ),
            DeclareLaunchArgument("task", default_value="reach", description="reach or push"),
            DeclareLaunchArgument(
                "command_interface", default_value="trajectory", description="trajectory or forward"
            ),
            DeclareLaunchArgument("real_time_factor", default_value="1.0"),
            DeclareLaunchArgument("rviz", default_value="false"),
            sim,
            activate,
            planner,
            configure,
            rviz,
        ]
    )
