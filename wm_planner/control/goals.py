"""Goals of the control loop: what is asked, whether it may be asked, what the planner pays to get there,
and how far the arm still is from it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wm_planner.config import ObjectSpec, RobotSpec, SafetyConfig, SupervisorConfig
from wm_planner.control.inputs import Rejected, check_finite
from wm_planner.data.layout import Layout
from wm_planner.planning import CostFn, CostSum, JointCost, PostureCost, PushCost, ReachCost
from wm_planner.safety.status import TextEnum

__all__ = ["Goal", "GoalBounds", "GoalKind", "PushGeometry", "goal_cost", "goal_error"]


class GoalKind(TextEnum):
    END_EFFECTOR = "end_effector"
    """The tool tip to a point ``[3]`` (m, world frame)."""
    JOINTS = "joints"
    """The arm to joint positions ``[J]`` (rad)."""
    OBJECT = "object"
    """The object pushed to a point on the table ``[3]`` (m, world frame; the height is ignored)."""


@dataclass(frozen=True)
class Goal:
    kind: GoalKind
    value: np.ndarray


@dataclass(frozen=True)
class GoalBounds:
    """Where goals may lie: the end-effector workspace box, the joint limits less the safety margin.

    Object goals lie on the table: their ``[x, y]`` within the workspace box. Outside, a goal is clamped
    into the bounds (``clamp``) or rejected.
    """

    workspace_low: np.ndarray
    workspace_high: np.ndarray
    joint_low: np.ndarray
    joint_high: np.ndarray
    clamp: bool

    @classmethod
    def of(cls, robot: RobotSpec, safety: SafetyConfig, config: SupervisorConfig) -> GoalBounds:
        margin = safety.position_margin
        return cls(
            workspace_low=np.array(config.goal_workspace_min),
            workspace_high=np.array(config.goal_workspace_max),
            joint_low=robot.lower() + margin,
            joint_high=robot.upper() - margin,
            clamp=config.goal_out_of_bounds == "clamp",
        )

    def check(self, goal: Goal) -> tuple[Goal, str]:
        """The goal to use and a note if it was clamped; :class:`Rejected` (``non_finite``,
        ``wrong_length``, ``out_of_bounds``) if it may not be used."""
        value = check_finite(goal.value, f"{goal.kind} goal")
        low, high = self._box(goal.kind)
        if value.shape != low.shape:
            raise Rejected("wrong_length", f"{goal.kind} goal has {value.size} values, expected {low.size}")
        outside = (value < low) | (value > high)
        if goal.kind == GoalKind.OBJECT:
            outside[2] = False
        if not outside.any():
            return Goal(goal.kind, value), ""
        detail = f"{goal.kind} goal {np.round(value, 4).tolist()} outside [{low.tolist()}, {high.tolist()}]"
        if not self.clamp:
            raise Rejected("out_of_bounds", f"{detail}: rejected (goal_out_of_bounds: reject)")
        clamped = np.where(outside, np.clip(value, low, high), value)
        return Goal(goal.kind, clamped), f"{detail}: clamped"

    def check_object_pose(self, pose: np.ndarray) -> np.ndarray:
        """A measured object pose ``[x, y, z, qw, qx, qy, qz]``: finite, on the table (z >= 0) and within
        the workspace box; :class:`Rejected` (``non_finite``, ``wrong_length``, ``out_of_bounds``) if not.
        A pose out there is a mislabelled or mis-framed message, and the planner would chase it."""
        pose = check_finite(pose, "object pose")
        if pose.shape != (7,):
            raise Rejected("wrong_length", f"object pose has {pose.size} values, expected 7")
        low = np.array([*self.workspace_low[:2], 0.0])
        if np.any(pose[:3] < low) or np.any(pose[:3] > self.workspace_high):
            raise Rejected(
                "out_of_bounds",
                f"object at {np.round(pose[:3], 4).tolist()} outside [{low.tolist()}, "
                f"{self.workspace_high.tolist()}]",
            )
        return pose

    def _box(self, kind: GoalKind) -> tuple[np.ndarray, np.ndarray]:
        if kind == GoalKind.JOINTS:
            return self.joint_low, self.joint_high
        return self.workspace_low, self.workspace_high


@dataclass(frozen=True)
class PushGeometry:
    """What an object goal's cost needs to know of the tool and the object: the radius of the robot's tool
    tip and half the object's footprint (m)."""

    tip_radius: float
    object_half: float

    @classmethod
    def of(cls, robot: RobotSpec, objects: tuple[ObjectSpec, ...] = ()) -> PushGeometry:
        """The robot's own tip (:meth:`~wm_planner.config.Kinematics.tip_radius`) and the half footprint
        of the declared object the push cost reads (at ``cube_pos``), or the task's cube
        (:class:`~wm_planner.planning.PushCost`'s default) when a model declares none."""
        if robot.kinematics is None:
            raise ValueError(f"robot {robot.name!r} has no kinematics: an object goal needs its tool tip")
        pushed = [o for o in objects if o.position == "cube_pos"]
        half = max(pushed[0].half_extents[:2]) if pushed else PushCost.cube_half
        return cls(tip_radius=robot.kinematics.tip_radius(), object_half=half)


def goal_cost(
    goal: Goal,
    layout: Layout,
    *,
    control_period: float,
    posture: PostureCost | None = None,
    push: PushGeometry | None = None,
) -> CostFn:
    """The task cost that brings the imagined features of ``layout`` to ``goal``; with ``posture`` added
    for goals that leave joints free (end-effector and object goals). Object goals need ``push``."""
    if goal.kind == GoalKind.JOINTS:
        return JointCost(layout, goal.value)
    task: CostFn
    if goal.kind == GoalKind.END_EFFECTOR:
        task = ReachCost(layout, goal.value)
    elif push is None:
        raise ValueError("an object goal's cost needs the tool's and the object's geometry (push=)")
    else:
        task = PushCost(
            layout,
            goal.value,
            control_period=control_period,
            cube_half=push.object_half,
            tip_radius=push.tip_radius,
        )
    return task if posture is None else CostSum((task, posture))


def goal_error(goal: Goal, obs: np.ndarray, layout: Layout) -> float:
    """How far the observation ``obs [O]`` is from ``goal``: m for positions (in the table plane for an
    object), the largest joint error in rad for joint goals."""
    if goal.kind == GoalKind.JOINTS:
        return float(np.max(np.abs(obs[layout.slice("joint_pos")] - goal.value)))
    if goal.kind == GoalKind.END_EFFECTOR:
        return float(np.linalg.norm(obs[layout.slice("ee_pos")] - goal.value))
    return float(np.linalg.norm(obs[layout.slice("cube_pos")][:2] - goal.value[:2]))
