"""The sim-to-real report: ``metrics.json`` and a self-contained ``report.html`` with its plots."""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from calibration.evaluation.replays import ReplayedLog
from calibration.model.profile import CalibrationProfile, FitQuality

__all__ = ["write_report"]


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _rmse_bars(tracking: dict[str, Any], joint_names: Sequence[str]) -> str:
    figure, ax = plt.subplots(figsize=(7, 3))
    x = np.arange(len(joint_names))
    for offset, name in ((-0.27, "uncalibrated"), (0.0, "baseline"), (0.27, "calibrated")):
        label = "delay baseline (no physics)" if name == "baseline" else name
        ax.bar(x + offset, 1000 * np.asarray(tracking[name]["rmse_rad"]), width=0.27, label=label)
    ax.set_xticks(x, joint_names)
    ax.set_ylabel("tracking RMSE (mrad)")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("Open-loop replay of the logged commands")
    return _png(figure)


def _joints(item: ReplayedLog) -> str:
    """Every joint of one log: position and velocity, measured against both replays (and the baseline's
    position), and the torque, measured against the calibrated scene's, where logged."""
    log = item.log
    columns = 3 if item.torque is not None else 2
    figure, axes = plt.subplots(
        len(log.joint_names), columns, figsize=(4 * columns, 1.7 * len(log.joint_names)), sharex=True
    )
    for j, name in enumerate(log.joint_names):
        position, velocity = axes[j, 0], axes[j, 1]
        position.plot(log.time, log.position[:, j], "k", lw=1.2, label="measured")
        position.plot(log.time, item.uncalibrated[:, j], lw=0.8, label="uncalibrated sim")
        position.plot(log.time, item.baseline[:, j], ":", lw=0.8, label="delay baseline")
        position.plot(log.time, item.calibrated[:, j], "--", lw=0.8, label="calibrated sim")
        position.set_ylabel(f"{name}\n(rad)")
        velocity.plot(log.time, log.velocity[:, j], "k", lw=1.2)
        velocity.plot(log.time, item.velocity_uncalibrated[:, j], lw=0.8)
        velocity.plot(log.time, item.velocity_calibrated[:, j], "--", lw=0.8)
        velocity.set_ylabel("rad/s")
        if item.torque is not None:
            time, measured, predicted = item.torque
            axes[j, 2].plot(time, measured[:, j], "k", lw=1.2, label="measured")
            axes[j, 2].plot(time, predicted[:, j], "--", lw=0.8, label="calibrated scene")
            axes[j, 2].set_ylabel("N·m")
    axes[0, 0].legend(fontsize=7, loc="upper right")
    axes[0, 0].set_title("position")
    axes[0, 1].set_title("velocity")
    if item.torque is not None:
        axes[0, 2].set_title("torque")
        axes[0, 2].legend(fontsize=7, loc="upper right")
    for ax in axes[-1]:
        ax.set_xlabel("time (s)")
    figure.suptitle(log.name)
    figure.tight_layout()
    return _png(figure)


def _kstep(world_models: Sequence[dict[str, Any]]) -> str:
    figure, axes = plt.subplots(1, 2, figsize=(9, 3))
    for wm in world_models:
        ks = sorted(int(k) for k in wm["k"])
        label = Path(wm["bundle"]).name
        for ax, (name, unit) in zip(axes, (("ee_pos_m", "mm"), ("joint_pos_rad", "mrad")), strict=True):
            ax.plot(ks, [1000 * wm["k"][str(k)][name]["median"] for k in ks], "o-", label=label)
            ax.set_ylabel(f"median {name.split('_')[0]} error ({unit})")
            ax.set_xlabel("k (control periods)")
    axes[0].legend(fontsize=8)
    figure.suptitle("World models' k-step error on these logs")
    figure.tight_layout()
    return _png(figure)


def _success(success: dict[str, Any]) -> str:
    figure, ax = plt.subplots(figsize=(4, 4))
    for name, outcome in success["configs"].items():
        ax.scatter(outcome["sim_success"], outcome["real_success"])
        ax.annotate(name, (outcome["sim_success"], outcome["real_success"]), fontsize=8)
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("sim success")
    ax.set_ylabel("real success")
    ax.set_title(f"r = {success['pearson_r']:.3f}, MMRV = {success['mmrv']:.3f}")
    return _png(figure)


