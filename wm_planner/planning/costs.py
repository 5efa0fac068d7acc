"""Task costs on imagined features: ``cost(features [N, H, F], actions [N, H, A]) -> [N]``.

Costs read features by name through the bundle's feature layout, fixed at construction, and hold the
goal given at run time, so a new goal needs neither retraining nor re-export. They compute in float32,
the precision of the features, because they run on every imagined step of every candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from wm_planner.data.layout import Layout
from wm_planner.planning.planner import CostFn

__all__ = ["CostSum", "JointCost", "PostureCost", "PushCost", "ReachCost"]


def _distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    distance: np.ndarray = np.sqrt(((a - b) ** 2).sum(axis=-1) + np.float32(1e-12))
    return distance


def _horizon_weights(horizon: int, terminal_weight: float) -> np.ndarray:
    weights = np.ones(horizon, dtype=np.float32)
    weights[-1] += terminal_weight
    return weights


@dataclass(frozen=True)
class _SettleCost:
    """Distance of one imagined feature (``feature``, named by subclasses) to ``goal`` at every step
    (more at the last), plus a little joint speed so the arm settles on the goal instead of sweeping
    through it."""

    feature: ClassVar[str]
    layout: Layout
    goal: np.ndarray
    terminal_weight: float = 4.0
    speed_weight: float = 0.002
    _at: slice = field(init=False, repr=False)
    _qd: slice = field(init=False, repr=False)

    def __post_init__(self) -> None:
        at = self.layout.slice(self.feature)
        goal = np.asarray(self.goal, dtype=np.float32).reshape(-1)
        if goal.size != at.stop - at.start:
            raise ValueError(
                f"{self.feature} goal has {goal.size} values, the model has {at.stop - at.start}"
            )
        object.__setattr__(self, "_at", at)
        object.__setattr__(self, "_qd", self.layout.slice("joint_vel"))
        object.__setattr__(self, "goal", goal)

    def __call__(self, features: np.ndarray, actions: np.ndarray) -> np.ndarray:
        per_step = _distance(features[..., self._at], self.goal)
        per_step = per_step + self.speed_weight * (features[..., self._qd] ** 2).sum(axis=-1)
        return np.asarray(per_step @ _horizon_weights(features.shape[1], self.terminal_weight))


@dataclass(frozen=True)
class ReachCost(_SettleCost):
    """Tool-tip distance to ``goal [3]`` at every imagined step (more at the last), plus a little joint
    speed so the arm settles on the goal instead of sweeping through it."""

    feature: ClassVar[str] = "ee_pos"


@dataclass(frozen=True)
class PushCost:
    """Cube distance to ``goal`` (its first two entries, the table-plane target), plus the tool tip's
    distance to the pushing point behind the cube, as seen from the target: anywhere from touching the
    cube (its face, or its corner when it is turned) to ``room`` further back.

    The pushing point rises with the tip's horizontal distance from it, to ``hover`` within
    ``hover_ramp``, so the tool comes down behind the cube instead of through it. The ramp is short: a
    tool a few centimetres off the pushing point, at the cube's face, is asked to be well above the cube
    or low behind it, never at its top edge, where a push tips it over (measured: with a ramp as long as
    the hover, the tip met the cube at 4.4-4.9 cm, its top edge, in 6 of 20 episodes, and the cube
    tipped in each; a 2 cm ramp took the demo's model from 74% to 96% of 50 pushes).

    Tips below the table are penalised as well, and so is tip speed beyond ``speed_limit``: a cube struck
    at 1.5 m/s slides, tips and rolls where no model (or controller) can follow it, and a robot should not
    strike what it handles.

    So is a tip coming down onto the cube (the tip a disc of ``tip_radius`` at its height, the cube a box
    of ``cube_half``, turned by ``cube_quat`` when the features have it): the learned arm model knows no
    contact, so it imagines the tool sliding down through the cube's top edge to the pushing point, where
    the real tool comes to rest on that edge. Measured on 20 pushes before this term: the tip rode the
    cube at 4-5 cm, the arm model's 30-step error was 4.3 cm (median) within 3 cm of the cube against
    0.2 cm away from it, and pushes took 1.6 s from first touch where true-physics planning takes 0.45 s.
    With it (100 pushes, improve's round-3 model): median time to success 2.45 s against 3.1-3.3 s, and
    the model's 16-step error along the executed episodes 0.44-0.49 cm at the tip against 0.9-1.1 cm,
    0.34-0.37 cm at the cube against 0.8-1.0 cm.
    """

    layout: Layout
    goal: np.ndarray
    cube_weight: float = 1.0
    tool_weight: float = 0.5
    terminal_weight: float = 4.0
    room: float = 0.005
    """m between the tool tip and the cube at the far end of the pushing point."""
    push_height: float = 0.015
    hover: float = 0.08
    hover_ramp: float = 0.02
    """m of horizontal distance from the pushing point over which the target height rises to ``hover``."""
    table_weight: float = 10.0
    control_period: float = 0.02
    """s between imagined steps, to turn the tip's travel per step into a speed."""
    speed_limit: float = 0.3
    """m/s of tip speed above which each m/s costs ``speed_weight`` per step."""
    speed_weight: float = 1.0
    cube_half: float = 0.025
    """m: half the cube's edge (the task's cube; a bundle's declared object, see :func:`goal_cost`)."""
    tip_radius: float = 0.02
    """m: radius of the tool's tip (the shipped pusher's; the robot's own, see :func:`goal_cost`)."""
    overlap_weight: float = 10.0
    """Cost per metre the tip reaches into the cube, per step."""
    top_clearance: float = 0.01
    """m above the cube's top that a tip passing over it is asked to keep."""
    _ee: slice = field(init=False, repr=False)
    _cube: slice = field(init=False, repr=False)
    _quat: slice | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_ee", self.layout.slice("ee_pos"))
        object.__setattr__(self, "_cube", self.layout.slice("cube_pos"))
        quat = self.layout.slice("cube_quat") if "cube_quat" in self.layout.names else None
        object.__setattr__(self, "_quat", quat)
        object.__setattr__(self, "goal", np.asarray(self.goal, dtype=np.float32).reshape(-1)[:2])

    def _heading(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Cosine and sine ``[N, H]`` of the cube's x axis in the table plane (None without ``cube_quat``:
        the cube is then taken as square to the world axes)."""
        if self._quat is None:
            return None
        w, x, y, z = (features[..., self._quat.start + i] for i in range(4))
        cos, sin = w * w + x * x - y * y - z * z, 2.0 * (x * y + w * z)
        norm = 1.0 / np.sqrt(cos * cos + sin * sin + np.float32(1e-12))
        return cos * norm, sin * norm

    @staticmethod
    def _in_cube_frame(
        dx: np.ndarray, dy: np.ndarray, heading: tuple[np.ndarray, np.ndarray] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """A table-plane offset ``(dx, dy)`` ``[N, H]`` (world) along the cube's own axes."""
        if heading is None:
            return dx, dy
        cos, sin = heading
        return dx * cos + dy * sin, dy * cos - dx * sin

    def _overlap(
        self, ee: np.ndarray, cube: np.ndarray, heading: tuple[np.ndarray, np.ndarray] | None
    ) -> np.ndarray:
        """How far (m) the tip ``ee [N, H, 3]`` comes down onto the cube ``cube [N, H, 3]``: below its top
        plus ``top_clearance`` where the tip is over the footprint and nearer the top than a side (a tip
        beside the cube pushes it, which the model knows); zero elsewhere."""
        u, v = self._in_cube_frame(ee[..., 0] - cube[..., 0], ee[..., 1] - cube[..., 1], heading)
        half = np.float32(self.cube_half)
        du, dv = np.abs(u) - half, np.abs(v) - half
        outside = np.sqrt(np.maximum(du, 0.0) ** 2 + np.maximum(dv, 0.0) ** 2) + np.minimum(
            np.maximum(du, dv), 0.0
        )
        sideways = np.float32(self.tip_radius) - outside
        below_top = cube[..., 2] + half - ee[..., 2]
        above = (sideways > 0.0) & (below_top < sideways)
        reach = np.maximum(below_top + np.float32(self.top_clearance), 0.0)
        return np.asarray(np.where(above, reach, np.float32(0.0)))

    def _off(
        self,
        dx: np.ndarray,
        dy: np.ndarray,
        ux: np.ndarray,
        uy: np.ndarray,
        heading: tuple[np.ndarray, np.ndarray] | None,
    ) -> np.ndarray:
        """Horizontal distance (m) ``[N, H]`` of the tip, at ``(dx, dy)`` from the cube, from the pushing
        point: the segment behind the cube against ``(ux, uy)`` (unit, toward the goal) from touching the
        cube to ``room`` further back. Pushing closes that room without leaving the segment, so a push
        is not asked to rise."""
        reach: np.ndarray | float = 1.0
        if heading is not None:
            along_axis, across_axis = self._in_cube_frame(ux, uy, heading)
            reach = np.abs(along_axis) + np.abs(across_axis)
        touching = np.float32(self.cube_half) * reach + np.float32(self.tip_radius)
        behind = np.clip(-(dx * ux + dy * uy), touching, touching + np.float32(self.room))
        return np.asarray(np.sqrt((dx + behind * ux) ** 2 + (dy + behind * uy) ** 2 + np.float32(1e-12)))

    def __call__(self, features: np.ndarray, actions: np.ndarray) -> np.ndarray:
        cube = features[..., self._cube]
        ee = features[..., self._ee]
        heading = self._heading(features)
        gx, gy = self.goal[0] - cube[..., 0], self.goal[1] - cube[..., 1]
        cube_error = np.sqrt(gx * gx + gy * gy + np.float32(1e-12))
        off = self._off(
            ee[..., 0] - cube[..., 0], ee[..., 1] - cube[..., 1], gx / cube_error, gy / cube_error, heading
        )
        height = self.push_height + self.hover * np.minimum(
            off / np.float32(self.hover_ramp), np.float32(1.0)
        )
        tool_error = np.sqrt(off**2 + (ee[..., 2] - height) ** 2)
        below = np.maximum(0.0, -ee[..., 2])
        speed = _distance(ee[:, 1:], ee[:, :-1]) / np.float32(self.control_period)
        too_fast = np.zeros_like(below)
        too_fast[:, 1:] = np.maximum(0.0, speed - np.float32(self.speed_limit))
        per_step = (
            self.cube_weight * cube_error
            + self.tool_weight * tool_error
            + self.table_weight * below
            + self.speed_weight * too_fast
            + self.overlap_weight * self._overlap(ee, cube, heading)
        )
        return np.asarray(per_step @ _horizon_weights(features.shape[1], self.terminal_weight))


@dataclass(frozen=True)
class JointCost(_SettleCost):
    """Joint-space distance (rad) of the imagined joint positions to ``goal [J]`` at every step (more at
    the last), plus a little joint speed, as :class:`ReachCost` does in task space."""

    feature: ClassVar[str] = "joint_pos"


@dataclass(frozen=True)
class PostureCost:
    """Keeps the imagined joints off their limits: per step, for each joint, the square of how far it is
    past ``free`` of its half-range from mid-range, as a fraction of the rest (0 up to ``free``, 1 at the
    limit), summed over joints and weighted by ``weight``.

    A tool-tip or object cost leaves the arm's redundant joints free (a seven-joint arm reaching a point
    has four), and sampling noise walks them into their limits over many goals; there the arm can no
    longer move the tip the way later goals need.
    """

    layout: Layout
    lower: np.ndarray
    upper: np.ndarray
    weight: float = 1.0
    free: float = 0.8
    _q: slice = field(init=False, repr=False)
    _mid: np.ndarray = field(init=False, repr=False)
    _half: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.free < 1.0:
            raise ValueError(f"free must be in [0, 1), got {self.free}")
        lower, upper = np.asarray(self.lower, np.float32), np.asarray(self.upper, np.float32)
        object.__setattr__(self, "_q", self.layout.slice("joint_pos"))
        object.__setattr__(self, "_mid", (lower + upper) / 2)
        object.__setattr__(self, "_half", (upper - lower) / 2)

    def __call__(self, features: np.ndarray, actions: np.ndarray) -> np.ndarray:
        reach = np.abs(features[..., self._q] - self._mid) / self._half
        excess = np.maximum(0.0, reach - np.float32(self.free)) / np.float32(1.0 - self.free)
        return np.asarray(np.float32(self.weight) * (excess**2).sum(axis=(-2, -1)))


@dataclass(frozen=True)
class CostSum:
    """The sum of ``terms``, each ``cost(features [N, H, F], actions [N, H, A]) -> [N]``."""

    terms: tuple[CostFn, ...]

    def __call__(self, features: np.ndarray, actions: np.ndarray) -> np.ndarray:
        total = self.terms[0](features, actions)
        for term in self.terms[1:]:
            total = total + term(features, actions)
        return np.asarray(total)
