"""The system-identification job: logged runs in, calibration profile and calibrated scene out."""

from __future__ import annotations

import copy
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import mujoco
import numpy as np
import yaml
from scipy.optimize import minimize_scalar

from calibration.fitting.sysid import FitOptions, FitResult, fit_parameters, tracking_rmse
from calibration.logs.commands import reference_path
from calibration.logs.joint_log import JointLog
from calibration.logs.sources import LogReading, read_logs
from calibration.model.actuator_net import ACTUATOR_NET, fit_actuator_net, replay_with_net
from calibration.model.inertial import InertialFit, apply_link_scales, fit_inertial, link_bodies
from calibration.model.parameters import JOINT_PARAMETERS, ArmParameters, read_parameters
from calibration.model.profile import (
    CalibrationProfile,
    FitQuality,
    InertialProfile,
    ShapedDelayProfile,
    write_calibrated_scene,
)
from calibration.model.replay import Replayer
from calibration.model.shaped import ShapedDelay, fit_shaped_delay
from sim.actuation import TwinFile, twin_file_path
from sim.scene import SCENE_PATH, SceneHandles, load_scene
from wm_planner.config import RobotSpec
from wm_planner.progress import progress_bar

__all__ = [
    "SERVO_MODEL",
    "SERVO_MODELS",
    "TORQUE_SENSORS",
    "DelayBaseline",
    "Identification",
    "delay_baseline",
    "held_out_rmse",
    "identify",
    "pooled_rmse",
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


def pooled_rmse(logs: Sequence[JointLog], path: Callable[[JointLog], np.ndarray]) -> np.ndarray:
    """Per-joint tracking RMSE (rad) over all samples of ``logs`` of the positions ``path(log) [T, J]``
    a model puts the arm at: [J]."""
    squares = [tracking_rmse(log, path(log)) ** 2 for log in logs]
    weights = np.array([len(log.time) for log in logs], dtype=np.float64)
    return np.sqrt(np.average(np.array(squares), axis=0, weights=weights))


def held_out_rmse(replayer: Replayer, logs: Sequence[JointLog], parameters: ArmParameters) -> np.ndarray:
    """Per-joint open-loop tracking RMSE (rad) over ``logs`` with ``parameters``: [J]."""
    return pooled_rmse(logs, lambda log: replayer.replay(log, [parameters])[0][0])


_RANDOMIZED = {
    "armature": "joint.armature",
    "frictionloss": "joint.frictionloss",
    "kp": "actuator.kp",
    "kv": "actuator.kv",
}


def write_randomization(
    fit: FitResult, joint_names: Sequence[str], path: Path, *, max_factor: float = 1.5
) -> Path:
    """A domain-randomization config (see :mod:`sim.randomization`) drawing every fitted parameter
    uniformly from its 95% interval, for training that does not bet on the point estimate. An interval
    the logs barely narrowed (as wide as the search box, say kp 2,942-45,000) would train on arms nothing
    suggests exist, so each range is also kept within ``max_factor`` of the fitted value either way."""
    terms = []
    for name in JOINT_PARAMETERS:
        for j, joint in enumerate(joint_names):
            if f"{name}[{joint}]" in fit.fixed:
                continue
            value = float(fit.parameters.joints[name][j])
            low = max(float(fit.low.joints[name][j]), value / max_factor)
            high = min(float(fit.high.joints[name][j]), value * max_factor)
            terms.append(
                {
                    "parameter": _RANDOMIZED[name],
                    "targets": [joint],
                    "operation": "set",
                    "distribution": "uniform",
                    "range": [low, high],
                }
            )
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
    """The delay from 0 to ``max_delay`` whose commanded path
    (:func:`calibration.logs.commands.reference_path`) tracks the ``fitted`` runs best, and its RMSE on
    ``held_out``. Searched in physics steps, then between the neighbours of the best step: a delay that
    falls between grid points (13 ms on a 2 ms grid) would otherwise be a step off, and at joint speeds
    of a rad/s that alone is a milliradian, which no twin should get credit for beating."""
    dt = fitted[0].dt
    delays = np.arange(0.0, max_delay + dt / 2, dt)

    def rmse(logs: Sequence[JointLog], delay: float) -> np.ndarray:
        return pooled_rmse(logs, lambda log: reference_path(log, delay))

    def fitted_rmse(delay: float) -> float:
        return float(np.mean(rmse(fitted, delay)))

    costs = [fitted_rmse(d) for d in delays]
    step = float(delays[int(np.argmin(costs))])
    refined = minimize_scalar(
        fitted_rmse,
        bounds=(max(0.0, step - dt), min(max_delay, step + dt)),
        method="bounded",
        options={"xatol": 1e-5},
    )
    best = float(refined.x) if refined.fun < min(costs) else step
    return DelayBaseline(best, rmse(held_out, best) if held_out else np.zeros(0))


@dataclass(frozen=True)
class _Arm:
    """The scene to fit the servo on: torque-identified links and friction written in, where logged."""

    model: mujoco.MjModel
    nominal: ArmParameters
    fixed: tuple[str, ...]
    inertial: InertialFit | None
    body_scales: dict[str, float]
    damping: np.ndarray | None


TORQUE_SENSORS = ("motor", "link", "none")
"""Where a log's efforts are measured: at the motor (the drive's current: the rotor's inertia and the
motor's friction are in them), after the gearbox (a link-side torque sensor: only the links' dynamics are),
or not to be used."""


def _torque_identified(
    model: mujoco.MjModel, handles: SceneHandles, logs: Sequence[JointLog], sensor: str
) -> _Arm:
    """With efforts in every fitted log: the scene with the link masses identified from them and, from
    motor-side efforts, the rotor inertia and friction, which the servo fit then keeps (they are what
    torques determine; the servo's gains and the latency are what tracking determines). A link-side
    sensor does not see the rotor or the motor's friction, so those stay the tracking fit's. Without
    efforts (or with ``sensor="none"``): the scene as it is."""
    if sensor not in TORQUE_SENSORS:
        raise ValueError(f"torque sensor must be one of {TORQUE_SENSORS}, got {sensor!r}")
    nominal = read_parameters(model, handles)
    if sensor == "none" or not logs or any(log.effort is None for log in logs):
        return _Arm(model, nominal, (), None, {}, None)
    fit = fit_inertial(model, handles, logs)
    model = copy.copy(model)
    groups = link_bodies(model, handles)
    apply_link_scales(model, groups, fit.scales)
    names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b) for g in groups for b in g]
    scales = [float(s) for g, s in zip(groups, fit.scales, strict=True) for _ in g]
    body_scales = dict(zip(names, scales, strict=True))
    if sensor == "link":
        return _Arm(model, nominal, (), fit, body_scales, None)
    model.dof_damping[handles.arm_dof] = fit.viscous
    joints = dict(nominal.joints) | {"armature": fit.armature, "frictionloss": fit.coulomb}
    return _Arm(
        model,
        ArmParameters(joints, nominal.latency),
        ("armature", "frictionloss"),
        fit,
        body_scales,
        fit.viscous,
    )


