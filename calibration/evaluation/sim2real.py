"""How far the simulator and the learned model are from the arm that produced some logs.

- Tracking: the logged commands replayed open loop in the uncalibrated scene and in the calibrated one
  (with the profile's latency); per-joint RMSE against the measured joints, and the tool-tip error.
- World model: k-step open-loop prediction error of an ONNX bundle on the logs, resampled to the model's
  control period (observations from the measured joints, actions the commanded setpoint changes).
- Task success: when several planner configurations were run both in sim and on the arm, how well sim
  success predicts real success: Pearson r and MMRV (mean maximum rank violation, Li et al. 2024).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field, model_validator

from calibration.evaluation.replays import ReplayedLog, replay_logs
from calibration.evaluation.report import write_report
from calibration.logs.episodes import log_episode
from calibration.logs.joint_log import JointLog
from calibration.logs.sources import LogReading, read_logs
from calibration.model.profile import load_profile
from sim.scene import load_scene
from wm_planner.config import RobotSpec, StrictModel, load_yaml_model
from wm_planner.observation import ObservationBuilder

__all__ = [
    "ConfigOutcome",
    "Outcomes",
    "load_outcomes",
    "mmrv",
    "pearson_r",
    "run_sim2real",
    "success_agreement",
    "tracking_metrics",
]


class ConfigOutcome(StrictModel):
    """Success rates of one planner configuration, on the real arm and in simulation (0..1). The sim
    rate is given, or read from the JSON that ``wm-planner eval`` wrote for that configuration
    (``sim_eval``, relative to the outcomes file)."""

    real_success: float = Field(ge=0.0, le=1.0)
    sim_success: float | None = Field(default=None, ge=0.0, le=1.0)
    sim_eval: str | None = None

    @model_validator(mode="after")
    def _one_sim_source(self) -> ConfigOutcome:
        if (self.sim_success is None) == (self.sim_eval is None):
            raise ValueError("give exactly one of sim_success and sim_eval")
        return self


class Outcomes(StrictModel):
    """``configs: {name: {real_success, sim_success or sim_eval}}``, at least two of them."""

    configs: dict[str, ConfigOutcome] = Field(min_length=2)


def load_outcomes(path: str | Path) -> Outcomes:
    """The outcomes file at ``path``, every ``sim_eval`` replaced by the success rate it reports."""
    path = Path(path)
    outcomes = load_yaml_model(path, Outcomes)
    configs = {}
    for name, outcome in outcomes.configs.items():
        if outcome.sim_eval is not None:
            report = path.parent / outcome.sim_eval
            try:
                rate = float(json.loads(report.read_text())["success_rate"])
            except (OSError, ValueError, KeyError) as error:
                raise ValueError(
                    f"{path}: configs.{name}.sim_eval: cannot read success_rate from {report}: {error}"
                ) from None
            outcome = ConfigOutcome(real_success=outcome.real_success, sim_success=rate)
        configs[name] = outcome
    return Outcomes(configs=configs)


def pearson_r(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation of two equally long sequences (NaN when either is constant)."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    dx, dy = a - a.mean(), b - b.mean()
    denominator = np.sqrt(np.sum(dx**2) * np.sum(dy**2))
    return float(np.sum(dx * dy) / denominator) if denominator > 0 else float("nan")


def mmrv(real: Sequence[float], sim: Sequence[float]) -> float:
    """Mean maximum rank violation: for each configuration, the largest real-success gap to another
    configuration that sim ranks the other way round; averaged. 0 when sim orders them all as reality does."""
    r, s = np.asarray(real, dtype=np.float64), np.asarray(sim, dtype=np.float64)
    gap = np.abs(r[:, None] - r[None, :])
    violated = (s[:, None] < s[None, :]) != (r[:, None] < r[None, :])
    return float(np.mean(np.max(gap * violated, axis=1)))


def _sim_success(name: str, outcome: ConfigOutcome) -> float:
    if outcome.sim_success is None:
        raise ValueError(f"configs.{name}: no sim_success; read outcome files with load_outcomes")
    return outcome.sim_success


def success_agreement(outcomes: Outcomes) -> dict[str, Any]:
    names = list(outcomes.configs)
    real = [outcomes.configs[n].real_success for n in names]
    sim = [_sim_success(n, outcomes.configs[n]) for n in names]
    return {
        "configs": {n: outcomes.configs[n].model_dump(exclude={"sim_eval"}) for n in names},
        "pearson_r": pearson_r(sim, real),
        "mmrv": mmrv(real, sim),
    }


def _tool_tips(builder: ObservationBuilder, q: np.ndarray) -> np.ndarray:
    return np.array([builder.tool_tip(row) for row in q])


def tracking_metrics(replayed: Sequence[ReplayedLog], builder: ObservationBuilder) -> dict[str, Any]:
    """Per-joint RMSE (rad) and tool-tip error (m, mean and max) of each replay against the measured
    joints, pooled over all samples of all logs, and per log."""
    result: dict[str, Any] = {"per_log": {}}
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {
        "uncalibrated": [],
        "calibrated": [],
        "baseline": [],
    }
    for item in replayed:
        measured_tip = _tool_tips(builder, item.log.position)
        per_log = {}
        for name in pooled:
            q = getattr(item, name)
            squared = (q - item.log.position) ** 2
            tip_error = np.linalg.norm(_tool_tips(builder, q) - measured_tip, axis=1)
            pooled[name].append((squared, tip_error))
            per_log[name] = {
                "rmse_rad": np.sqrt(squared.mean(axis=0)).tolist(),
                "ee_error_mean_m": float(tip_error.mean()),
            }
        result["per_log"][item.log.name] = per_log
    for name, parts in pooled.items():
        squared = np.concatenate([p[0] for p in parts])
        tips = np.concatenate([p[1] for p in parts])
        rmse = np.sqrt(squared.mean(axis=0))
        result[name] = {
            "rmse_rad": rmse.tolist(),
            "rmse_mean_rad": float(rmse.mean()),
            "ee_error_mean_m": float(tips.mean()),
            "ee_error_max_m": float(tips.max()),
        }
    result["improvement"] = result["uncalibrated"]["rmse_mean_rad"] / max(
        result["calibrated"]["rmse_mean_rad"], 1e-12
    )
    # The headline: a calibrated twin earns its place only below 1.
    result["baseline_ratio"] = result["calibrated"]["rmse_mean_rad"] / max(
        result["baseline"]["rmse_mean_rad"], 1e-12
    )
    return result


def _world_model_errors(
    bundle: str | Path, logs: Sequence[JointLog], builder: ObservationBuilder, ks: Sequence[int]
) -> dict[str, Any]:
    """The k-step prediction error of ``bundle`` on ``logs`` (see :func:`log_episode`)."""
    from wm_planner.model_eval import kstep_errors
    from wm_planner.runtime import OnnxWorldModel

    model = OnnxWorldModel(bundle)
    if model.meta.observation_layout != builder.layout:
        raise ValueError(
            f"{bundle}: observations are {model.meta.observation_layout.describe()}, "
            f"not the arm's {builder.layout.describe()}"
        )
    episodes = [log_episode(log, model.meta.control_period, builder) for log in logs]
    result, windows = kstep_errors(model, episodes, ks=ks, stride=5)
    if windows == 0:
        raise ValueError(f"the logs are shorter than {max(ks)} control periods of the model")
    return {"bundle": str(bundle), "k": result, "windows": windows}


def run_sim2real(
    real: Sequence[str | Path],
    profile_path: str | Path,
    out: str | Path,
    robot: RobotSpec,
    *,
    bundles: Sequence[str | Path] = (),
    outcomes: str | Path | None = None,
    ks: Sequence[int] = (1, 10, 30),
    reading: LogReading | None = None,
    threads: int | None = None,
) -> tuple[dict[str, Any], Path]:
    """Compute every metric for the runs ``real`` (bags, episode files or datasets) and write
    ``metrics.json`` and ``report.html`` into ``out``. Returns the metrics and the report's path.

    Each of ``bundles`` adds its k-step prediction error on the logs (before and after fine-tuning on
    real logs, say)."""
    profile = load_profile(profile_path)
    if tuple(profile.joint_names) != tuple(robot.joint_names):
        raise ValueError(
            f"{profile_path}: joints {profile.joint_names} are not the robot's {robot.joint_names}"
        )
    dt = load_scene(profile.scene_path(profile_path)).opt.timestep
    logs = read_logs(real, robot.joint_names, dt=dt, reading=reading)
    replayed = replay_logs(logs, profile, profile_path, robot, threads=threads)
    builder = ObservationBuilder(robot=robot)
    metrics: dict[str, Any] = {
        "logs": [log.name for log in logs],
        "profile": str(profile_path),
        "latency_s": profile.latency,
        "baseline_delay_s": profile.quality.baseline_delay
        if profile.quality is not None
        else profile.latency,
        "tracking": tracking_metrics(replayed, builder),
        "success": None,
    }
    metrics["world_models"] = [_world_model_errors(b, logs, builder, ks) for b in bundles]
    if outcomes is not None:
        metrics["success"] = success_agreement(load_outcomes(outcomes))
    return metrics, write_report(out, metrics, replayed, robot.joint_names, profile)
