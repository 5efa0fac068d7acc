"""Forward kinematics of the tool from joint positions, in numpy (the robot) and torch (the model graph).

One implementation serves both: the chain is written against an array namespace (``numpy`` or
``torch``), so the tool points the world model imagines in its ONNX graph are computed by exactly the
code that a test checks against the MuJoCo scene.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from wm_planner.config import Kinematics

__all__ = ["ChainConstants", "ForwardKinematics", "chain_tool_points", "quat_to_matrix"]


def quat_to_matrix(quat: np.ndarray) -> np.ndarray:
    """Rotation matrices ``[..., 3, 3]`` of unit quaternions ``[..., 4]`` (w x y z)."""
    q = np.asarray(quat, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
        ],
        axis=-2,
    )


@dataclass(frozen=True)
class ChainConstants:
    """The chain as arrays: ``rotations [J, 3, 3]`` and ``offsets [J, 3]`` of each joint frame in its
    parent, the tool frame (``tool_rotation [3, 3]``, ``tool_offset [3]``) in the last joint's frame,
    and the points to place in the tool frame, ``points [M, 3]`` (the tip first)."""

    rotations: Any
    offsets: Any
    tool_rotation: Any
    tool_offset: Any
    points: Any

    @classmethod
    def of(cls, kinematics: Kinematics) -> ChainConstants:
        """float64 numpy constants; the tip is point 0, the tool spheres follow."""
        return cls(
            rotations=quat_to_matrix(np.array([j.quat for j in kinematics.joints])),
            offsets=np.array([j.xyz for j in kinematics.joints], dtype=np.float64),
            tool_rotation=quat_to_matrix(np.array(kinematics.tool.quat)),
            tool_offset=np.array(kinematics.tool.xyz, dtype=np.float64),
            points=np.array([kinematics.tip, *(p.xyz for p in kinematics.tool_points)], dtype=np.float64),
        )


def chain_tool_points(q: Any, chain: ChainConstants, xp: Any) -> Any:
    """World positions ``[..., M, 3]`` of ``chain.points`` at joint positions ``q [..., J]``.

    ``xp`` is the array namespace (``numpy`` or ``torch``) of ``q`` and of the chain's constants. Every
    matrix product has a constant right operand, so ONNX Runtime runs each as one GEMM over all samples
    and steps (a batched product of 3x3 matrices would run one tiny GEMM per matrix); a matrix times a
    vector is a product summed over the last axis for the same reason.
    """
    cos, sin = xp.cos(q), xp.sin(q)
    rotation = None
    position = None
    for i in range(chain.offsets.shape[0]):
        c, s = cos[..., i, None], sin[..., i, None]
        if rotation is None:
            turned, position = chain.rotations[i] + 0.0 * c[..., None], chain.offsets[i] + 0.0 * c
        else:
            position = position + (rotation * chain.offsets[i]).sum(-1)
            turned = rotation @ chain.rotations[i]
        # turned @ Rz(q): the first two columns turn by q, the third (the joint axis) stays.
        x_axis, y_axis, z_axis = turned[..., 0], turned[..., 1], turned[..., 2]
        rotation = xp.stack([x_axis * c + y_axis * s, y_axis * c - x_axis * s, z_axis], -1)
    position = position + (rotation * chain.tool_offset).sum(-1)
    rotation = rotation @ chain.tool_rotation
    return position[..., None, :] + xp.swapaxes(rotation @ xp.swapaxes(chain.points, 0, 1), -1, -2)


class ForwardKinematics:
    """Tool tip and tool spheres of the arm, in numpy: ``tip(q [..., J]) -> [..., 3]``,
    ``tool_points(q) -> [..., M, 3]`` with radii ``radii [M]``."""

    def __init__(self, kinematics: Kinematics) -> None:
        self.chain = ChainConstants.of(kinematics)
        self.radii = np.array([p.radius for p in kinematics.tool_points], dtype=np.float64)

    def points(self, q: np.ndarray) -> np.ndarray:
        """Tip then tool spheres, ``[..., 1 + M, 3]`` (m, world frame)."""
        return chain_tool_points(np.asarray(q, dtype=np.float64), self.chain, np)

    def tip(self, q: np.ndarray) -> np.ndarray:
        return self.points(q)[..., 0, :]

    def tool_points(self, q: np.ndarray) -> np.ndarray:
        return self.points(q)[..., 1:, :]