_FROM_TORQUES = {"armature": "armature", "frictionloss": "coulomb"}
"""Servo-scene parameters the torque fit sets, and the :class:`InertialFit` field each comes from."""


@dataclass(frozen=True)
class _TorqueReport:
    """The profile's intervals with the torque-identified parameters' own (not the zero-width interval
    of a value the tracking fit kept), those parameters' names, and the ones on their non-negativity bound
    or indistinguishable from it (95% interval reaching zero; viscous friction as ``damping[joint]``)."""

    low: dict[str, list[float]]
    high: dict[str, list[float]]
    identified: tuple[str, ...]
    at_bound: tuple[str, ...]

    @classmethod
    def of(cls, fit: FitResult, arm: _Arm, joints: Sequence[str]) -> _TorqueReport:
        low = {k: fit.low.joints[k].tolist() for k in JOINT_PARAMETERS}
        high = {k: fit.high.joints[k].tolist() for k in JOINT_PARAMETERS}
        inertial = arm.inertial
        if inertial is None or not arm.fixed:
            return cls(low, high, (), ())
        identified, at_bound = [], []
        for param, key in _FROM_TORQUES.items():
            lo, hi = inertial.friction_ci95[key]
            low[param], high[param] = lo.tolist(), hi.tolist()
            identified += [f"{param}[{j}]" for j in joints]
            at_bound += [f"{param}[{j}]" for j, bottom in zip(joints, lo, strict=True) if bottom <= 0]
        viscous_low = inertial.friction_ci95["viscous"][0]
        at_bound += [f"damping[{j}]" for j, bottom in zip(joints, viscous_low, strict=True) if bottom <= 0]
        return cls(low, high, tuple(identified), tuple(at_bound))


