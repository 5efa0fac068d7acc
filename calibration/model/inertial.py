"""Torque-based identification of the arm's links and joint friction from logged efforts.

The standard inverse-dynamics least squares: the measured joint torque is linear in the links' inertial
parameters and the joints' friction,

    τ = Σ_b s_b Y_b(q, q̇, q̈) + A q̈ + b q̇ + f sign(q̇),

where ``Y_b`` is link ``b``'s share of the scene's inverse dynamics (gravity included; MuJoCo's
``mj_inverse`` on the scene with only that link's mass), ``s_b`` scales the link's mass and rotational
inertia together (its centre of mass stays where the scene has it), ``A`` is the rotor inertia (armature),
``b`` the viscous and ``f`` the Coulomb friction. Physical consistency is kept by the parametrisation and
the bounds: ``s_b > 0`` keeps the mass positive and the inertia a valid (scaled) one, and friction and
armature are non-negative. A link here is an arm joint's body with the bodies fixed to it (the pusher on
the flange).

Velocities are smoothed and differentiated with a Savitzky-Golay filter (no phase lag), and the torques
smoothed with the same filter, so both sides see the same band. Rows where a joint barely moves are left
out of that joint's equation: Coulomb friction is undefined at rest.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import mujoco
import numpy as np
from scipy.optimize import lsq_linear
from scipy.signal import savgol_filter

from calibration.logs.joint_log import JointLog
from sim.scene import SceneHandles

__all__ = [
    "InertialFit",
    "apply_link_scales",
    "fit_inertial",
    "link_bodies",
    "link_masses",
    "predicted_torque",
]

_WINDOW_S = 0.1
"""Savitzky-Golay window: long enough to average sensor noise, short against the excitation."""
_STRIDE_S = 0.01
"""Rows are taken every 10 ms: neighbouring samples carry little new information and cost time."""
_MOVING = 0.05
"""rad/s: slower joints are left out of their equation (friction's sign is undefined at rest)."""
_BLOCK_S = 0.25
"""Residual blocks of the robust covariance, as in :mod:`calibration.fitting.sysid`."""


@dataclass(frozen=True)
class InertialFit:
    """Link scales ``[L]`` (mass and inertia factors on the scene's links), joint armature, viscous and
    Coulomb friction ``[J]``, each with a 95% interval ``(low, high)``; link masses (kg) before and
    after; the torque RMSE (N·m) per joint of the fit."""

    link_names: tuple[str, ...]
    scales: np.ndarray
    scales_ci95: tuple[np.ndarray, np.ndarray]
    masses_before: np.ndarray
    masses_after: np.ndarray
    armature: np.ndarray
    viscous: np.ndarray
    coulomb: np.ndarray
    friction_ci95: dict[str, tuple[np.ndarray, np.ndarray]]
    torque_rmse: np.ndarray
    not_identified: tuple[str, ...] = ()
    """Links the logs do not determine: kept at the scene's mass (scale 1)."""


def link_bodies(model: mujoco.MjModel, handles: SceneHandles) -> list[list[int]]:
    """For each arm joint, the bodies it moves directly: its own body and descendants with no joint."""
    joint_body = [int(model.jnt_bodyid[model.dof_jntid[d]]) for d in handles.arm_dof]
    groups: list[list[int]] = [[] for _ in joint_body]
    for body in range(1, model.nbody):
        walk = body
        while walk != 0 and walk not in joint_body:
            if model.body_jntnum[walk] > 0:
                break
            walk = int(model.body_parentid[walk])
        if walk in joint_body:
            groups[joint_body.index(walk)].append(body)
    return groups


def link_masses(model: mujoco.MjModel, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Mass (kg) of each link group ``[L]``."""
    return np.array([float(model.body_mass[list(g)].sum()) for g in groups])


def apply_link_scales(model: mujoco.MjModel, groups: Sequence[Sequence[int]], scales: np.ndarray) -> None:
    """Scale each link group's masses and inertias in ``model`` (in place) by ``scales [L]``."""
    for group, scale in zip(groups, scales, strict=True):
        model.body_mass[list(group)] *= scale
        model.body_inertia[list(group)] *= scale


def _regressor_model(model: mujoco.MjModel) -> mujoco.MjModel:
    """The scene's rigid bodies alone: no rotor inertia, damping, friction, gravity compensation or
    constraints."""
    bare = copy.copy(model)
    bare.dof_armature[:] = 0.0
    bare.dof_damping[:] = 0.0
    bare.dof_frictionloss[:] = 0.0
    bare.body_gravcomp[:] = 0.0
    bare.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONSTRAINT
    return bare


def _window(log: JointLog) -> int:
    return max(5, round(_WINDOW_S / log.dt) | 1)


def _rows(log: JointLog) -> slice:
    """The grid points used: every stride-th, clear of the filter's edges."""
    window, stride = _window(log), max(1, round(_STRIDE_S / log.dt))
    return slice(window, len(log.time) - window, stride)


def _filtered(log: JointLog) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Smoothed ``q, q̇, q̈, τ`` on the rows used ``[R, J]``."""
    window = _window(log)
    qd = savgol_filter(log.velocity, window, 3, axis=0)
    qdd = savgol_filter(log.velocity, window, 3, deriv=1, delta=log.dt, axis=0)
    tau = savgol_filter(log.effort, window, 3, axis=0)
    rows = _rows(log)
    return log.position[rows], qd[rows], qdd[rows], tau[rows]


def _inverse(model: mujoco.MjModel, data: mujoco.MjData, handles: SceneHandles, q, qd, qdd) -> np.ndarray:
    """The arm's joint torques ``[R, J]`` that move ``model`` along ``q, qd, qdd [R, J]``."""
    out = np.empty_like(q)
    for r in range(len(q)):
        data.qpos[handles.arm_qpos] = q[r]
        data.qvel[:] = 0.0
        data.qvel[handles.arm_dof] = qd[r]
        data.qacc[:] = 0.0
        data.qacc[handles.arm_dof] = qdd[r]
        mujoco.mj_inverse(model, data)
        out[r] = data.qfrc_inverse[handles.arm_dof]
    return out


def _link_columns(
    model: mujoco.MjModel, handles: SceneHandles, groups: Sequence[Sequence[int]], q, qd, qdd
) -> np.ndarray:
    """``Y [R, J, L]``: each link's share of the joint torques at every row, as the change that doubling
    the link makes (inverse dynamics is linear in it; no link is ever massless, which MuJoCo dislikes)."""
    data = mujoco.MjData(model)
    base = _inverse(model, data, handles, q, qd, qdd)
    columns = np.zeros((len(q), len(handles.arm_dof), len(groups)))
    for link, group in enumerate(groups):
        doubled = copy.copy(model)
        apply_link_scales(doubled, [group], np.array([2.0]))
        columns[:, :, link] = _inverse(doubled, data, handles, q, qd, qdd) - base
    return columns


def fit_inertial(
    model: mujoco.MjModel,
    handles: SceneHandles,
    logs: Sequence[JointLog],
    *,
    scale_bounds: tuple[float, float] = (0.2, 5.0),
    poorly_determined: float = 0.1,
) -> InertialFit:
    """Identify link scales and joint friction from the efforts of ``logs`` (see the module docstring);
    ``scale_bounds`` bound each link's factor on the scene's mass.

    A link whose scale the logs do not determine (95% interval wider than ``poorly_determined`` of its
    value either side, or at a bound) keeps the scene's mass and is listed in ``not_identified``: a link
    whose centre of mass lies on its joint's axis, for one, shows only its inertia about that axis, which
    adds to the rotor's and is fitted with it.
    """
    if any(log.effort is None for log in logs):
        missing = [log.name for log in logs if log.effort is None]
        raise ValueError(f"logs without joint efforts cannot identify inertia: {missing}")
    groups = link_bodies(model, handles)
    bare = _regressor_model(model)
    joints, links = len(handles.arm_dof), len(groups)
    rows, targets, block_ids = [], [], []
    next_block = 0
    for log in logs:
        q, qd, qdd, tau = _filtered(log)
        y = _link_columns(bare, handles, groups, q, qd, qdd)
        per_block = max(1, round(_BLOCK_S / _STRIDE_S))
        for j in range(joints):
            moving = np.abs(qd[:, j]) > _MOVING
            friction = np.zeros((int(moving.sum()), 3 * joints))
            friction[:, j] = qdd[moving, j]
            friction[:, joints + j] = qd[moving, j]
            friction[:, 2 * joints + j] = np.sign(qd[moving, j])
            rows.append(np.hstack([y[moving, j, :], friction]))
            targets.append(tau[moving, j])
            block_ids.append(next_block + np.flatnonzero(moving) // per_block)
            next_block += len(moving) // per_block + 1
    a, b = np.vstack(rows), np.concatenate(targets)
    x, half, fixed = _fit_identifiable(
        a, b, np.concatenate(block_ids), links, scale_bounds, poorly_determined
    )
    rmse = _per_joint_rmse(rows, targets, x, joints)
    masses = link_masses(model, groups)
    names = tuple(
        mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, g[0]) or f"link{i}" for i, g in enumerate(groups)
    )
    scales = x[:links]

    def joint_terms(k: int) -> slice:
        return slice(links + k * joints, links + (k + 1) * joints)

    kinds = ("armature", "viscous", "coulomb")
    intervals = {
        name: (
            np.maximum(x[joint_terms(k)] - half[joint_terms(k)], 0.0),
            x[joint_terms(k)] + half[joint_terms(k)],
        )
        for k, name in enumerate(kinds)
    }
    return InertialFit(
        link_names=names,
        scales=scales,
        scales_ci95=(scales - half[:links], scales + half[:links]),
        not_identified=tuple(names[i] for i in fixed),
        masses_before=masses,
        masses_after=masses * scales,
        armature=x[joint_terms(0)],
        viscous=x[joint_terms(1)],
        coulomb=x[joint_terms(2)],
        friction_ci95=intervals,
        torque_rmse=rmse,
    )


def _fit_identifiable(
    a: np.ndarray,
    b: np.ndarray,
    blocks: np.ndarray,
    links: int,
    bounds: tuple[float, float],
    poorly_determined: float,
) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Bounded least squares of ``a x = b`` whose first ``links`` entries are link scales (the rest
    non-negative); the worst undetermined link is fixed at 1 and the fit repeated until every free link
    is determined. Returns ``x``, its 95% half-widths and the fixed links."""
    lower = np.r_[np.full(links, bounds[0]), np.zeros(a.shape[1] - links)]
    upper = np.r_[np.full(links, bounds[1]), np.full(a.shape[1] - links, np.inf)]
    fixed: list[int] = []
    while True:
        free = np.ones(a.shape[1], dtype=bool)
        free[fixed] = False
        target = b - a[:, ~free].sum(axis=1)
        x, half = np.ones(a.shape[1]), np.zeros(a.shape[1])
        x[free] = _bounded_lsq(a[:, free], target, lower[free], upper[free])
        half[free] = _half_widths(a[:, free], target - a[:, free] @ x[free], blocks)
        spread = {
            i: np.inf if min(x[i] - bounds[0], bounds[1] - x[i]) < 1e-6 else half[i] / x[i]
            for i in range(links)
            if free[i]
        }
        worst = max(spread, key=spread.__getitem__, default=None)
        if worst is None or spread[worst] <= poorly_determined:
            return x, half, sorted(fixed)
        fixed.append(worst)


def _bounded_lsq(a: np.ndarray, b: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    # Columns differ in scale by orders of magnitude (N·m per unit scale vs kg·m² per rad/s²).
    norms = np.maximum(np.linalg.norm(a, axis=0), 1e-12)
    return lsq_linear(a / norms, b, bounds=(lower * norms, upper * norms), method="bvls").x / norms


def _half_widths(a: np.ndarray, residual: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """95% half-widths of the least-squares estimate from the block-robust sandwich covariance (rows in
    one block of ``blocks`` may err together, as filtered torques do); directions the data do not
    determine get huge ones (a ridge of 1e-12 of the scale, not a pseudo-inverse, which would report them
    as certain)."""
    norms = np.maximum(np.linalg.norm(a, axis=0), 1e-12)
    scaled = a / norms
    bread = np.linalg.inv(scaled.T @ scaled + 1e-12 * np.eye(a.shape[1]))
    scores = np.zeros((int(blocks.max()) + 1, a.shape[1]))
    np.add.at(scores, blocks, scaled * residual[:, None])
    covariance = bread @ (scores.T @ scores) @ bread / np.outer(norms, norms)
    return 1.96 * np.sqrt(np.maximum(np.diag(covariance), 0.0))


def _per_joint_rmse(
    blocks: list[np.ndarray], targets: list[np.ndarray], x: np.ndarray, joints: int
) -> np.ndarray:
    """Torque RMSE (N·m) per joint ``[J]``; ``blocks`` (rows of each log and joint) are log-major,
    joint-minor."""
    squares: list[list[np.ndarray]] = [[] for _ in range(joints)]
    for k, (a, b) in enumerate(zip(blocks, targets, strict=True)):
        squares[k % joints].append((b - a @ x) ** 2)
    return np.array([np.sqrt(np.mean(np.concatenate(s))) for s in squares])


def predicted_torque(
    model: mujoco.MjModel, handles: SceneHandles, log: JointLog
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What ``model`` says the joints needed to move as ``log`` measured, beside what was logged:
    ``time [R]``, ``measured [R, J]`` and ``predicted [R, J]`` (N·m), both filtered alike. The prediction
    is the scene's inverse dynamics with its rotor inertia and viscous damping, plus its friction loss as
    Coulomb friction."""
    if log.effort is None:
        raise ValueError(f"log {log.name!r} has no joint efforts")
    q, qd, qdd, tau = _filtered(log)
    full = copy.copy(model)
    full.body_gravcomp[:] = 0.0
    full.opt.disableflags |= mujoco.mjtDisableBit.mjDSBL_CONSTRAINT
    predicted = _inverse(full, mujoco.MjData(full), handles, q, qd, qdd)
    predicted += model.dof_frictionloss[handles.arm_dof] * np.sign(qd)
    return log.time[_rows(log)], tau, predicted