def _table(tracking: dict[str, Any], joint_names: Sequence[str]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(n)}</td>" + "".join(f"<td>{1000 * v:.3f}</td>" for v in (b, d, a)) + "</tr>"
        for n, b, d, a in zip(
            joint_names,
            tracking["uncalibrated"]["rmse_rad"],
            tracking["baseline"]["rmse_rad"],
            tracking["calibrated"]["rmse_rad"],
            strict=True,
        )
    )
    return (
        "<table><tr><th>joint</th><th>uncalibrated RMSE (mrad)</th><th>delay baseline RMSE (mrad)</th>"
        f"<th>calibrated RMSE (mrad)</th></tr>{rows}</table>"
    )


def _model_classes(profile: CalibrationProfile, quality: FitQuality) -> str:
    """The held-out RMSE of every servo model class fitted, against the delay baseline's."""
    baseline = sum(quality.rmse_baseline) / len(quality.rmse_baseline)
    rows = "".join(
        f"<tr><td>{html.escape(name)}{' (kept)' if name == profile.servo_model else ''}</td>"
        f"<td>{1000 * sum(rmse) / len(rmse):.4f}</td><td>{sum(rmse) / len(rmse) / baseline:.2f}</td></tr>"
        for name, rmse in quality.by_model.items()
    )
    scene = {
        "mujoco_servo": "",
        "actuator_net": "<p>Replays here run the calibrated scene corrected by the actuator net; the "
        "simulator's episodes run the scene without it.</p>",
    }.get(
        profile.servo_model,
        "<p>The simulator runs the calibrated scene (mujoco_servo), not the class kept here.</p>",
    )
    return (
        "<table><tr><th>servo model class</th><th>held-out RMSE (mrad)</th><th>/ delay baseline</th></tr>"
        f"{rows}</table>{scene}"
    )


def _calibration(profile: CalibrationProfile) -> str:
    """Which logs were fitted and held out, every fitted value with its interval and search bounds,
    strong correlations, and what the torques identified."""
    quality = profile.quality
    parts = ["<h2>Calibration</h2>"]
    if quality is not None:
        parts.append(
            f"<p>Fitted: {html.escape(', '.join(quality.fitted))}<br>Held out: "
            f"{html.escape(', '.join(quality.held_out))}<br>"
            f"Delay baseline: {1000 * quality.baseline_delay:.1f} ms</p>"
        )
        parts.append(_model_classes(profile, quality))
    rows = []
    for kind, values in profile.parameters.items():
        for j, joint in enumerate(profile.joint_names):
            name = f"{kind}[{joint}]"
            bounds = profile.bounds.get(name)
            box = "fixed" if bounds is None else f"[{bounds[0]:.4g}, {bounds[1]:.4g}]"
            rows.append(
                f"<tr><td>{name}</td><td>{values[j]:.4g}</td>"
                f"<td>[{profile.ci95_low[kind][j]:.4g}, {profile.ci95_high[kind][j]:.4g}]</td>"
                f"<td>{box}</td></tr>"
            )
    for name, value, (lo, hi) in (
        ("latency", profile.latency, profile.latency_ci95),
        ("command_filter", profile.command_filter, profile.command_filter_ci95),
    ):
        searched = profile.bounds.get(name)
        cell = "fixed" if searched is None else f"[{searched[0]:.4g}, {searched[1]:.4g}]"
        rows.append(
            f"<tr><td>{name} (s)</td><td>{value:.4g}</td><td>[{lo:.4g}, {hi:.4g}]</td><td>{cell}</td></tr>"
        )
    parts.append(
        "<table><tr><th>parameter</th><th>fitted</th><th>95% interval</th><th>search bounds</th></tr>"
        + "".join(rows)
        + "</table>"
    )
    if profile.correlations:
        pairs = "".join(
            f"<li>{html.escape(a)} and {html.escape(b)}: r = {r:+.2f}</li>"
            for a, b, r in profile.correlations
        )
        parts.append(
            f"<p>Strongly correlated estimates (the logs tell their combination):</p><ul>{pairs}</ul>"
        )
    if profile.inertial is not None:
        inertial = profile.inertial
        low, high = inertial.scale_ci95
        links = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{scale:.3f}</td><td>[{lo:.3f}, {hi:.3f}]</td>"
            f"<td>{before:.3f}</td><td>{after:.3f}</td>"
            f"<td>{'not determined: scene kept' if name in inertial.not_identified else ''}</td></tr>"
            for name, scale, lo, hi, before, after in zip(
                inertial.links,
                inertial.scale,
                low,
                high,
                inertial.mass_before,
                inertial.mass_after,
                strict=True,
            )
        )
        parts.append(
            f"<h3>From the logged torques ({html.escape(profile.torque_sensor)}-side sensor)</h3>"
            "<p>Link scale factors: each scales a link's mass and inertia in the scene's own geometry. A "
            "scale is not a measured mass: where the scene's shapes differ from the real links, the scale "
            "absorbs the difference, and its interval covers the noise, not that difference.</p>"
            "<table><tr><th>link</th><th>scale</th><th>95% interval</th><th>scene mass (kg)</th>"
            f"<th>scene mass x scale (kg)</th><th></th></tr>{links}</table>"
        )
        friction = "".join(
            f"<tr><td>{html.escape(joint)}</td><td>{a:.4g}</td><td>{v:.4g}</td><td>{c:.4g}</td><td>{e:.3g}</td></tr>"
            for joint, a, v, c, e in zip(
                profile.joint_names,
                inertial.armature,
                inertial.viscous,
                inertial.coulomb,
                inertial.torque_rmse,
                strict=True,
            )
        )
        parts.append(
            "<table><tr><th>joint</th><th>armature (kg·m²)</th><th>viscous (N·m·s/rad)</th>"
            f"<th>Coulomb (N·m)</th><th>torque RMSE (N·m)</th></tr>{friction}</table>"
        )
    return "".join(parts)


