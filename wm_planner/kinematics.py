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
    """The chain as numpy arrays: ``rotations [J, 3, 3]`` and ``offsets [J, 3]`` of each joint frame in
    its parent, the tool frame (``tool_rotation [3, 3]``, ``tool_offset [3]``) in the last joint's frame,
    and the points to place in the tool frame, ``points [M, 3]`` (the tip first)."""

    rotations: np.ndarray
    offsets: np.ndarray
    tool_rotation: np.ndarray
    tool_offset: np.ndarray
    points: np.ndarray

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


def _combine(columns: list[Any], weights: Any) -> Any:
    """``sum_k weights[k] * columns[k]`` for constant ``weights [3]``, skipping zero weights and
    multiplications by one: chain rotations are mostly quarter turns, whose products only reorder and
    negate columns."""
    total = None
    for column, weight in zip(columns, (float(w) for w in weights), strict=True):
        if abs(weight) < 1e-12:
            continue
        term = column if weight == 1.0 else -column if weight == -1.0 else weight * column
        total = term if total is None else total + term
    return columns[0] * 0.0 if total is None else total


def chain_tool_points(q: Any, chain: ChainConstants, xp: Any) -> Any:
    """World positions ``[..., M, 3]`` of ``chain.points`` at joint positions ``q [..., J]``.

    ``xp`` is the array namespace (``numpy`` or ``torch``) of ``q``; the chain's constants are numpy
    (in torch they become constants of the traced graph). The frame is carried as its three
    axis columns ``[..., 3]`` each, combined with the chain's constants elementwise: no batched products
    of 3x3 matrices (ONNX Runtime runs one tiny GEMM per matrix) and no strided column reads.
    """
    cos, sin = xp.cos(q), xp.sin(q)
    constants = chain
    zero = q[..., :1] * 0.0
    axes = [zero + unit for unit in (_unit_vector(xp, q, k) for k in range(3))]
    position = zero + _unit_vector(xp, q, None)
    for i in range(constants.offsets.shape[0]):
        position = position + _combine(axes, constants.offsets[i])
        x_axis, y_axis, z_axis = (_combine(axes, constants.rotations[i][:, j]) for j in range(3))
        c, s = cos[..., i, None], sin[..., i, None]
        # The joint turns its frame about its z axis: the x and y axes turn by q.
        axes = [x_axis * c + y_axis * s, y_axis * c - x_axis * s, z_axis]
    position = position + _combine(axes, constants.tool_offset)
    axes = [_combine(axes, constants.tool_rotation[:, j]) for j in range(3)]
    # [x y z p] @ [points; 1]: all points placed by one product with a constant right operand.
    transform = xp.stack([*axes, position], -1)  # [..., 3, 4]
    points = constants.points
    homogeneous = np.concatenate([points, np.ones((len(points), 1))], -1).T  # [4, M]
    if xp is not np:
        homogeneous = xp.as_tensor(homogeneous, dtype=q.dtype, device=q.device)
    return xp.swapaxes(transform @ homogeneous, -1, -2)


def _unit_vector(xp: Any, like: Any, k: int | None) -> Any:
    """Unit vector ``e_k`` (or zeros when ``k`` is None) as a constant of ``like``'s namespace and type."""
    unit = np.zeros(3)
    if k is not None:
        unit[k] = 1.0
    return unit if xp is np else xp.as_tensor(unit, dtype=like.dtype, device=like.device)


class ForwardKinematics:
    """Tool tip and tool spheres of the arm, in numpy: ``tip(q [..., J]) -> [..., 3]``,
    ``tool_points(q) -> [..., M, 3]`` with radii ``radii [M]``."""

    def __init__(self, kinematics: Kinematics) -> None:
        self.chain = ChainConstants.of(kinematics)
        self.radii = np.array([p.radius for p in kinematics.tool_points], dtype=np.float64)

    def points(self, q: np.ndarray) -> np.ndarray:
        """Tip then tool spheres, ``[..., 1 + M, 3]`` (m, world frame)."""
        points: np.ndarray = chain_tool_points(np.asarray(q, dtype=np.float64), self.chain, np)
        return points

    def tip(self, q: np.ndarray) -> np.ndarray:
        return self.points(q)[..., 0, :]

    def tool_points(self, q: np.ndarray) -> np.ndarray:
        return self.points(q)[..., 1:, :]

    def joint_origins(self, q: np.ndarray) -> np.ndarray:
        """Where each joint's frame sits ``[..., J, 3]`` (m, world frame): the arm's elbows and wrists."""
        q = np.asarray(q, dtype=np.float64)
        chain = self.chain
        rotation = np.broadcast_to(np.eye(3), (*q.shape[:-1], 3, 3))
        position = np.zeros((*q.shape[:-1], 3))
        origins = []
        for i in range(chain.offsets.shape[0]):
            position = position + rotation @ chain.offsets[i]
            c, s = np.cos(q[..., i]), np.sin(q[..., i])
            zero, one = np.zeros_like(c), np.ones_like(c)
            turn = np.stack(
                [np.stack([c, -s, zero], -1), np.stack([s, c, zero], -1), np.stack([zero, zero, one], -1)], -2
            )
            rotation = rotation @ chain.rotations[i] @ turn
            origins.append(position)
        return np.stack(origins, -2)
