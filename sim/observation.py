"""The model's observation from what a robot measures: joint states and an object pose.

The tool tip is not measured on a robot; it comes from forward kinematics of the scene's arm, the same
kinematics that produced it in the simulated training data.
"""

from __future__ import annotations

from pathlib import Path

import mujoco
import numpy as np

from sim.scene import SceneHandles, load_scene
from sim.tasks import OBSERVATION_LAYOUT
from wm_planner.config import RobotSpec, default_robot_spec

__all__ = ["DEFAULT_OBJECT_POSE", "ObservationBuilder"]

DEFAULT_OBJECT_POSE = np.array([0.5, 0.0, 0.025, 1.0, 0.0, 0.0, 0.0])
"""Cube at rest mid-table ``[x, y, z, qw, qx, qy, qz]``, for tasks that do not watch an object."""


class ObservationBuilder:
    """``build(q [J], qd [J], object_pose [7]) -> obs [O]`` in :data:`sim.tasks.OBSERVATION_LAYOUT`."""

    layout = OBSERVATION_LAYOUT

    def __init__(self, scene: str | Path | None = None, *, robot: RobotSpec | None = None) -> None:
        robot = robot or default_robot_spec()
        self.model = load_scene(scene)
        self.data = mujoco.MjData(self.model)
        self.handles = SceneHandles.of(self.model, robot.joint_names)

    def tool_tip(self, q: np.ndarray) -> np.ndarray:
        """World position ``[3]`` of the tool tip at joint positions ``q [J]``."""
        self.data.qpos[self.handles.arm_qpos] = q
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.handles.ee_site].copy()

    def build(self, q: np.ndarray, qd: np.ndarray, object_pose: np.ndarray | None = None) -> np.ndarray:
        pose = DEFAULT_OBJECT_POSE if object_pose is None else np.asarray(object_pose, dtype=np.float64)
        return np.concatenate([q, qd, self.tool_tip(q), pose[:3], pose[3:]])
