"""Soak run: the sim and planner nodes for many minutes, goals changing every few seconds, sampling the
planner's memory and control rate; prints the figures and writes them as JSON.

    python -m wm_planner_ros.soak --model BUNDLE --minutes 10 --json soak.json   (scripts/soak.sh)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import rclpy

from wm_planner.progress import progress_bar
from wm_planner_ros.client import PlannerClient
from wm_planner_ros.launcher import start_nodes

__all__ = ["main", "rss_mb"]

EE_GOALS = ([0.45, 0.12, 0.3], [0.35, -0.2, 0.2], [0.55, 0.05, 0.4], [0.4, 0.25, 0.15])
JOINT_GOALS = ([0.3, -0.5, 0.2, -2.0, 0.1, 1.8, 0.5], [-0.3, -0.9, -0.1, -2.4, 0.0, 1.5, 1.0])


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` (MiB), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no VmRSS for process {pid}")


def soak(model: str, minutes: float, *, warmup_s: float, sample_s: float, goal_s: float, log: Path) -> dict:
    with open(log, "wb") as out, start_nodes({"model_path": model}, {"task": "reach"}, output=out) as nodes:
        os.environ.update(
            {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST", "ROS_DOMAIN_ID": str(nodes.domain_id)}
        )
        rclpy.init()
        client = PlannerClient(record_commands=False)
        try:
            if not client.wait_for(lambda: (client.status() or {}).get("lifecycle") == "active", 90.0):
                raise RuntimeError(f"planner did not become active; see {log}")
            return _run(client, nodes.processes["planner"].pid, minutes * 60.0, warmup_s, sample_s, goal_s)
        finally:
            client.close()
            rclpy.try_shutdown()


def _run(
    client: PlannerClient, pid: int, duration: float, warmup_s: float, sample_s: float, goal_s: float
) -> dict:
    samples, goals_sent = [], 0
    start = time.monotonic()
    next_goal = next_sample = start
    with progress_bar(total=round(duration), desc="soak", unit="s") as bar:
        while (now := time.monotonic()) - start < duration:
            if now >= next_goal:
                if goals_sent % 3 == 2:
                    client.send_joint_goal(JOINT_GOALS[goals_sent % len(JOINT_GOALS)])
                else:
                    client.send_ee_goal(EE_GOALS[goals_sent % len(EE_GOALS)])
                goals_sent += 1
                next_goal += goal_s
            if now >= next_sample:
                diagnostics = client.diagnostics() or {}
                samples.append(
                    {
                        "t": now - start,
                        "rss_mb": rss_mb(pid),
                        "loop_rate_hz": float(diagnostics.get("loop_rate_hz", 0.0)),
                        "plan_p99_ms": float(diagnostics.get("plan_latency_p99_ms", 0.0)),
                        "deadline_misses": int(diagnostics.get("deadline_misses", 0)),
                    }
                )
                bar.set_postfix_str(
                    f"rss {samples[-1]['rss_mb']:.1f} MiB, {samples[-1]['loop_rate_hz']:.2f} Hz"
                )
                next_sample += sample_s
            if round(now - start) > bar.n:
                bar.update(round(now - start) - bar.n)
            time.sleep(0.05)
    after = [s for s in samples if s["t"] >= warmup_s]
    if len(after) < 2:
        raise RuntimeError("run too short for the warm-up: no samples after it")
    base = after[0]["rss_mb"]
    rates = np.array([s["loop_rate_hz"] for s in after])
    return {
        "duration_s": duration,
        "warmup_s": warmup_s,
        "goals_sent": goals_sent,
        "rss_after_warmup_mb": base,
        "rss_max_mb": max(s["rss_mb"] for s in after),
        "rss_end_mb": after[-1]["rss_mb"],
        "rss_growth_pct": 100.0 * (max(s["rss_mb"] for s in after) - base) / base,
        "loop_rate_first_hz": float(rates[0]),
        "loop_rate_min_hz": float(rates.min()),
        "loop_rate_last_hz": float(rates[-1]),
        "plan_p99_max_ms": max(s["plan_p99_ms"] for s in after),
        "deadline_misses": after[-1]["deadline_misses"],
        "samples": samples,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m wm_planner_ros.soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", required=True, help="ONNX bundle directory")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before memory is compared")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--goal-every", type=float, default=4.0, help="seconds between new goals")
    parser.add_argument("--json", default="soak.json", help="where to write the figures")
    args = parser.parse_args(argv)
    out = Path(args.json)
    report = soak(
        str(Path(args.model).resolve()),
        args.minutes,
        warmup_s=args.warmup,
        sample_s=args.sample,
        goal_s=args.goal_every,
        log=out.with_suffix(".log"),
    )
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"soak {args.minutes:g} min, {report['goals_sent']} goals: planner memory "
        f"{report['rss_after_warmup_mb']:.1f} "
        f"-> max {report['rss_max_mb']:.1f} MiB ({report['rss_growth_pct']:+.1f}% after warm-up); loop rate "
        f"{report['loop_rate_first_hz']:.2f} -> {report['loop_rate_last_hz']:.2f} Hz (min "
        f"{report['loop_rate_min_hz']:.2f}); plan p99 max {report['plan_p99_max_ms']:.1f} ms; "
        f"{report['deadline_misses']} deadline misses -> {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
