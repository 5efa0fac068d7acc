"""``wm-planner demo``: the whole pipeline on the default simulated arm, in one command.

collect reach and push episodes -> train the world model -> export the ONNX bundle -> measure its
prediction error -> plan in closed loop on both tasks -> summary with success rates, plan latency and
where the report, plots and videos are.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from sim.collect import collect
from sim.evaluate import evaluate, write_report
from sim.robots import RobotFolder, add_robot_option
from wm_planner.config import TrainConfig

__all__ = ["DemoSettings", "run_demo"]


@dataclass(frozen=True)
class DemoSettings:
    episodes: int = 300
    """Exploration episodes collected per task."""
    train_steps: int = 3000
    eval_episodes: int = 50
    seed: int = 0


def _stage(number: int, text: str) -> None:
    print(f"[{number}/5] {text}", flush=True)


def run_demo(out: Path, settings: DemoSettings, folder: RobotFolder | None = None) -> dict:
    """Run the pipeline on the robot ``folder`` (default: the shipped arm) into ``out`` (replacing it) and
    return the summary written to ``summary.json``."""
    from wm_planner.model import train_apart
    from wm_planner.model.export import export_bundle
    from wm_planner.model_eval import evaluate_prediction

    start = time.perf_counter()
    shutil.rmtree(out, ignore_errors=True)
    workers = max(1, os.cpu_count() or 1)
    _stage(1, "collecting exploration episodes")
    data = [out / "data" / task for task in ("reach", "push")]
    for i, path in enumerate(data):
        print(
            collect(
                path.name, settings.episodes, path, workers=workers, seed=settings.seed + i, folder=folder
            ).line(path.name)
        )
    _stage(2, "training the world model")
    trained = train_apart(
        data, out / "run", train_config=TrainConfig(steps=settings.train_steps, seed=settings.seed)
    )
    _stage(3, "exporting the ONNX bundle")
    bundle = export_bundle(out / "run", out / "bundle").bundle
    prediction = {path.name: evaluate_prediction(bundle, path) for path in data}
    _stage(4, "planning in closed loop")
    results = {}
    for task in ("reach", "push"):
        json_path = out / "eval" / f"{task}.json"
        json_path.parent.mkdir(parents=True, exist_ok=True)
        report = evaluate(
            task,
            bundle=bundle,
            episodes=settings.eval_episodes,
            seed=settings.seed,
            folder=folder,
            video=json_path.with_name(f"{task}_episode.mp4"),
        )
        write_report(report, json_path)
        print(report.summary())
        results[task] = report.to_json()
    _stage(5, "summary")
    summary = {
        "seconds": time.perf_counter() - start,
        "train_seconds": trained.seconds,
        "validation_ee_error_m": trained.val_error,
        "prediction": prediction,
        "success_rate": {task: r["success_rate"] for task, r in results.items()},
        "plan_latency_ms": {task: r["plan_latency_ms"] for task, r in results.items()},
        "robot": "shipped" if folder is None or folder.path is None else str(folder.path),
        "bundle": str(bundle),
        "reports": str(out / "eval"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def _cmd_demo(args: argparse.Namespace) -> int:
    settings = DemoSettings(
        episodes=args.episodes, train_steps=args.train_steps, eval_episodes=args.eval_episodes, seed=args.seed
    )
    out = Path(args.out)
    s = run_demo(out, settings, RobotFolder.of(args.robot))
    latency = s["plan_latency_ms"]["reach"]
    false_motion = s["prediction"]["push"].get("contact", {}).get("false_motion_rate")
    imagined = "" if false_motion is None else f"; cube imagined moving while still {false_motion:.1%}"
    print(
        f"demo done in {s['seconds'] / 60:.1f} min: success reach {s['success_rate']['reach']:.0%}, "
        f"push {s['success_rate']['push']:.0%}{imagined}; plan latency p50 {latency['p50']:.1f} ms, "
        f"p99 {latency['p99']:.1f} ms; reports, plots and videos in {s['reports']} -> {out / 'summary.json'}"
    )
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``demo`` to the ``wm-planner`` command line."""
    d = DemoSettings()
    p = sub.add_parser(
        "demo", help="collect, train, export and plan on a simulated arm (default: the shipped one)"
    )
    p.add_argument("--out", default="runs/demo", help="output directory (replaced)")
    add_robot_option(p)
    p.add_argument("--episodes", type=int, default=d.episodes, help="exploration episodes per task")
    p.add_argument("--train-steps", type=int, default=d.train_steps)
    p.add_argument("--eval-episodes", type=int, default=d.eval_episodes, help="closed-loop episodes per task")
    p.add_argument("--seed", type=int, default=d.seed)
    p.set_defaults(func=_cmd_demo)
