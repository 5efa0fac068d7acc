"""Gymnasium's Reacher-v5 through the wm_planner pipeline: collect, train, export, plan.

    python examples/gym_reacher.py --out runs/reacher

The only Reacher-specific code is the observation layout and the cost factory below; everything else is
the pipeline the arm uses (``wm-planner gym-collect`` and ``gym-eval``, from Python). Prints the
fingertip's distance to the target at the start and at the end of the planned episodes, and writes
``result.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sim.gymnasium_env import GymEnvSpec, collect_gym, evaluate_gym, reach_point
from wm_planner.config import ModelConfig, PlannerConfig, TrainConfig
from wm_planner.data.layout import Layout
from wm_planner.model import train
from wm_planner.model.export import export_bundle

SPEC = GymEnvSpec(
    "Reacher-v5",
    layout=Layout.of(
        ("cos_q", 2, ""),
        ("sin_q", 2, ""),
        ("target", 2, "m"),
        ("joint_vel", 2, "rad/s"),
        ("fingertip_to_target", 2, "m"),
    ),
)


def reacher_cost(obs: np.ndarray, info: dict, *, layout: Layout):
    """Fingertip distance to the target at every imagined step plus Reacher's own control cost; the
    episode counts as a success within 1 cm."""
    return reach_point(
        obs,
        info,
        layout=layout,
        feature="fingertip_to_target",
        point=[0.0, 0.0],
        radius=0.01,
        action_weight=0.1,
    )


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=Path("runs/reacher"))
    p.add_argument("--episodes", type=int, default=200, help="exploration episodes to collect")
    p.add_argument("--train-steps", type=int, default=2000)
    p.add_argument("--eval-episodes", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    data = collect_gym(SPEC, args.episodes, args.out / "data", seed=args.seed)
    trained = train(
        [data],
        args.out / "run",
        model_config=ModelConfig(latent_size=32, hidden_size=64, encoder_hidden=128, decoder_hidden=64),
        train_config=TrainConfig(steps=args.train_steps, horizon=16, seed=args.seed),
    )
    bundle = export_bundle(trained.run, args.out / "bundle", samples=128, horizon=10, overwrite=True).bundle
    report = evaluate_gym(
        SPEC,
        bundle,
        reacher_cost,
        episodes=args.eval_episodes,
        success_key=None,
        stop_at_success=False,
        planner=PlannerConfig(iterations=2),
    )
    episodes = report.episodes
    result = {
        "start_distance_m": float(np.mean([e.errors[0] for e in episodes])),
        "final_distance_m": float(np.mean([e.final_error for e in episodes])),
        "mean_return": float(np.mean([e.total_reward for e in episodes])),
        "plan_latency_ms_p50": float(1000 * np.median(report.latencies_s)),
        "episodes": len(episodes),
    }
    (args.out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{SPEC.env_id}: fingertip {100 * result['start_distance_m']:.1f} cm from the target at the start, "
        f"{100 * result['final_distance_m']:.1f} cm at the end (mean of {len(episodes)}), return "
        f"{result['mean_return']:.1f}, plan p50 {result['plan_latency_ms_p50']:.1f} ms "
        f"-> {args.out / 'result.json'}"
    )
    return result


if __name__ == "__main__":
    main()
