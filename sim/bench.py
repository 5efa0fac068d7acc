"""``wm-planner bench``: planning throughput of this planner on the ONNX bundle against pytorch_mppi on
the same dynamics in torch and against true-physics rollouts with ``mujoco.rollout``, in one run.

All three plan the reach task from the same state at the same samples N, horizon H and iterations per
plan. Imagined transitions per second = N * H * iterations / plan latency.

Ours is timed twice: on an idle machine, and with ``load_cores`` busy processes (a robot computer also
runs drivers, perception and other nodes), where the p99 is what decides whether a plan fits the period.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from sim.env import ArmEnv
from sim.robots import RobotFolder, add_robot_option
from wm_planner.config import PlannerConfig, RuntimeConfig
from wm_planner.control import RolloutSource, build_joint_planner, bundle_source
from wm_planner.planning import ReachCost, SamplingPlanner
from wm_planner.progress import progress_bar

__all__ = ["BENCHMARKS", "run_bench"]

BENCHMARKS = ("ours", "pytorch_mppi", "mujoco_rollout")


def _timed(plan: Callable[[], Any], repeats: int, warmup: int, label: str, progress: bool) -> np.ndarray:
    for _ in range(warmup):
        plan()
    latencies = np.empty(repeats)
    for i in progress_bar(
        range(repeats), desc=f"bench {label}", unit="plan", disable=not progress, leave=False
    ):
        start = time.perf_counter()
        plan()
        latencies[i] = time.perf_counter() - start
    return latencies


@contextlib.contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """``count`` processes spinning on the CPU for the duration of the block."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]
    try:
        time.sleep(0.5 if count else 0.0)  # let the scheduler spread them before timing starts
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()


def _stats(latencies: np.ndarray, transitions_per_plan: int) -> dict[str, float]:
    ms = 1000.0 * latencies
    return {
        "plans": int(latencies.size),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "mean_ms": float(ms.mean()),
        "transitions_per_s": float(transitions_per_plan / latencies.mean()),
    }


