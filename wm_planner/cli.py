"""The ``wm-planner`` command line.

Core subcommands live here; packages of higher layers (``sim``, ``calibration``) contribute theirs through
the ``wm_planner.commands`` entry-point group, so this module never imports them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from wm_planner.config import (
    ConfigError,
    ModelConfig,
    RuntimeConfig,
    TrainConfig,
    TrainingFile,
    load_yaml_model,
    validate_model,
)
from wm_planner.data import DatasetError, verify_dataset
from wm_planner.progress import QUIET_ENV
from wm_planner.runtime import BundleError

__all__ = ["build_parser", "main"]

COMMAND_GROUP = "wm_planner.commands"
DATA_COMMAND_GROUP = "wm_planner.data_commands"
"""``wm-planner data`` actions contributed by packages above the core (``data import``)."""


def _cmd_data_verify(args: argparse.Namespace) -> int:
    report = verify_dataset(args.dir)
    print(json.dumps(report.to_json()))
    for problem in report.corrupt:
        print(f"corrupt: {problem}", file=sys.stderr)
    return 1 if report.corrupt else 0


def _register_data(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="inspect episode datasets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    verify = data_sub.add_parser(
        "verify",
        help="read every episode; print JSON {episodes, transitions, corrupt}; exit 1 if any file is corrupt",
    )
    verify.add_argument("dir", help="dataset directory (holds manifest.json)")
    verify.set_defaults(func=_cmd_data_verify)
    _add_plugins(data_sub, DATA_COMMAND_GROUP)


def _add_plugins(sub: argparse._SubParsersAction, group: str) -> None:
    """Register the subcommands of the entry points in ``group``."""
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            register = ep.load()
        except ImportError as error:
            # A command whose optional dependencies are missing is listed with the extra that brings them.
            stub = sub.add_parser(ep.name, help=f"unavailable: {error}")
            stub.set_defaults(func=_missing_extra(ep.name, error))
            continue
        register(sub)


def _cmd_train(args: argparse.Namespace) -> int:
    from wm_planner.model import train  # torch is needed for training only
    from wm_planner.model.train import EE_FIELD, release_distributed

    setup = load_yaml_model(args.config, TrainingFile) if args.config else TrainingFile()
    flags = {
        "steps": args.steps,
        "seed": args.seed,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "focus_share": args.focus_share,
    }
    train_config = {**setup.train.model_dump(), **{k: v for k, v in flags.items() if v is not None}}
    model_config = setup.model.model_dump()
    if args.ensemble is not None:
        model_config["ensemble"] = args.ensemble
    try:
        result = train(
            args.data,
            Path(args.out),
            model_config=validate_model(ModelConfig, model_config, source="--ensemble"),
            train_config=validate_model(TrainConfig, train_config, source="command line"),
            resume=args.resume,
            init=args.init,
            focus=args.focus,
            device=args.device,
        )
    finally:
        release_distributed()
    if result.val_error is None:
        val = ""
    elif result.val_field == EE_FIELD:
        val = f", validation EE error {100 * result.val_error:.2f} cm"
    else:
        val = f", validation {result.val_field} error {result.val_error:.4g}"
    if int(os.environ.get("RANK", "0")) == 0:
        print(
            f"trained {result.steps} steps in {result.seconds:.0f} s "
            f"(loss {result.final_loss:.4f}{val}) -> {args.out}"
        )
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from wm_planner.model.export import export_bundle

    result = export_bundle(
        args.run,
        args.out,
        samples=args.samples,
        horizon=args.horizon,
        tolerance=args.tolerance,
        overwrite=args.force,
    )
    print(
        f"exported N={args.samples} H={args.horizon} bundle (parity {result.metadata.parity.worst:.2g} "
        f"<= {args.tolerance:g}) -> {result.bundle}"
    )
    return 0


def _cmd_model_eval(args: argparse.Namespace) -> int:
    from wm_planner.model_eval import evaluate_prediction

    report = evaluate_prediction(
        args.model, args.data, runtime=RuntimeConfig(providers=tuple(args.providers))
    )
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    k = max(report["k"], key=int)
    errors = report["k"][k]
    headline = "ee_pos_m" if "ee_pos_m" in errors else next(iter(errors))
    contact = ""
    if "contact" in report:
        c = report["contact"]
        moving = c["object_error_moving_m"]
        contact = (
            f"; objects over {c['horizon']} steps: false motion {c['false_motion_rate']:.1%}, missed "
            f"{c['missed_motion_rate'] or 0.0:.1%}, error when moving "
            + ("n/a" if moving is None else f"{1000 * moving:.1f} mm")
        )
    scale, unit = (100, " cm") if headline.endswith("_m") else (1, "")
    median, p90 = (scale * errors[headline][q] for q in ("median", "p90"))
    print(
        f"{k}-step {headline.removesuffix('_m')} error median {median:.3g}{unit}, p90 {p90:.3g}{unit} over "
        f"{report['windows']} windows of {report['episodes']} held-out episodes{contact} -> {out}"
    )
    return 0


def _register_model(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the world model on episode datasets (torchrun for several GPUs)")
    p.add_argument("--data", action="append", required=True, help="dataset directory (repeat for several)")
    p.add_argument("--out", required=True, help="run directory for checkpoints and metrics")
    p.add_argument("--steps", type=int, default=None, help=f"optimiser steps (default {TrainConfig().steps})")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help=f"torch CPU threads (default {TrainConfig().threads}; 0: one per core)",
    )
    p.add_argument("--config", help="YAML with optional 'model:' and 'train:' sections (see TrainingFile)")
    p.add_argument(
        "--ensemble", type=int, default=None, help=f"dynamics heads (default {ModelConfig().ensemble})"
    )
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--init", help="fine-tune the model of this training run on --data (real logs, say)")
    p.add_argument(
        "--focus",
        action="append",
        default=[],
        help="a --data directory drawn with --focus-share of every batch, whatever its size (repeatable)",
    )
    p.add_argument(
        "--focus-share",
        type=float,
        default=None,
        help=f"share of every batch from the --focus data (default {TrainConfig().focus_share})",
    )
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("export", help="export a trained run to an ONNX bundle (checks torch/ONNX parity)")
    p.add_argument("--run", required=True, help="training run directory")
    p.add_argument("--out", required=True, help="bundle directory to write")
    p.add_argument("--samples", type=int, default=128, help="candidate sequences N scored per call")
    p.add_argument("--horizon", type=int, default=16, help="planning horizon H in control steps")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest relative torch/ONNX difference")
    p.add_argument("--force", action="store_true", help="replace an existing bundle")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser(
        "model-eval", help="k-step open-loop prediction error of a bundle on held-out episodes"
    )
    p.add_argument("--model", required=True, help="ONNX bundle directory")
    p.add_argument("--data", required=True, help="dataset directory")
    p.add_argument("--json", required=True, help="where to write the JSON report")
    p.add_argument(
        "--providers", nargs="+", default=list(RuntimeConfig().providers), help="execution providers in order"
    )
    p.set_defaults(func=_cmd_model_eval)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="wm-planner",
        description="Plan robot arm motions inside a learned world model.",
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bars (summaries and errors are still printed)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _register_data(sub)
    _register_model(sub)
    _add_plugins(sub, COMMAND_GROUP)
    return parser


def _missing_extra(name: str, error: ImportError):
    def run(_: argparse.Namespace) -> int:
        print(
            f"wm-planner {name}: needs a package that is not installed ({error}); "
            "install the matching extra, e.g. pip install 'wm-planner[sim]'",
            file=sys.stderr,
        )
        return 2

    return run


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quiet:
        # Through the environment, so that worker processes are quiet too.
        os.environ[QUIET_ENV] = "1"
    try:
        return int(args.func(args) or 0)
    except (ConfigError, DatasetError, BundleError, FileExistsError, FileNotFoundError, ValueError) as error:
        print(f"wm-planner {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"wm-planner {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
