"""The system-identification job: logged runs in, calibration profile and calibrated scene out."""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import mujoco
import numpy as np
import yaml

from calibration.fitting.sysid import FitOptions, FitResult, fit_parameters, tracking_rmse
from calibration.logs.commands import reference_path
from calibration.logs.joint_log import JointLog
from calibration.logs.sources import LogReading, read_logs
from calibration.model.inertial import InertialFit, apply_link_scales, fit_inertial, link_bodies
from calibration.model.parameters import JOINT_PARAMETERS, ArmParameters, read_parameters
from calibration.model.profile import CalibrationProfile, FitQuality, InertialProfile, write_calibrated_scene
from calibration.model.replay import Replayer
from sim.scene import SCENE_PATH, SceneHandles, load_scene
from wm_planner.config import RobotSpec
from wm_planner.progress import progress_bar

__all__ = [
    "DelayBaseline",
    "Identification",
    "delay_baseline",
    "held_out_rmse",
    "identify",
    "split_logs",
    "write_randomization",
]


@dataclass(frozen=True)
class Identification:
    profile: CalibrationProfile
    profile_path: Path
    fit: FitResult
    nominal: ArmParameters


def split_logs(logs: Sequence[JointLog], held_out: int) -> tuple[list[JointLog], list[JointLog]]:
    """Training and held-out runs: the last ``held_out`` runs are held out; a single run is split in
    time instead, its last quarter held out."""
    if len(logs) == 1:
        log = logs[0]
        cut = log.time[0] + 0.75 * log.duration
        return [log.window(log.time[0], cut)], [log.window(cut, log.time[-1])]
    if not 0 <= held_out < len(logs):
        raise ValueError(
            f"held_out must be between 0 and {len(logs) - 1} for {len(logs)} logs, got {held_out}"
        )
    return list(logs[: len(logs) - held_out]), list(logs[len(logs) - held_out :])


def held_out_rmse(replayer: Replayer, logs: Sequence[JointLog], parameters: ArmParameters) -> np.ndarray:
    """Per-joint open-loop tracking RMSE (rad) over ``logs`` with ``parameters``: [J]."""
    squares = [tracking_rmse(log, replayer.replay(log, [parameters])[0][0]) ** 2 for log in logs]
    weights = np.array([len(log.time) for log in logs], dtype=np.float64)
    return np.sqrt(np.average(np.array(squares), axis=0, weights=weights))


_RANDOMIZED = {
    "armature": "joint.armature",
    "frictionloss": "joint.frictionloss",
    "kp": "actuator.kp",
    "kv": "actuator.kv",
}


def write_randomization(fit: FitResult, joint_names: Sequence[str], path: Path) -> Path:
    """A domain-randomization config (see :mod:`sim.randomization`) drawing every fitted parameter
    uniformly from its 95% interval, for training that does not bet on the point estimate."""
    terms = [
        {
            "parameter": _RANDOMIZED[name],
            "targets": [joint],
            "operation": "set",
            "distribution": "uniform",
            "range": [float(fit.low.joints[name][j]), float(fit.high.joints[name][j])],
        }
        for name in JOINT_PARAMETERS
        for j, joint in enumerate(joint_names)
        if f"{name}[{joint}]" not in fit.fixed
    ]
    path.write_text(yaml.safe_dump({"randomization": terms}, sort_keys=False))
    return path


@dataclass(frozen=True)
class DelayBaseline:
    """The no-physics baseline: the commanded path ``delay`` s late (the best constant delay on the
    fitted runs), and its per-joint RMSE (rad) on the held-out runs."""

    delay: float
    rmse: np.ndarray


def delay_baseline(
    fitted: Sequence[JointLog], held_out: Sequence[JointLog], *, max_delay: float
) -> DelayBaseline:
    """Search delays from 0 to ``max_delay`` in physics steps for the one whose commanded path
    (:func:`calibration.logs.commands.reference_path`) tracks the ``fitted`` runs best; its RMSE on
    ``held_out``."""
    dt = fitted[0].dt
    delays = np.arange(0.0, max_delay + dt / 2, dt)

    def rmse(logs: Sequence[JointLog], delay: float) -> np.ndarray:
        squares = [tracking_rmse(log, reference_path(log, delay)) ** 2 for log in logs]
        weights = np.array([len(log.time) for log in logs], dtype=np.float64)
        return np.sqrt(np.average(np.array(squares), axis=0, weights=weights))

    best = min(delays, key=lambda d: float(np.mean(rmse(fitted, d))))
    return DelayBaseline(float(best), rmse(held_out, best) if held_out else np.zeros(0))