def _headline(tracking: dict[str, Any], delay: float) -> str:
    """The calibration against its delay baseline, first and loud when it loses."""
    ratio = tracking["baseline_ratio"]
    verdict = "better than" if ratio <= 1.0 else "WORSE than"
    colour = "#1a7f37" if ratio <= 1.0 else "#cf222e"
    return (
        f'<p style="font-size:1.3em;color:{colour}"><b>Calibrated / delay baseline: {ratio:.2f}</b>: the '
        f"calibrated twin tracks {verdict} the command {1000 * delay:.1f} ms late.</p>"
    )


def write_report(
    out: str | Path,
    metrics: dict[str, Any],
    replayed: Sequence[ReplayedLog],
    joint_names: Sequence[str],
    profile: CalibrationProfile,
) -> Path:
    """Write ``metrics.json`` and ``report.html`` into the directory ``out``; returns the report path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    tracking = metrics["tracking"]
    sections = [
        "<h2>Tracking</h2>",
        _headline(tracking, metrics["baseline_delay_s"]),
        f"<p>Mean joint RMSE {1000 * tracking['calibrated']['rmse_mean_rad']:.3f} mrad calibrated, "
        f"{1000 * tracking['baseline']['rmse_mean_rad']:.3f} mrad for the commanded path "
        f"{1000 * metrics['baseline_delay_s']:.1f} ms late (no physics), "
        f"{1000 * tracking['uncalibrated']['rmse_mean_rad']:.3f} mrad uncalibrated; tool-tip error "
        f"{1000 * tracking['uncalibrated']['ee_error_mean_m']:.2f} mm -> "
        f"{1000 * tracking['calibrated']['ee_error_mean_m']:.2f} mm (mean).</p>",
        _table(tracking, joint_names),
        f'<img src="data:image/png;base64,{_rmse_bars(tracking, joint_names)}">',
        *(f'<img src="data:image/png;base64,{_joints(item)}">' for item in replayed),
        _calibration(profile),
    ]
    if metrics.get("world_models"):
        models = metrics["world_models"]
        rows = "".join(
            f"<tr><td>{html.escape(wm['bundle'])}</td><td>{wm['windows']}</td>"
            + "".join(
                f"<td>{1000 * wm['k'][k]['ee_pos_m']['median']:.1f}</td>" for k in sorted(wm["k"], key=int)
            )
            + "</tr>"
            for wm in models
        )
        heads = "".join(f"<th>{k}-step EE (mm)</th>" for k in sorted(models[0]["k"], key=int))
        sections += [
            "<h2>World models</h2>",
            f"<table><tr><th>bundle</th><th>windows</th>{heads}</tr>{rows}</table>",
            f'<img src="data:image/png;base64,{_kstep(models)}">',
        ]
    if metrics.get("success"):
        sections += [
            "<h2>Task success, sim vs real</h2>",
            f'<img src="data:image/png;base64,{_success(metrics["success"])}">',
        ]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>wm_planner sim-to-real report</title>"
        "<style>body{font-family:sans-serif;max-width:900px;margin:2em auto}td,th{padding:2px 10px}</style>"
        f"</head><body><h1>Sim-to-real report</h1><p>Logs: {html.escape(', '.join(metrics['logs']))}<br>"
        f"Profile: {html.escape(metrics['profile'])} (latency {1000 * metrics['latency_s']:.2f} ms)</p>"
        + "".join(sections)
        + "</body></html>"
    )
    path = out / "report.html"
    path.write_text(page)
    return path
