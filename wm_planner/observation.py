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

__all__ = [
    "CUBE",
    "CUBE_POS",
    "CUBE_POSE",
    "DEFAULT_OBJECT_POSE",
    "EE_POS",
    "OBSERVATION_LAYOUT",
    "ObservationBuilder",
    "observation_layout",
]


def observation_layout(dof: int) -> Layout:
    """Observation of an arm of ``dof`` joints: proprioception, tool tip, then the cube's pose (world
    frame)."""
    return Layout.of(
        ("joint_pos", dof, "rad"),
        ("joint_vel", dof, "rad/s"),
        ("ee_pos", 3, "m"),
        ("cube_pos", 3, "m"),
        ("cube_quat", 4, "wxyz"),
    )


OBSERVATION_LAYOUT = observation_layout(7)
"""The shipped 7-joint arm's observation."""

# The blocks after the joints have fixed sizes, so they sit at fixed offsets from the end of any arm's
# observation: code that reads them needs no layout of its arm.
EE_POS = slice(-10, -7)
"""The tool tip ``[3]`` in any arm's observation."""
CUBE_POS = slice(-7, -4)
"""The cube's position ``[3]`` in any arm's observation."""
CUBE_POSE = slice(-7, None)
"""The cube's pose ``[7]`` (position, quaternion w x y z) in any arm's observation."""

CUBE = ObjectSpec(
    name="cube", position="cube_pos", orientation="cube_quat", half_extents=(0.025, 0.025, 0.025), symmetry=4
)
"""The default scene's 5 cm cube, which world models carry as an object (a test checks it against the
scene)."""

DEFAULT_OBJECT_POSE = np.array([0.5, 0.0, 0.025, 1.0, 0.0, 0.0, 0.0])
"""Cube at rest mid-table ``[x, y, z, qw, qx, qy, qz]``, for tasks that do not watch an object."""


class ObservationBuilder:
    """``build(q [J], qd [J], object_pose [7]) -> obs [O]`` in the robot's :func:`observation_layout`.

    Needs only the robot description: numpy forward kinematics, no simulator.
    """

    def __init__(self, robot: RobotSpec | None = None) -> None:
        robot = robot or default_robot_spec()
        if robot.kinematics is None:
            raise ValueError(
                "the robot config has no 'kinematics': the observation's tool tip needs the arm's joint "
                "axes and offsets (see wm_planner/configs/panda.yaml, or `wm-planner robot import`)"
            )
        self.layout = observation_layout(robot.dof)
        self.fk = ForwardKinematics(robot.kinematics)

    def tool_tip(self, q: np.ndarray) -> np.ndarray:
        """World position ``[..., 3]`` of the tool tip at joint positions ``q [..., J]``."""
        return self.fk.tip(q)

    def build(self, q: np.ndarray, qd: np.ndarray, object_pose: np.ndarray | None = None) -> np.ndarray:
        pose = DEFAULT_OBJECT_POSE if object_pose is None else np.asarray(object_pose, dtype=np.float64)
        return np.concatenate([q, qd, self.tool_tip(q), pose[:3], pose[3:]])
