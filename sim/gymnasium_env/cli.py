"""``wm-planner gym-collect`` and ``wm-planner gym-eval``: any gymnasium environment from the command
line, with no Python written by the user."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from sim.evaluate import RunOptions, add_run_options
from sim.gymnasium_env.collect import collect_gym
from sim.gymnasium_env.costs import READY_COSTS, load_cost_factory
from sim.gymnasium_env.envs import GymEnvSpec, parse_layout, parse_objects
from sim.gymnasium_env.evaluate import evaluate_gym, write_gym_report
from wm_planner.config import ToolSpec, parse_mapping

__all__ = [
    "add_cost_options",
    "add_environment_options",
    "cost_options",
    "environment_spec",
    "register_collect_cli",
    "register_eval_cli",
]


def environment_spec(args: argparse.Namespace, *, bundle: str | None = None) -> GymEnvSpec:
    """The environment the options of :func:`add_environment_options` name; without ``--layout``, the
    observation layout of ``bundle`` (the one its model was trained on) when one is given."""
    layout = parse_layout(args.layout)
    if layout is None and bundle is not None:
        from wm_planner.runtime import read_bundle_metadata

        layout = read_bundle_metadata(Path(bundle)).observation_layout
    return GymEnvSpec(
        args.env,
        kwargs=parse_mapping(args.env_kwargs, option="--env-kwargs"),
        imports=tuple(args.imports),
        seed_kwarg=args.seed_kwarg,
        layout=layout,
        dt=args.dt,
        objects=parse_objects(args.objects),
        tool=None if args.tool is None else ToolSpec(block=args.tool, radius=args.tool_radius),
    )


def cost_options(args: argparse.Namespace) -> dict[str, Any]:
    """The cost factory, its keywords and the success key that :func:`add_cost_options` name."""
    return {
        "cost_factory": load_cost_factory(args.cost),
        "cost_kwargs": parse_mapping(args.cost_kwargs, option="--cost-kwargs"),
        "success_key": None if args.success_key == "none" else args.success_key,
    }


def _cmd_gym_collect(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    out = collect_gym(
        environment_spec(args),
        args.episodes,
        args.out,
        seed=args.seed,
        steps=args.steps,
        amplitude=args.amplitude,
    )
    print(f"collected {args.episodes} {args.env} episodes in {time.perf_counter() - start:.1f} s -> {out}")
    return 0


def _cmd_gym_eval(args: argparse.Namespace) -> int:
    run = RunOptions.of(args)
    costs = cost_options(args)
    report = evaluate_gym(
        environment_spec(args, bundle=args.model),
        args.model,
        costs.pop("cost_factory"),
        **costs,
        episodes=args.episodes,
        seed=args.seed,
        steps=args.steps,
        stop_at_success=not args.full_episodes,
        planner=run.planner,
        runtime=run.runtime,
        video=run.video,
    )
    run.announce(report.summary(), write_gym_report(report, run.json_path))
    return 0


def add_environment_options(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    """The options that name a gymnasium environment (``--env`` and how to build it) and cap episodes."""
    p.add_argument("--env", required=required, help="gymnasium id, e.g. PointMaze_Open-v3")
    p.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="module to import first, such as the package that registers --env (repeat for several)",
    )
    p.add_argument("--env-kwargs", help="constructor keyword arguments: JSON or YAML, inline or a file")
    p.add_argument(
        "--seed-kwarg",
        help="the constructor keyword that seeds the environment, for one that ignores reset(seed=)",
    )
    p.add_argument(
        "--layout",
        help="names of a flat observation's blocks: 'name:size,name:size' (with a model: its layout)",
    )
    p.add_argument("--dt", type=float, help="control period (s) when the environment has no dt")
    p.add_argument("--steps", type=int, default=None, help="cap on steps per episode")
    p.add_argument(
        "--objects",
        help="objects the model carries explicitly, JSON or YAML (inline or a file): "
        "'{puck: {position: BLOCK, orientation: BLOCK, half_extents: [x, y, z]}}' (needs --tool)",
    )
    p.add_argument("--tool", help="the observation block of the tool's position, which moves the objects")
    p.add_argument("--tool-radius", type=float, default=0.01, help="m: the tool's reach around its point")


def add_cost_options(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    """The options of the planner's cost and of success."""
    p.add_argument(
        "--cost",
        required=required,
        help="MODULE:FACTORY called at every reset as factory(obs, info, layout=..., **cost_kwargs), "
        f"or one of {sorted(READY_COSTS)}",
    )
    p.add_argument(
        "--cost-kwargs", help="keyword arguments of the cost factory: JSON or YAML, inline or a file"
    )
    p.add_argument("--success-key", default="success", help="info key of success ('none': the cost's radius)")


def register_collect_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``gym-collect`` to the ``wm-planner`` command line."""
    p = sub.add_parser("gym-collect", help="collect exploration episodes from a gymnasium environment")
    add_environment_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--episodes", type=int, required=True)
    p.add_argument("--out", required=True, help="dataset directory to create")
    p.add_argument("--amplitude", type=float, default=0.6, help="exploration noise, fraction of the bounds")
    p.set_defaults(func=_cmd_gym_collect)


def register_eval_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``gym-eval`` to the ``wm-planner`` command line."""
    p = sub.add_parser("gym-eval", help="planning in a gymnasium environment, judged by its own success")
    add_environment_options(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", required=True, help="ONNX bundle trained on data of --env")
    add_cost_options(p)
    p.add_argument("--full-episodes", action="store_true", help="go on after success until the episode ends")
    p.add_argument("--episodes", type=int, default=20)
    add_run_options(p)
    p.set_defaults(func=_cmd_gym_eval)
