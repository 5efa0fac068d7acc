"""Poses in other frames: a tree of static transforms, as ``static_transform_publisher`` would publish.

tf2 is not on PyPI, so the node cannot listen to ``/tf``; the transforms it needs (a camera's frame, a
table's) are set in its parameters, one string each: ``"parent child x y z qx qy qz qw"``, in the
argument order of ``ros2 run tf2_ros static_transform_publisher``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wm_planner.control import Rejected

__all__ = ["FrameTree", "Transform"]


def _quat_matrix(w: float, x: float, y: float, z: float) -> np.ndarray:
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def _quat_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a * b`` for quaternions ``[w, x, y, z]``."""
    aw, ax, ay, az = a
    bw, bx, by, bz = b
    return np.array(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ]
    )


@dataclass(frozen=True)
class Transform:
    """A child frame in its parent: ``translation [3]`` and ``rotation [w, x, y, z]`` (unit)."""

    translation: np.ndarray
    rotation: np.ndarray

    @classmethod
    def identity(cls) -> Transform:
        return cls(np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0]))

    def then(self, inner: Transform) -> Transform:
        """This transform applied after ``inner`` (``inner``'s frame seen from this one's parent)."""
        matrix = _quat_matrix(*self.rotation)
        return Transform(
            self.translation + matrix @ inner.translation, _quat_product(self.rotation, inner.rotation)
        )

    def pose(self, pose: np.ndarray) -> np.ndarray:
        """``pose [x, y, z, qw, qx, qy, qz]`` in the child frame, expressed in the parent frame."""
        moved = self.then(Transform(pose[:3], pose[3:]))
        return np.concatenate([moved.translation, moved.rotation])


class FrameTree:
    """Static transforms by child frame, and poses carried up the tree to a root frame."""

    def __init__(self, transforms: Sequence[str] = ()) -> None:
        """``transforms``: ``"parent child x y z qx qy qz qw"`` each; ``ValueError`` naming a bad one."""
        self._parents: dict[str, tuple[str, Transform]] = {}
        for text in transforms:
            parent, child, transform = self._parse(text)
            if child in self._parents:
                raise ValueError(f"static_transforms: frame {child!r} has two parents")
            self._parents[child] = (parent, transform)

    @staticmethod
    def _parse(text: str) -> tuple[str, str, Transform]:
        fields = text.split()
        if len(fields) != 9:
            raise ValueError(f"static_transforms entry {text!r}: expected 'parent child x y z qx qy qz qw'")
        try:
            x, y, z, qx, qy, qz, qw = (float(v) for v in fields[2:])
        except ValueError:
            raise ValueError(f"static_transforms entry {text!r}: x y z qx qy qz qw must be numbers") from None
        rotation = np.array([qw, qx, qy, qz])
        norm = float(np.linalg.norm(rotation))
        if not np.all(np.isfinite([x, y, z])) or not np.isfinite(norm) or abs(norm - 1.0) > 1e-3:
            raise ValueError(f"static_transforms entry {text!r}: needs a finite offset and a unit quaternion")
        return fields[0], fields[1], Transform(np.array([x, y, z]), rotation / norm)

    def lookup(self, frame: str, root: str) -> Transform:
        """``frame`` seen from ``root``; :class:`Rejected` (``unknown_frame``) when no chain connects them."""
        transform, seen = Transform.identity(), {frame}
        while frame != root:
            if frame not in self._parents:
                raise Rejected("unknown_frame", f"no transform from {frame!r} to {root!r}")
            frame, step = self._parents[frame]
            if frame in seen:
                raise Rejected("unknown_frame", f"the transforms to {root!r} form a loop at {frame!r}")
            seen.add(frame)
            transform = step.then(transform)
        return transform

    def to_root(self, pose: np.ndarray, frame: str, root: str) -> np.ndarray:
        """``pose [x, y, z, qw, qx, qy, qz]`` in ``frame``, expressed in ``root`` (an empty frame is root)."""
        if not frame or frame == root:
            return pose
        return self.lookup(frame, root).pose(pose)
