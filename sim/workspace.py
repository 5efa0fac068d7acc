"""Where an arm works, derived from its chain instead of written as constants: its reach, a home pose with
the tool pointing down above the table, the reach task's goal box and the push task's regions.

Every rule is a fraction of the arm's reach ``R`` (the 95th percentile of the tool tip's horizontal
distance from the base over joint positions drawn uniformly within the limits). The fractions are the
shipped arm's tuned constants divided by its reach (0.86 m), so for that arm they give back the boxes it
was tuned with, and for any other arm boxes of the same shape scaled to its size.
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from wm_planner.config import RobotSpec, StrictModel, SupervisorConfig, ToolPoint
from wm_planner.kinematics import ForwardKinematics

__all__ = ["Workspace", "derive_home", "derive_workspace", "tip_reach"]

_SAMPLES = 50_000
ELBOW_HEIGHT = 0.7
"""How low the home pose's joints after the shoulder may sit, as a fraction of the reach."""
_TABLE_CLEARANCE = 0.12
"""m: the lowest reach goal above the table, as the shipped task."""


class Workspace(StrictModel):
    """The arm's home pose and task regions (world frame, m; the table top is z = 0)."""

    reach: float = Field(gt=0.0, description="m; 95th percentile of the tool tip's horizontal distance")
    home: tuple[float, ...] = Field(description="rad; joint positions the episodes start around")
    reach_low: tuple[float, float, float]
    reach_high: tuple[float, float, float]
    cube_low: tuple[float, float] = Field(description="m; where the cube starts, x y")
    cube_high: tuple[float, float]
    push_low: tuple[float, float] = Field(description="m; where push targets may lie, x y")
    push_high: tuple[float, float]

    def goal_box(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """The box the control loop accepts goals and object poses in (m): the task regions with room
        around them (for the shipped arm exactly the loop's default box)."""
        xs = (self.reach_low[0], self.push_low[0], self.reach_high[0], self.push_high[0])
        ys = (self.reach_low[1], self.push_low[1], self.reach_high[1], self.push_high[1])
        top = max(0.8, self.reach_high[2] + 0.3)
        low, high = (min(xs) - 0.1, min(ys) - 0.3, 0.02), (max(xs) + 0.15, max(ys) + 0.3, top)
        return _mm(low), _mm(high)

    def supervisor_config(self, base: SupervisorConfig | None = None) -> SupervisorConfig:
        """``base`` (default settings) with goals and object poses accepted in :meth:`goal_box`."""
        low, high = self.goal_box()
        config = base or SupervisorConfig()
        return config.model_copy(update={"goal_workspace_min": low, "goal_workspace_max": high})

    @classmethod
    def of_reach(cls, reach: float, home: np.ndarray) -> Workspace:
        """The regions of an arm of ``reach`` (m) by the module's rules."""
        r = reach
        return cls(
            reach=r,
            home=tuple(float(v) for v in home),
            reach_low=(0.35 * r, -0.35 * r, _TABLE_CLEARANCE),
            reach_high=(0.70 * r, 0.35 * r, max(_TABLE_CLEARANCE + 0.1, min(0.5, 0.58 * r))),
            cube_low=(0.49 * r, -0.175 * r),
            cube_high=(0.675 * r, 0.175 * r),
            push_low=(0.35 * r, -0.35 * r),
            push_high=(0.81 * r, 0.35 * r),
        )


def _mm(values: tuple[float, ...]) -> tuple[float, float, float]:
    x, y, z = (round(v, 3) for v in values)
    return x, y, z


def _uniform(robot: RobotSpec, rng: np.random.Generator, count: int, shrink: float = 1.0) -> np.ndarray:
    """Joint positions ``[count, J]`` drawn within the limits, shrunk about their centres by ``shrink``
    (continuous joints' two-turn ranges cut to one turn: the rest repeats it)."""
    lower, upper = robot.lower(), robot.upper()
    mid = (lower + upper) / 2
    half = np.minimum((upper - lower) / 2, np.pi) * shrink
    return rng.uniform(mid - half, mid + half, (count, robot.dof))


def tip_reach(robot: RobotSpec, *, seed: int = 0) -> float:
    """The arm's reach ``R`` (m): see the module's docstring."""
    assert robot.kinematics is not None
    tips = ForwardKinematics(robot.kinematics).tip(_uniform(robot, np.random.default_rng(seed), _SAMPLES))
    return float(np.percentile(np.linalg.norm(tips[:, :2], axis=1), 95))


def _tool_axis_probe(robot: RobotSpec) -> ForwardKinematics:
    """Forward kinematics of the tool frame's origin and a point 1 m along its z axis (the way the tool
    points, by the URDF convention of tool frames)."""
    assert robot.kinematics is not None
    probe = robot.kinematics.model_copy(
        update={"tip": (0.0, 0.0, 0.0), "tool_points": (ToolPoint(xyz=(0.0, 0.0, 1.0), radius=0.0),)}
    )
    return ForwardKinematics(probe)


def _home_score(robot: RobotSpec, q: np.ndarray, target: np.ndarray, reach: float) -> np.ndarray:
    """``[N]``, lower is better: the tip at ``target``, the tool pointing down, the elbow and wrists
    high (at least half the reach above the table: an arm that works low over the table with its elbow
    down lays its upper arm on it), joints mid-range."""
    assert robot.kinematics is not None
    chain = ForwardKinematics(robot.kinematics)
    tips = chain.tip(q)
    heights = chain.joint_origins(q)[..., 2:, 2]
    low = np.sum(np.maximum(0.0, ELBOW_HEIGHT * reach - heights) ** 2, axis=-1) / 0.05**2
    frame = _tool_axis_probe(robot).points(q)
    down = frame[..., 0, 2] - frame[..., 1, 2]
    mid, half = (robot.lower() + robot.upper()) / 2, np.minimum((robot.upper() - robot.lower()) / 2, np.pi)
    centred = np.mean(((q - mid) / half) ** 2, axis=-1)
    return np.sum((tips - target) ** 2, axis=-1) / 0.05**2 + 4.0 * (1.0 - down) + low + centred


def derive_home(robot: RobotSpec, reach: float, *, seed: int = 0) -> np.ndarray:
    """A home pose ``[J]``: the tool tip at ``(0.36 R, 0, 0.56 R)`` (the shipped arm's ready pose, scaled),
    pointing down, elbow and wrists above ``ELBOW_HEIGHT R``, joints near mid-range; the best of uniform
    samples, then refined by a shrinking local search."""
    rng = np.random.default_rng(seed)
    target = np.array([0.36 * reach, 0.0, 0.56 * reach])
    candidates = _uniform(robot, rng, _SAMPLES, shrink=0.9)
    scores = _home_score(robot, candidates, target, reach)
    best, score = candidates[int(np.argmin(scores))], float(np.min(scores))
    lower, upper = robot.lower() + 0.1, robot.upper() - 0.1
    for step in np.geomspace(0.3, 0.002, 40):
        trial = np.clip(best + rng.normal(0.0, step, (256, robot.dof)), lower, upper)
        trial_scores = _home_score(robot, trial, target, reach)
        k = int(np.argmin(trial_scores))
        if trial_scores[k] < score:
            best, score = trial[k], float(trial_scores[k])
    return best


def derive_workspace(robot: RobotSpec, *, home: np.ndarray | None = None, seed: int = 0) -> Workspace:
    """The arm's :class:`Workspace`: reach from its chain, the home pose given or derived."""
    reach = tip_reach(robot, seed=seed)
    if home is None:
        home = derive_home(robot, reach, seed=seed)
    return Workspace.of_reach(reach, np.asarray(home, dtype=np.float64))
