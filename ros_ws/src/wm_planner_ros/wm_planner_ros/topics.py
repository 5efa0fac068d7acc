"""Controller and topic names, shared by the nodes, the launcher and the tests (no ROS imports, so the
``wm-planner`` command line can use them without loading rclpy)."""

from __future__ import annotations

__all__ = ["CONTROLLERS", "command_topic"]

CONTROLLERS = {"trajectory": "joint_trajectory_controller", "forward": "forward_position_controller"}
"""The usual controller for each ``command_interface``, named as ros2_control examples name them."""


def command_topic(interface: str, controller: str) -> str:
    """Where commands for ``controller`` go: its JointTrajectory or its Float64MultiArray topic."""
    return f"/{controller}/joint_trajectory" if interface == "trajectory" else f"/{controller}/commands"