@dataclass(frozen=True)
class _Arm:
    """The scene to fit the servo on: torque-identified links and friction written in, where logged."""

    model: mujoco.MjModel
    nominal: ArmParameters
    fixed: tuple[str, ...]
    inertial: InertialFit | None
    body_scales: dict[str, float]
    damping: np.ndarray | None


def _torque_identified(model: mujoco.MjModel, handles: SceneHandles, logs: Sequence[JointLog]) -> _Arm:
    """With efforts in every fitted log: the scene with the identified link masses, rotor inertia and
    friction, which the servo fit then keeps (they are what torques determine; the servo's gains and the
    latency are what tracking determines). Without: the scene as it is."""
    nominal = read_parameters(model, handles)
    if not logs or any(log.effort is None for log in logs):
        return _Arm(model, nominal, (), None, {}, None)
    fit = fit_inertial(model, handles, logs)
    model = copy.copy(model)
    groups = link_bodies(model, handles)
    apply_link_scales(model, groups, fit.scales)
    model.dof_damping[handles.arm_dof] = fit.viscous
    joints = dict(nominal.joints) | {"armature": fit.armature, "frictionloss": fit.coulomb}
    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b) for g in groups for b in g]
    scales = [float(s) for g, s in zip(groups, fit.scales, strict=True) for _ in g]
    return _Arm(
        model,
        ArmParameters(joints, nominal.latency),
        ("armature", "frictionloss"),
        fit,
        dict(zip(names, scales, strict=True)),
        fit.viscous,
    )


_FROM_TORQUES = {"armature": "armature", "frictionloss": "coulomb"}
"""Servo-scene parameters the torque fit sets, and the :class:`InertialFit` field each comes from."""


@dataclass(frozen=True)
class _TorqueReport:
    """The profile's intervals with the torque-identified parameters' own (not the zero-width interval
    of a value the tracking fit kept), those parameters' names, and the ones the torque fit left on its
    non-negativity bound (viscous friction as ``damping[joint]``)."""

    low: dict[str, list[float]]
    high: dict[str, list[float]]
    identified: tuple[str, ...]
    at_bound: tuple[str, ...]

    @classmethod
    def of(cls, fit: FitResult, inertial: InertialFit | None, joints: Sequence[str]) -> _TorqueReport:
        low = {k: fit.low.joints[k].tolist() for k in JOINT_PARAMETERS}
        high = {k: fit.high.joints[k].tolist() for k in JOINT_PARAMETERS}
        if inertial is None:
            return cls(low, high, (), ())
        identified, at_bound = [], []
        for param, key in _FROM_TORQUES.items():
            lo, hi = inertial.friction_ci95[key]
            low[param], high[param] = lo.tolist(), hi.tolist()
            identified += [f"{param}[{j}]" for j in joints]
            at_bound += [
                f"{param}[{j}]" for j, v in zip(joints, getattr(inertial, key), strict=True) if v <= 0
            ]
        at_bound += [f"damping[{j}]" for j, v in zip(joints, inertial.viscous, strict=True) if v <= 0]
        return cls(low, high, tuple(identified), tuple(at_bound))


def _inertial_profile(fit: InertialFit) -> InertialProfile:
    low, high = fit.scales_ci95
    return InertialProfile(
        links=list(fit.link_names),
        mass_before=fit.masses_before.tolist(),
        mass_after=fit.masses_after.tolist(),
        scale_ci95=(low.tolist(), high.tolist()),
        not_identified=list(fit.not_identified),
        armature=fit.armature.tolist(),
        viscous=fit.viscous.tolist(),
        coulomb=fit.coulomb.tolist(),
        friction_ci95={k: (v[0].tolist(), v[1].tolist()) for k, v in fit.friction_ci95.items()},
        torque_rmse=fit.torque_rmse.tolist(),
    )


