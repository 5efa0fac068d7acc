"""The arm's observation: its layout, the object it carries, and how it is built from measurements.

The core reads observation blocks by name (``joint_pos``, ``ee_pos``, ``cube_pos``...), so the layout
lives here, with the robot-side code, not with the simulator that also produces it. The tool tip is not
measured on a robot: it comes from forward kinematics of the robot description
(:attr:`RobotSpec.kinematics`), the same place the simulated training data's tool tip had (a test checks
the two against each other).
"""

from __future__ import annotations

import numpy as np

from wm_planner.config import ObjectSpec, RobotSpec, default_robot_spec
from wm_planner.data.layout import Layout
from wm_planner.kinematics import ForwardKinematics

__all__ = ["CUBE", "DEFAULT_OBJECT_POSE", "OBSERVATION_LAYOUT", "ObservationBuilder"]

OBSERVATION_LAYOUT = Layout.of(
    ("joint_pos", 7, "rad"),
    ("joint_vel", 7, "rad/s"),
    ("ee_pos", 3, "m"),
    ("cube_pos", 3, "m"),
    ("cube_quat", 4, "wxyz"),
)
"""Observation of the arm: proprioception, tool tip, then the cube's pose (world frame)."""

CUBE = ObjectSpec(
    name="cube", position="cube_pos", orientation="cube_quat", half_extents=(0.025, 0.025, 0.025), symmetry=4
)
"""The default scene's 5 cm cube, which world models carry as an object (a test checks it against the
scene)."""

DEFAULT_OBJECT_POSE = np.array([0.5, 0.0, 0.025, 1.0, 0.0, 0.0, 0.0])
"""Cube at rest mid-table ``[x, y, z, qw, qx, qy, qz]``, for tasks that do not watch an object."""


class ObservationBuilder:
    """``build(q [J], qd [J], object_pose [7]) -> obs [O]`` in :data:`OBSERVATION_LAYOUT`.

    Needs only the robot description: numpy forward kinematics, no simulator.
    """

    layout = OBSERVATION_LAYOUT

    def __init__(self, robot: RobotSpec | None = None) -> None:
        robot = robot or default_robot_spec()
        if robot.kinematics is None:
            raise ValueError(
                "the robot config has no 'kinematics': the observation's tool tip needs the arm's joint "
                "axes and offsets (see wm_planner/configs/panda.yaml)"
            )
        joints = self.layout.slice("joint_pos")
        if len(robot.joint_names) != joints.stop - joints.start:
            raise ValueError(
                f"the robot has {len(robot.joint_names)} joints but the observation layout holds "
                f"{joints.stop - joints.start}"
            )
        self.fk = ForwardKinematics(robot.kinematics)

    def tool_tip(self, q: np.ndarray) -> np.ndarray:
        """World position ``[..., 3]`` of the tool tip at joint positions ``q [..., J]``."""
        return self.fk.tip(q)

    def build(self, q: np.ndarray, qd: np.ndarray, object_pose: np.ndarray | None = None) -> np.ndarray:
        pose = DEFAULT_OBJECT_POSE if object_pose is None else np.asarray(object_pose, dtype=np.float64)
        return np.concatenate([q, qd, self.tool_tip(q), pose[:3], pose[3:]])
