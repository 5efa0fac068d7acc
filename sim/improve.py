"""``wm-planner improve`` on the simulated arm: the planner collects through the robot's control loop,
the model is fine-tuned on what happened, and held-out evaluation measures success and the imagination
gap after every round (the loop itself: :mod:`wm_planner.improve`)."""

from __future__ import annotations

import argparse
import multiprocessing as mp
from dataclasses import dataclass
from pathlib import Path

from sim.collect import collect
from sim.evaluate import DEFAULT_EVAL_STEPS, evaluate, write_report
from sim.robots import RobotFolder, add_robot_option
from wm_planner.improve import (
    Collected,
    Evaluated,
    Experience,
    ImproveSettings,
    Start,
    best_round,
    improve,
    plot_rounds,
    round_table,
)

__all__ = ["ArmExperience", "add_improve_options", "improve_settings", "register_cli", "report_rounds"]


@dataclass(frozen=True)
class ArmExperience:
    """The simulated arm on ``task``: collection with the planner (steps perturbed by ``action_noise``, a
    fraction of the per-step limit) plus a ``random_share`` of exploration episodes; evaluation on
    ``eval_episodes`` held-out episodes seeded with ``eval_seed``."""

    task: str
    folder: RobotFolder
    random_share: float = 0.2
    action_noise: float = 0.1
    eval_episodes: int = 20
    eval_seed: int = 1
    workers: int = 1
    progress: bool = True

    def collect(self, bundle: Path | None, out: Path, *, episodes: int, seed: int) -> Collected:
        explore = episodes if bundle is None else round(self.random_share * episodes)
        runs = {"explore": (explore, None), "planner": (episodes - explore, bundle)}
        written: dict[str, Path] = {}
        for name, (count, policy) in runs.items():
            if count == 0:
                continue
            summary = collect(
                self.task,
                count,
                out / name,
                workers=self.workers,
                seed=seed + (0 if policy is None else 500),
                folder=self.folder,
                policy=policy,
                action_noise=self.action_noise,
                resume=True,
                progress=self.progress,
            )
            if self.progress:
                print(summary.line(self.task), flush=True)
            written[name] = out / name
        return Collected.of(written.get("explore"), written.get("planner"))

    def evaluate(self, bundle: Path, report: Path) -> Evaluated:
        result = evaluate(
            self.task,
            bundle=bundle,
            episodes=self.eval_episodes,
            seed=self.eval_seed,
            folder=self.folder,
            progress=self.progress,
        )
        write_report(result, report)
        return Evaluated(result.success_rate, result.gap, result.summary())


def add_improve_options(p: argparse.ArgumentParser) -> None:
    """The options of the improvement loop every world shares."""
    d = ImproveSettings()
    p.add_argument("--out", required=True, help="folder of the rounds (round_<i>/, improve.json, plot)")
    p.add_argument("--rounds", type=int, default=d.rounds, help="rounds after round 0")
    p.add_argument("--episodes", type=int, default=d.episodes, help="episodes collected per round")
    p.add_argument("--random-share", type=float, default=0.2, help="share of each round's episodes explored")
    p.add_argument("--train-steps", type=int, default=d.train_steps, help="fine-tuning steps per round")
    p.add_argument("--learning-rate", type=float, default=d.learning_rate, help="of the fine-tuning")
    p.add_argument(
        "--own-share",
        type=float,
        default=d.own_share,
        help="share of every fine-tuning batch from the planner's own episodes (0: all data alike)",
    )
    p.add_argument("--budget", type=int, help="total environment steps (starting data included)")
    p.add_argument(
        "--initial-episodes",
        type=int,
        default=d.initial_episodes,
        help="without --run: exploration episodes of round 0",
    )
    p.add_argument(
        "--initial-train-steps",
        type=int,
        default=d.initial_train_steps,
        help="without --run: training steps of round 0's model",
    )
    p.add_argument("--samples", type=int, default=d.samples, help="planner samples of the exported bundles")
    p.add_argument("--horizon", type=int, default=d.horizon, help="planning horizon of the exported bundles")
    p.add_argument("--threads", type=int, default=d.threads, help="torch threads of training")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")


