"""The robot's description as robot_state_publisher publishes it: the URDF text on ``/robot_description``
(std_msgs/String), transient local, so a node that starts later still receives the last one."""

from __future__ import annotations

from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from wm_planner.runtime import BundleError, read_bundle_metadata

__all__ = ["DESCRIPTION_QOS", "DESCRIPTION_TOPIC", "needs_description"]

DESCRIPTION_TOPIC = "/robot_description"
DESCRIPTION_QOS = QoSProfile(
    depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL, reliability=ReliabilityPolicy.RELIABLE
)


def needs_description(model_path: str) -> bool:
    """Whether the bundle's robot was imported from a URDF (so the node should build it from one); False
    for a bundle that cannot be read, whose error configure reports."""
    try:
        kinematics = read_bundle_metadata(model_path, check_files=False).robot.kinematics
    except (BundleError, OSError, ValueError):
        return False
    return kinematics is not None and kinematics.base_link is not None
