"""The system-identification job: logged runs in, calibration profile and calibrated scene out."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from tqdm import tqdm

from calibration.joint_log import JointLog
from calibration.parameters import JOINT_PARAMETERS, ArmParameters, read_parameters
from calibration.profile import CalibrationProfile, FitQuality, write_calibrated_scene
from calibration.replay import Replayer
from calibration.sources import read_logs
from calibration.sysid import FitOptions, FitResult, fit_parameters, tracking_rmse
from sim.scene import SCENE_PATH, SceneHandles, load_scene
from wm_planner.config import RobotSpec

__all__ = ["Identification", "held_out_rmse", "identify", "split_logs", "write_randomization"]


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


def identify(
    log_paths: Sequence[str | Path],
    out: str | Path,
    robot: RobotSpec,
    *,
    scene: str | Path | None = None,
    held_out: int = 1,
    options: FitOptions | None = None,
    threads: int | None = None,
    progress: bool = True,
) -> Identification:
    """Fit the scene's arm parameters and the command latency to the runs at ``log_paths`` (bags,
    episode files or datasets); write the profile to ``out`` (YAML), and beside it the calibrated scene
    (``.xml``) and a domain randomization over the confidence intervals (``.randomization.yaml``)."""
    source = Path(scene or SCENE_PATH)
    model = load_scene(source)
    handles = SceneHandles.of(model, robot.joint_names)
    nominal = read_parameters(model, handles)
    logs = read_logs(log_paths, robot.joint_names, dt=model.opt.timestep)
    train, test = split_logs(logs, held_out)
    replayer = Replayer(model, robot, threads=threads)
    options = options or FitOptions()
    with tqdm(total=options.max_iterations, desc="sysid", unit="it", disable=not progress) as bar:

        def report(iteration: int, cost: float) -> None:
            bar.update(1)
            bar.set_postfix(cost=f"{cost:.4g}")

        fit = fit_parameters(replayer, train, nominal, options=options, progress=report)
    out = Path(out)
    scene_out = write_calibrated_scene(source, out.with_suffix(".xml"), robot.joint_names, fit.parameters)
    quality = None
    if test:
        quality = FitQuality(
            held_out=[log.name for log in test],
            rmse_before=held_out_rmse(replayer, test, nominal).tolist(),
            rmse_after=held_out_rmse(replayer, test, fit.parameters).tolist(),
        )
    profile = CalibrationProfile(
        robot=robot.name,
        joint_names=robot.joint_names,
        source_scene=str(source.resolve()),
        scene=scene_out.name,
        logs=[str(p) for p in log_paths],
        parameters={k: fit.parameters.joints[k].tolist() for k in JOINT_PARAMETERS},
        latency=fit.parameters.latency,
        ci95_low={k: fit.low.joints[k].tolist() for k in JOINT_PARAMETERS},
        ci95_high={k: fit.high.joints[k].tolist() for k in JOINT_PARAMETERS},
        latency_ci95=(fit.low.latency, fit.high.latency),
        fixed=fit.fixed,
        at_bound=fit.at_bound,
        poorly_determined=fit.poorly_determined,
        quality=quality,
    )
    profile.write(out)
    write_randomization(fit, robot.joint_names, out.with_suffix(".randomization.yaml"))
    for name in fit.at_bound:
        print(f"warning: {name} is at a bound of the search box; widen it or check the logs", file=sys.stderr)
    for name in fit.poorly_determined:
        print(
            f"warning: {name} is poorly determined by these logs (95% interval wider than "
            f"±{100 * options.poorly_determined:.0f}%)",
            file=sys.stderr,
        )
    return Identification(profile, out, fit, nominal)