def _pytorch_mppi_planner(
    bundle: Path, env: ArmEnv, config: PlannerConfig, goal: np.ndarray
) -> Callable[[], Any]:
    """pytorch_mppi.MPPI over the bundle's torch weights: latent state, model step as dynamics, the reach
    cost on decoded features as running cost, the same noise and bounds."""
    import torch
    from pytorch_mppi import MPPI

    from wm_planner.model import load_bundle_model

    model = load_bundle_model(bundle)
    layout = env.observation_layout
    ee, qd = layout.slice("ee_pos"), layout.slice("joint_vel")
    target = torch.as_tensor(goal, dtype=torch.float32)
    speed_weight = ReachCost(layout, goal).speed_weight

    def dynamics(z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return model.step(z, action)[0]

    def running_cost(z: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        features = model.decode(z)
        distance = (features[:, ee] - target).pow(2).sum(-1).sqrt()
        return distance + speed_weight * features[:, qd].pow(2).sum(-1)

    bound = torch.as_tensor(env.max_step, dtype=torch.float32)
    sigma = torch.diag((config.noise_std * bound) ** 2)
    mppi = MPPI(
        dynamics,
        running_cost,
        model.state_size,
        sigma,
        num_samples=config.samples,
        horizon=config.horizon,
        lambda_=1.0,
        u_min=-bound,
        u_max=bound,
    )
    obs = torch.as_tensor(env.observe(), dtype=torch.float32)

    @torch.no_grad()
    def plan() -> torch.Tensor:
        z = model.encode(obs[None])[0]
        action = mppi.command(z)
        for _ in range(config.iterations - 1):
            action = mppi.command(z, shift_nominal_trajectory=False)
        return action

    return plan


def run_bench(
    bundle: str | Path,
    *,
    planner: PlannerConfig | None = None,
    repeats: int = 300,
    physics_repeats: int = 10,
    runtime: RuntimeConfig | None = None,
    load_cores: int = 1,
    folder: RobotFolder | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Any]:
    """Measure the three planners, and ours again with ``load_cores`` cores kept busy; returns the
    JSON-ready result."""
    from sim.oracle import oracle_source

    bundle = Path(bundle)
    env = ArmEnv("reach", folder=folder)
    env.reset(seed=seed)
    source = bundle_source(bundle, robot=env.robot, runtime=runtime, planner=planner)
    physics = oracle_source(env, samples=source.samples, horizon=source.horizon)
    cost = ReachCost(env.observation_layout, env.goal)

    # Planned as the robot plans: within the command filter's acceleration limits (PlannerConfig.feasible).
    ours, on_physics = (
        build_joint_planner(rollouts, env.robot, planner=planner, seed=seed) for rollouts in (source, physics)
    )

    def plan_with(sampler: SamplingPlanner, rollouts: RolloutSource) -> Callable[[], Any]:
        return lambda: sampler.plan(rollouts.bind(env.observe()), cost)

    config = ours.config
    transitions = config.samples * config.horizon * config.iterations
    results = {
        "ours": _timed(plan_with(ours, source), repeats, 20, "ours (onnx)", progress),
        "pytorch_mppi": _timed(
            _pytorch_mppi_planner(bundle, env, config, env.goal), repeats, 20, "pytorch_mppi", progress
        ),
        "mujoco_rollout": _timed(
            plan_with(on_physics, physics), physics_repeats, 1, "mujoco.rollout", progress
        ),
    }
    with busy_cores(load_cores):
        results["ours_loaded"] = _timed(
            plan_with(ours, source), repeats, 20, f"ours, loaded ({load_cores} busy)", progress
        )
    stats = {name: _stats(latencies, transitions) for name, latencies in results.items()}
    rate = stats["ours"]["transitions_per_s"]
    return {
        "settings": {
            "samples": config.samples,
            "horizon": config.horizon,
            "iterations": config.iterations,
            "algorithm": config.algorithm,
            "bundle": str(bundle),
            "providers": list(source.providers),
            "cpu_shards": (runtime or RuntimeConfig()).cpu_shards,
            "intra_op_threads": (runtime or RuntimeConfig()).intra_op_threads,
            "load_cores": load_cores,
            "cpu_count": os.cpu_count(),
            "machine": platform.processor() or platform.machine(),
        },
        **stats,
        "ratio_vs_pytorch_mppi": rate / stats["pytorch_mppi"]["transitions_per_s"],
        "ratio_vs_mujoco_rollout": rate / stats["mujoco_rollout"]["transitions_per_s"],
    }


def _cmd_bench(args: argparse.Namespace) -> int:
    from wm_planner.config import load_yaml_model

    planner = load_yaml_model(args.config, PlannerConfig) if args.config else PlannerConfig()
    if args.iterations:
        planner = planner.model_copy(update={"iterations": args.iterations})
    result = run_bench(
        args.model,
        planner=planner,
        repeats=args.repeats,
        physics_repeats=args.physics_repeats,
        runtime=RuntimeConfig(
            providers=tuple(args.providers), cpu_shards=args.cpu_shards, intra_op_threads=args.threads
        ),
        load_cores=args.load_cores,
        folder=RobotFolder.of(args.robot),
    )
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    s = result["settings"]
    print(
        f"N={s['samples']} H={s['horizon']} x{s['iterations']}: ours p50 {result['ours']['p50_ms']:.2f} ms / "
        f"p99 {result['ours']['p99_ms']:.2f} ms, {result['ratio_vs_pytorch_mppi']:.2f}x pytorch_mppi, "
        f"{result['ratio_vs_mujoco_rollout']:.0f}x mujoco.rollout; loaded ({args.load_cores} busy) p50 "
        f"{result['ours_loaded']['p50_ms']:.2f} ms / p99 {result['ours_loaded']['p99_ms']:.2f} ms -> {out}"
    )
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``bench`` to the ``wm-planner`` command line."""
    p = sub.add_parser("bench", help="plan latency and throughput vs pytorch_mppi and mujoco.rollout")
    p.add_argument("--model", required=True, help="ONNX bundle directory")
    p.add_argument("--json", required=True, help="where to write the results")
    add_robot_option(p)
    p.add_argument("--config", help="PlannerConfig YAML (samples and horizon come from the bundle)")
    p.add_argument("--iterations", type=int, help="override the planner's iterations per plan")
    p.add_argument("--repeats", type=int, default=300, help="timed plans for ours and pytorch_mppi")
    p.add_argument("--physics-repeats", type=int, default=10, help="timed plans with mujoco.rollout")
    p.add_argument("--providers", nargs="+", default=list(RuntimeConfig().providers))
    p.add_argument(
        "--load-cores", type=int, default=1, help="busy processes while ours is timed a second time"
    )
    p.add_argument(
        "--cpu-shards", type=int, default=RuntimeConfig().cpu_shards, help="runtime.cpu_shards (0: per core)"
    )
    p.add_argument(
        "--threads", type=int, default=0, help="runtime.intra_op_threads (0: ONNX Runtime's choice)"
    )
    p.set_defaults(func=_cmd_bench)