def identify(
    log_paths: Sequence[str | Path],
    out: str | Path,
    robot: RobotSpec,
    *,
    scene: str | Path | None = None,
    held_out: int = 1,
    options: FitOptions | None = None,
    reading: LogReading | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> Identification:
    """Fit the scene's arm to the runs at ``log_paths`` (bags, episode files or datasets, read as
    ``reading`` says); write the profile to ``out`` (YAML), and beside it the calibrated scene (``.xml``)
    and a domain randomization over the confidence intervals (``.randomization.yaml``).

    Where the fitted runs log joint torques, the link masses, rotor inertia and friction are identified
    from them first (:func:`calibration.model.inertial.fit_inertial`); the servo's gains and the command
    latency are then fitted to the tracking (:func:`fit_parameters`). The profile compares the held-out
    tracking of the uncalibrated scene, the calibrated one and the no-physics delay baseline.
    """
    source = Path(scene or SCENE_PATH)
    original = load_scene(source)
    handles = SceneHandles.of(original, robot.joint_names)
    logs = read_logs(log_paths, robot.joint_names, dt=original.opt.timestep, reading=reading)
    train, test = split_logs(logs, held_out)
    options = options or FitOptions()
    arm = _torque_identified(original, handles, train)
    options = replace(options, fixed=tuple(dict.fromkeys([*options.fixed, *arm.fixed])))
    replayer = Replayer(arm.model, robot, threads=threads)
    with progress_bar(total=options.max_iterations, desc="sysid", unit="it", disable=not progress) as bar:

        def report(iteration: int, cost: float) -> None:
            bar.update(1)
            bar.set_postfix(cost=f"{cost:.4g}")

        fit = fit_parameters(replayer, train, arm.nominal, options=options, progress=report)
    out = Path(out)
    scene_out = write_calibrated_scene(
        source,
        out.with_suffix(".xml"),
        robot.joint_names,
        fit.parameters,
        damping=arm.damping,
        body_scales=arm.body_scales,
    )
    baseline = delay_baseline(train, test, max_delay=options.max_latency)
    quality = None
    if test:
        uncalibrated = Replayer(original, robot, threads=threads)
        quality = FitQuality(
            fitted=[log.name for log in train],
            held_out=[log.name for log in test],
            rmse_before=held_out_rmse(uncalibrated, test, read_parameters(original, handles)).tolist(),
            rmse_after=held_out_rmse(replayer, test, fit.parameters).tolist(),
            rmse_baseline=baseline.rmse.tolist(),
            baseline_delay=baseline.delay,
        )
    torque = _TorqueReport.of(fit, arm.inertial, robot.joint_names)
    profile = CalibrationProfile(
        robot=robot.name,
        joint_names=robot.joint_names,
        source_scene=str(source.resolve()),
        scene=scene_out.name,
        logs=[str(p) for p in log_paths],
        parameters={k: fit.parameters.joints[k].tolist() for k in JOINT_PARAMETERS},
        latency=fit.parameters.latency,
        ci95_low=torque.low,
        ci95_high=torque.high,
        latency_ci95=(fit.low.latency, fit.high.latency),
        fixed=tuple(n for n in fit.fixed if n not in torque.identified),
        from_torques=torque.identified,
        at_bound=(*fit.at_bound, *torque.at_bound),
        poorly_determined=fit.poorly_determined,
        bounds=fit.bounds,
        correlations=list(fit.correlations),
        command_kind=train[0].command_kind,
        inertial=None if arm.inertial is None else _inertial_profile(arm.inertial),
        quality=quality,
    )
    profile.write(out)
    write_randomization(fit, robot.joint_names, out.with_suffix(".randomization.yaml"))
    _warn(fit, profile.at_bound, arm.inertial, options)
    return Identification(profile, out, fit, read_parameters(original, handles))


def _warn(fit: FitResult, at_bound: Sequence[str], inertial: InertialFit | None, options: FitOptions) -> None:
    for name in at_bound:
        print(
            f"warning: {name} is at a bound (of the search box, or zero for a value from torques); widen "
            "it or check the logs",
            file=sys.stderr,
        )
    for name in fit.poorly_determined:
        print(
            f"warning: {name} is poorly determined by these logs (95% interval wider than "
            f"±{100 * options.poorly_determined:.0f}%)",
            file=sys.stderr,
        )
    for a, b, r in fit.correlations:
        print(
            f"note: {a} and {b} are correlated (r = {r:+.2f}): the logs tell their combination",
            file=sys.stderr,
        )
    for link in inertial.not_identified if inertial is not None else ():
        print(
            f"note: {link}'s mass is not determined by the logged torques; the scene's is kept",
            file=sys.stderr,
        )