def _inertial_profile(fit: InertialFit) -> InertialProfile:
    low, high = fit.scales_ci95
    return InertialProfile(
        links=list(fit.link_names),
        scale=fit.scales.tolist(),
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


SERVO_MODEL = "mujoco_servo"
"""The servo model class of the calibrated scene: MuJoCo's position servo on the fitted arm."""

SHAPED_ORDERS = (1, 2)
SERVO_MODELS = (*(f"shaped_delay_{order}" for order in SHAPED_ORDERS), SERVO_MODEL, ACTUATOR_NET)
"""Every servo model class a calibration can keep, simplest first."""


def _fit_shaped(
    train: Sequence[JointLog], delay: float, max_latency: float, orders: Sequence[int]
) -> list[ShapedDelay]:
    """Shaped delays of the given ``orders`` (ascending), each starting from the one before (the first
    from the delay baseline ``delay``)."""
    fits: list[ShapedDelay] = []
    for order in orders:
        start = fits[-1] if fits else None
        fits.append(
            fit_shaped_delay(train, order=order, start_latency=delay, max_latency=max_latency, start=start)
        )
    return fits


def _simplest_best(by_model: dict[str, np.ndarray], *, margin: float = 0.01) -> str:
    """The first class of ``by_model`` (simplest first) whose mean RMSE is within ``margin`` of the
    best's: a richer class has to track measurably better to be kept."""
    means = {name: float(np.mean(rmse)) for name, rmse in by_model.items()}
    best = min(means.values())
    return next(name for name, mean in means.items() if mean <= (1.0 + margin) * best)


def identify(
    log_paths: Sequence[str | Path],
    out: str | Path,
    robot: RobotSpec,
    *,
    scene: str | Path | None = None,
    held_out: int = 1,
    options: FitOptions | None = None,
    reading: LogReading | None = None,
    torque_sensor: str = "motor",
    servo_models: Sequence[str] = SERVO_MODELS,
    threads: int | None = None,
    progress: bool = True,
) -> Identification:
    """Fit the scene's arm to the runs at ``log_paths`` (bags, episode files or datasets, read as
    ``reading`` says); write the profile to ``out`` (YAML), and beside it the calibrated scene (``.xml``)
    and a domain randomization over the confidence intervals (``.randomization.yaml``), and the twin file
    the simulator runs the calibration from (``.twin.yaml``: scene, latency, filter, the actuator net if
    kept).

    Where the fitted runs log joint torques, the link masses (and, from a ``torque_sensor`` at the motor,
    rotor inertia and friction) are identified from them first
    (:func:`calibration.model.inertial.fit_inertial`); the rest is then fitted to the tracking
    (:func:`fit_parameters`). Shaped delays (:mod:`calibration.model.shaped`) are fitted beside it, and of
    the ``servo_models`` the one that tracks the held-out runs best is kept (the scene is written
    either way: it is what the simulator runs). The profile compares the held-out tracking of the
    uncalibrated scene, the calibrated twin and the no-physics delay baseline.
    """
    unknown = [name for name in servo_models if name not in SERVO_MODELS]
    if unknown or not servo_models:
        raise ValueError(f"servo models must be some of {SERVO_MODELS}, got {list(servo_models)}")
    source = Path(scene or SCENE_PATH)
    original = load_scene(source)
    handles = SceneHandles.of(original, robot.joint_names)
    logs = read_logs(log_paths, robot.joint_names, dt=original.opt.timestep, reading=reading)
    train, test = split_logs(logs, held_out)
    options = options or FitOptions()
    arm = _torque_identified(original, handles, train, torque_sensor)
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
    orders = [order for order in SHAPED_ORDERS if f"shaped_delay_{order}" in servo_models]
    shaped = _fit_shaped(train, baseline.delay, options.max_latency, orders)
    judged = test or train
    by_model = {model.name: pooled_rmse(judged, model.path) for model in shaped}
    if SERVO_MODEL in servo_models:
        by_model[SERVO_MODEL] = held_out_rmse(replayer, judged, fit.parameters)
    net_file = None
    if ACTUATOR_NET in servo_models:
        net = fit_actuator_net(replayer, train, fit.parameters, progress=progress)
        net_file = net.save(out.with_suffix(".actuator_net.npz")).name
        by_model[ACTUATOR_NET] = pooled_rmse(
            judged, lambda log: replay_with_net(replayer, log, fit.parameters, net)[0]
        )
    winner = _simplest_best(by_model)
    quality = None
    if test:
        uncalibrated = Replayer(original, robot, threads=threads)
        quality = FitQuality(
            fitted=[log.name for log in train],
            held_out=[log.name for log in test],
            rmse_before=held_out_rmse(uncalibrated, test, read_parameters(original, handles)).tolist(),
            rmse_after=by_model[winner].tolist(),
            rmse_baseline=baseline.rmse.tolist(),
            baseline_delay=baseline.delay,
            by_model={name: rmse.tolist() for name, rmse in by_model.items()},
        )
    torque = _TorqueReport.of(fit, arm, robot.joint_names)
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
        command_filter=fit.parameters.command_filter,
        command_filter_ci95=(fit.low.command_filter, fit.high.command_filter),
        fixed=tuple(n for n in fit.fixed if n not in torque.identified),
        from_torques=torque.identified,
        at_bound=(*fit.at_bound, *torque.at_bound),
        poorly_determined=fit.poorly_determined,
        bounds=fit.bounds,
        correlations=list(fit.correlations),
        command_kind=train[0].command_kind,
        servo_model=winner,
        shaped_delays=[ShapedDelayProfile.of(model) for model in shaped],
        actuator_net=net_file,
        torque_sensor=torque_sensor,
        inertial=None if arm.inertial is None else _inertial_profile(arm.inertial),
        quality=quality,
    )
    profile.write(out)
    twin = TwinFile(
        scene=scene_out.name,
        latency=fit.parameters.latency,
        command_filter=fit.parameters.command_filter,
        actuator_net=net_file if winner == ACTUATOR_NET else None,
    )
    twin_file_path(out).write_text(yaml.safe_dump(twin.model_dump(), sort_keys=False))
    write_randomization(fit, robot.joint_names, out.with_suffix(".randomization.yaml"))
    _warn(fit, profile.at_bound, arm.inertial, options)
    return Identification(profile, out, fit, read_parameters(original, handles))


def _warn(fit: FitResult, at_bound: Sequence[str], inertial: InertialFit | None, options: FitOptions) -> None:
    for name in at_bound:
        print(
            f"warning: {name} is at a bound (of the search box, or, for a value from torques, zero within "
            "its interval); widen it or check the logs",
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
