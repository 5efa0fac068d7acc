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

from calibration.sim2real import ReplayedLog

__all__ = ["write_report"]


def _png(figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return base64.b64encode(buffer.getvalue()).decode()


def _rmse_bars(tracking: dict[str, Any], joint_names: Sequence[str]) -> str:
    figure, ax = plt.subplots(figsize=(7, 3))
    x = np.arange(len(joint_names))
    for offset, name in ((-0.2, "uncalibrated"), (0.2, "calibrated")):
        ax.bar(x + offset, 1000 * np.asarray(tracking[name]["rmse_rad"]), width=0.4, label=name)
    ax.set_xticks(x, joint_names)
    ax.set_ylabel("tracking RMSE (mrad)")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("Open-loop replay of the logged commands")
    return _png(figure)


def _traces(item: ReplayedLog) -> str:
    log = item.log
    joint = int(np.argmax(np.sqrt(np.mean((item.uncalibrated - log.position) ** 2, axis=0))))
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 4.5), sharex=True)
    top.plot(log.time, log.position[:, joint], "k", lw=1.2, label="measured")
    top.plot(log.time, item.uncalibrated[:, joint], lw=0.9, label="uncalibrated sim")
    top.plot(log.time, item.calibrated[:, joint], "--", lw=0.9, label="calibrated sim")
    top.set_ylabel(f"{log.joint_names[joint]} (rad)")
    top.legend(fontsize=8)
    bottom.plot(
        log.time, 1000 * (item.uncalibrated[:, joint] - log.position[:, joint]), lw=0.9, label="uncalibrated"
    )
    bottom.plot(
        log.time, 1000 * (item.calibrated[:, joint] - log.position[:, joint]), lw=0.9, label="calibrated"
    )
    bottom.set_ylabel("error (mrad)")
    bottom.set_xlabel("time (s)")
    bottom.legend(fontsize=8)
    top.set_title(f"{log.name}: the joint with the largest uncalibrated error")
    return _png(figure)


def _kstep(world_model: dict[str, Any]) -> str:
    ks = sorted(int(k) for k in world_model["k"])
    figure, ax = plt.subplots(figsize=(5, 3))
    for name, unit, scale in (("ee_pos_m", "mm", 1000), ("joint_pos_rad", "mrad", 1000)):
        ax.plot(
            ks, [scale * world_model["k"][str(k)][name]["median"] for k in ks], "o-", label=f"{name} ({unit})"
        )
    ax.set_xlabel("k (control periods)")
    ax.set_ylabel("median error")
    ax.legend()
    ax.set_title("World model k-step error on these logs")
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
        f"<tr><td>{html.escape(n)}</td><td>{1000 * b:.3f}</td><td>{1000 * a:.3f}</td></tr>"
        for n, b, a in zip(
            joint_names, tracking["uncalibrated"]["rmse_rad"], tracking["calibrated"]["rmse_rad"], strict=True
        )
    )
    return (
        "<table><tr><th>joint</th><th>uncalibrated RMSE (mrad)</th><th>calibrated RMSE (mrad)</th></tr>"
        f"{rows}</table>"
    )


def write_report(
    out: str | Path, metrics: dict[str, Any], replayed: Sequence[ReplayedLog], joint_names: Sequence[str]
) -> Path:
    """Write ``metrics.json`` and ``report.html`` into the directory ``out``; returns the report path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    tracking = metrics["tracking"]
    sections = [
        "<h2>Tracking</h2>",
        f"<p>Mean joint RMSE {1000 * tracking['uncalibrated']['rmse_mean_rad']:.3f} mrad uncalibrated, "
        f"{1000 * tracking['calibrated']['rmse_mean_rad']:.3f} mrad calibrated "
        f"({tracking['improvement']:.1f}x lower); tool-tip error "
        f"{1000 * tracking['uncalibrated']['ee_error_mean_m']:.2f} mm -> "
        f"{1000 * tracking['calibrated']['ee_error_mean_m']:.2f} mm (mean).</p>",
        _table(tracking, joint_names),
        f'<img src="data:image/png;base64,{_rmse_bars(tracking, joint_names)}">',
        f'<img src="data:image/png;base64,{_traces(replayed[0])}">',
    ]
    if metrics.get("world_model"):
        wm = metrics["world_model"]
        sections += [
            "<h2>World model</h2>",
            f"<p>{html.escape(wm['bundle'])}: {wm['windows']} windows.</p>",
            f'<img src="data:image/png;base64,{_kstep(wm)}">',
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