def improve_settings(args: argparse.Namespace) -> ImproveSettings:
    return ImproveSettings(
        rounds=args.rounds,
        episodes=args.episodes,
        train_steps=args.train_steps,
        learning_rate=args.learning_rate,
        own_share=args.own_share,
        budget=args.budget,
        initial_episodes=args.initial_episodes,
        initial_train_steps=args.initial_train_steps,
        samples=args.samples,
        horizon=args.horizon,
        threads=args.threads,
        seed=args.seed,
    )


def report_rounds(rounds: list, out: Path) -> None:
    """Print the round table and the one-line summary; write the table and the plot beside the record."""
    table = round_table(rounds)
    (out / "rounds.md").write_text(table + "\n")
    plot = plot_rounds(rounds, out / "improve.png")
    first, last, best = rounds[0], rounds[-1], best_round(rounds)
    print(table)
    print(
        f"improved in {len(rounds) - 1} rounds: success {first.success_rate:.0%} -> {last.success_rate:.0%}, "
        f"{last.total_env_steps:,} environment steps; best bundle {best.bundle} (round {best.index}, "
        f"{best.success_rate:.0%} held out) -> {out / 'improve.json'}, {out / 'rounds.md'}, {plot}"
    )


def _experience(args: argparse.Namespace) -> Experience:
    """Where ``improve`` acts: the simulated arm (``--task``) or a gymnasium environment (``--env``)."""
    if (args.task is None) == (args.env is None):
        raise ValueError("give --task (the simulated arm) or --env (a gymnasium environment), not both")
    if args.env is None:
        return ArmExperience(
            args.task,
            RobotFolder.of(args.robot),
            random_share=args.random_share,
            action_noise=args.action_noise,
            eval_episodes=args.eval_episodes,
            eval_seed=args.eval_seed,
            workers=args.workers,
        )
    from sim.gymnasium_env import GymExperience, cost_options, environment_spec

    if args.cost is None:
        raise ValueError("--env needs --cost: what the planner minimises in that environment")
    return GymExperience(
        environment_spec(args, bundle=args.model),
        **cost_options(args),
        random_share=args.random_share,
        action_noise=args.action_noise,
        amplitude=args.amplitude,
        eval_episodes=args.eval_episodes,
        eval_seed=args.eval_seed,
        steps=args.steps,
    )


def _cmd_improve(args: argparse.Namespace) -> int:
    if (args.run is None) != (args.model is None):
        raise ValueError("--run and --model go together: the training run and the bundle exported from it")
    experience = _experience(args)
    start = Start(
        run=None if args.run is None else Path(args.run),
        bundle=None if args.model is None else Path(args.model),
        data=tuple(Path(d) for d in args.data),
    )
    out = Path(args.out)
    settings = improve_settings(args)
    rounds = improve(experience, start, out, settings, resume=args.resume)
    report_rounds(rounds, out)
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``improve`` to the ``wm-planner`` command line."""
    from sim.gymnasium_env import add_cost_options, add_environment_options

    p = sub.add_parser(
        "improve",
        help="rounds of: collect with the planner, fine-tune on all data, export, evaluate (own experience)",
        description="The simulated arm (--task) or any gymnasium environment (--env, with the options of "
        "gym-collect and gym-eval). Without --run/--model, round 0 trains a model on exploration first.",
    )
    p.add_argument("--task", choices=sorted(DEFAULT_EVAL_STEPS), help="the simulated arm's task")
    p.add_argument("--run", help="training run to start from (with --model, its bundle)")
    p.add_argument("--model", help="bundle exported from --run")
    p.add_argument("--data", nargs="*", default=[], help="datasets the starting run was trained on")
    add_robot_option(p)
    add_improve_options(p)
    p.add_argument("--action-noise", type=float, default=0.1, help="noise on executed steps (of the limit)")
    p.add_argument("--eval-episodes", type=int, default=20, help="held-out episodes evaluated per round")
    p.add_argument("--eval-seed", type=int, default=1, help="seed of the held-out evaluation episodes")
    p.add_argument("--workers", type=int, default=max(1, mp.cpu_count() or 1), help="collection processes")
    gym = p.add_argument_group("gymnasium environment (instead of --task)")
    add_environment_options(gym, required=False)
    add_cost_options(gym, required=False)
    gym.add_argument("--amplitude", type=float, default=0.6, help="exploration noise, fraction of the bounds")
    p.set_defaults(func=_cmd_improve)
