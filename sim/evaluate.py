"""Closed-loop evaluation of the planner on the simulated arm (``wm-planner eval``).

Each episode resets the arm with a seed derived from ``(seed, episode)``, so the learned model and the
oracle face the same start poses and goals. The arm is driven by the control loop the robot runs
(:mod:`sim.robot_loop`): every period the supervisor plans from the measured state (learned model) or
the current physics state (oracle), and its filtered command goes to the arm, until the task succeeds or
the episode ends. The report counts what the command filter and the plan fallback did.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.env import ArmEnv, EnvOptions
from sim.robot_loop import SupervisedArm
from sim.robots import RobotFolder, add_robot_option
from wm_planner.config import PlannerConfig, RuntimeConfig, SafetyConfig
from wm_planner.control import RolloutSource, build_supervisor, bundle_source
from wm_planner.imagination import GapMeter, ImaginationGap
from wm_planner.observation import EE_POS
from wm_planner.planning import Plan
from wm_planner.progress import progress_bar

__all__ = [
    "EpisodeResult",
    "EvalReport",
    "RunOptions",
    "add_run_options",
    "episode_seed",
    "evaluate",
    "register_cli",
    "write_metrics",
    "write_report",
]

DEFAULT_EVAL_STEPS = {"reach": 150, "push": 300}


@dataclass(frozen=True)
class EpisodeResult:
    seed: int
    success: bool
    final_error_m: float
    steps: int
    time_to_success_s: float | None
    errors_m: list[float] = field(repr=False)


@dataclass(frozen=True)
class EvalReport:
    task: str
    backend: str
    planner: PlannerConfig
    episodes: list[EpisodeResult]
    latencies_s: np.ndarray = field(repr=False)
    deadline_misses: int
    providers: list[str]
    control_period: float
    success_radius: float
    loop: dict[str, Any] = field(default_factory=dict)
    """What the control loop did: periods by mode, commands changed by each filter limit, problems,
    fallbacks, invalid plans and re-anchors."""
    gap: ImaginationGap | None = None
    """The model's imagination gap along the executed episodes (None for the oracle)."""

    @property
    def success_rate(self) -> float:
        return float(np.mean([e.success for e in self.episodes]))

    def to_json(self) -> dict[str, Any]:
        times = [e.time_to_success_s for e in self.episodes if e.time_to_success_s is not None]
        latency_ms = 1000.0 * self.latencies_s
        return {
            "task": self.task,
            "backend": self.backend,
            "episodes": len(self.episodes),
            "success_rate": self.success_rate,
            "final_error_m": float(np.median([e.final_error_m for e in self.episodes])),
            "time_to_success_s": float(np.median(times)) if times else None,
            "plan_latency_ms": {
                "p50": float(np.percentile(latency_ms, 50)),
                "p99": float(np.percentile(latency_ms, 99)),
                "max": float(latency_ms.max()),
            },
            "deadline_misses": self.deadline_misses,
            "loop": self.loop,
            "imagination_gap": None if self.gap is None else self.gap.to_json(),
            "providers": self.providers,
            "planner": self.planner.model_dump(),
            "per_episode": [{k: v for k, v in asdict(e).items() if k != "errors_m"} for e in self.episodes],
        }

    def summary(self) -> str:
        m = self.to_json()
        tts = "n/a" if m["time_to_success_s"] is None else f"{m['time_to_success_s']:.2f} s"
        periods = max(self.loop.get("periods", 0), 1)
        filtered = self.loop.get("filtered", 0) / periods
        fallback = self.loop.get("modes", {}).get("fallback", 0) / periods
        return (
            f"{self.task} ({self.backend}, {self.planner.algorithm}): success {m['success_rate']:.0%} of "
            f"{m['episodes']}, median final error {100 * m['final_error_m']:.1f} cm, time to success {tts}, "
            f"plan latency p50 {m['plan_latency_ms']['p50']:.1f} ms"
            f" / p99 {m['plan_latency_ms']['p99']:.1f} ms; filter limited {filtered:.0%} of commands, "
            f"fallback {fallback:.1%}"
            + ("" if self.gap is None else f"; imagined cost {self.gap.relative_optimism:+.0%} off realised")
        )


def _source(
    env: ArmEnv, bundle: Path | None, runtime: RuntimeConfig | None, oracle: bool, planner: PlannerConfig
) -> RolloutSource:
    """The bundle's model, or with ``oracle`` the true physics at the bundle's samples and horizon."""
    model = None
    if bundle is not None:
        model = bundle_source(bundle, robot=env.robot, runtime=runtime, planner=planner)
    if not oracle:
        assert model is not None
        return model
    from sim.oracle import oracle_source

    samples = planner.samples if model is None else model.samples
    horizon = planner.horizon if model is None else model.horizon
    return oracle_source(env, samples=samples, horizon=horizon)


def episode_seed(seed: int, index: int) -> int:
    """The seed of episode ``index`` of an evaluation seeded with ``seed``: drawn from a stream of its
    own, not the one collection draws its episodes' seeds from, so evaluated episodes are held out."""
    return int(np.random.SeedSequence([seed, index, 7]).generate_state(1)[0])


def evaluate(
    task: str,
    *,
    bundle: str | Path | None,
    episodes: int,
    oracle: bool = False,
    planner: PlannerConfig | None = None,
    safety: SafetyConfig | None = None,
    seed: int = 0,
    steps: int | None = None,
    runtime: RuntimeConfig | None = None,
    folder: RobotFolder | None = None,
    calibration: str | Path | None = None,
    video: Path | None = None,
    progress: bool = True,
) -> EvalReport:
    """Run ``episodes`` closed-loop episodes of the robot's control loop planning in the bundle's model,
    or with ``oracle`` in the true physics.

    With a bundle, the planner's samples and horizon are the bundle's (also for the oracle, so the two
    are compared at equal settings). ``folder``: the robot (default: the shipped arm); ``calibration``:
    a profile whose calibrated twin the episodes run (:mod:`sim.actuation`). ``video``: write
    the first episode there as MP4, with the best imagined tool path drawn at every step.
    """
    if bundle is None and not oracle:
        raise ValueError("evaluate needs a bundle, or oracle=True")
    options = EnvOptions(
        episode_steps=steps or DEFAULT_EVAL_STEPS[task],
        calibration=None if calibration is None else str(calibration),
    )
    env = ArmEnv(task, folder=folder, options=options)
    config = planner or PlannerConfig()
    source = _source(env, Path(bundle) if bundle is not None else None, runtime, oracle, config)
    supervisor = build_supervisor(
        source,
        env.robot,
        planner=config,
        safety=safety,
        supervisor=env.folder.workspace.supervisor_config(),
        seed=seed,
    )
    arm = SupervisedArm(env, supervisor)
    meter = None if source.model is None else GapMeter(source.model)
    results, latencies, executions = [], [], []
    recorder = _start_video(env) if video is not None else None
    bar = progress_bar(range(episodes), desc=f"eval {task} ({source.name})", unit="ep", disable=not progress)
    for i in bar:
        result, plans, executed = _run_episode(arm, episode_seed(seed, i), recorder if i == 0 else None)
        if meter is not None:
            executions.append((*executed, supervisor.controller.judge.cost))
        results.append(result)
        latencies += [p.latency_s for p in plans]
        bar.set_postfix(success=f"{np.mean([r.success for r in results]):.0%}")
    # Measured after the episodes, not between them: what runs between plans is only what the robot
    # runs. The gap's rollouts between episodes doubled the next plans' latency (p99 30 vs 20 ms).
    if recorder is not None and video is not None:
        recorder.save(video)
    for observations, actions, cost in executions:
        assert meter is not None and cost is not None
        meter.add(observations, actions, cost)
    controller = supervisor.controller
    return EvalReport(
        task=task,
        backend=source.name,
        planner=controller.judge.planner.config,
        episodes=results,
        latencies_s=np.array(latencies),
        deadline_misses=controller.judge.fallback.deadline_misses,
        providers=list(source.providers),
        control_period=env.dt,
        success_radius=env.task.success_radius,
        loop=arm.stats.to_json()
        | {
            "fallbacks": controller.judge.fallback.fallbacks,
            "invalid_plans": controller.judge.fallback.invalid_plans,
            "reanchors": controller.reanchors,
        },
        gap=None if meter is None else meter.result(),
    )


def _start_video(env: ArmEnv) -> Any:
    from sim.render import EpisodeVideo

    return EpisodeVideo(env.model, fps=1.0 / env.dt)


def _run_episode(
    arm: SupervisedArm, seed: int, video: Any
) -> tuple[EpisodeResult, list[Plan], tuple[np.ndarray, np.ndarray]]:
    """The episode's result, its plans and what it executed: ``observations [T+1, O]``, ``actions [T, A]``."""
    env = arm.env
    observations = [arm.start(seed)]
    errors, plans, actions, success = [env.error()], [], [], False
    while True:
        decision, obs, success, truncated, info = arm.step()
        observations.append(obs)
        actions.append(info["action"])
        plan = None if decision.step is None else decision.step.plan
        if plan is not None:
            plans.append(plan)
        if video is not None:
            video.add(env.data, None if plan is None else plan.features[:, EE_POS])
        errors.append(info["error"])
        if success or truncated:
            break
    if video is not None:
        video.add(env.data)
    return (
        EpisodeResult(
            seed=seed,
            success=bool(success),
            final_error_m=float(errors[-1]),
            steps=env.steps,
            time_to_success_s=env.steps * env.dt if success else None,
            errors_m=[float(e) for e in errors],
        ),
        plans,
        (np.array(observations), np.array(actions)),
    )


def write_report(report: EvalReport, json_path: str | Path) -> dict[str, Path]:
    """Write the metrics JSON and, beside it, ``<stem>_error.png`` (error over time per episode)."""
    return write_metrics(report.to_json(), json_path, lambda path: _plot_errors(report, path))


def write_metrics(
    metrics: dict[str, Any], json_path: str | Path, plot: Callable[[Path], None]
) -> dict[str, Path]:
    """Write ``metrics`` as JSON at ``json_path`` and, beside it, ``<stem>_error.png`` drawn by ``plot``."""
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(metrics, indent=2) + "\n")
    path = json_path.with_name(json_path.stem + "_error.png")
    plot(path)
    return {"json": json_path, "plot": path}


def _plot_errors(report: EvalReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for e in report.episodes:
        t = np.arange(len(e.errors_m)) * report.control_period
        ax.plot(t, 100 * np.array(e.errors_m), color="tab:green" if e.success else "tab:red", alpha=0.4, lw=1)
    ax.axhline(100 * report.success_radius, color="k", ls="--", lw=1, label="success radius")
    ax.legend(loc="upper right")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("distance to goal (cm)")
    ax.set_yscale("log")
    ax.set_title(
        f"{report.task}, {report.backend} {report.planner.algorithm}: "
        f"{report.success_rate:.0%} of {len(report.episodes)} succeed (green)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def add_run_options(p: argparse.ArgumentParser) -> None:
    """The options every closed-loop evaluation command shares: planner, outputs, providers."""
    p.add_argument("--planner", choices=["mppi", "cem"], help="override the algorithm of --config")
    p.add_argument("--config", help="PlannerConfig YAML")
    p.add_argument("--json", required=True, help="metrics file; the plot and video are written beside it")
    p.add_argument("--no-video", action="store_true", help="skip the MP4 of the first episode")
    p.add_argument("--providers", nargs="+", default=list(RuntimeConfig().providers))


@dataclass(frozen=True)
class RunOptions:
    """What :func:`add_run_options` asked for: the planner, the runtime, the metrics file (its folder
    made) and the video beside it (None with ``--no-video``)."""

    planner: PlannerConfig
    runtime: RuntimeConfig
    json_path: Path
    video: Path | None

    @classmethod
    def of(cls, args: argparse.Namespace) -> RunOptions:
        from wm_planner.config import load_yaml_model

        planner = load_yaml_model(args.config, PlannerConfig) if args.config else PlannerConfig()
        if args.planner:
            planner = planner.model_copy(update={"algorithm": args.planner})
        json_path = Path(args.json)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        video = None if args.no_video else json_path.with_name(json_path.stem + "_episode.mp4")
        return cls(planner, RuntimeConfig(providers=tuple(args.providers)), json_path, video)

    def announce(self, summary: str, paths: dict[str, Path]) -> None:
        """The one-line summary and where everything was written."""
        where = ", ".join(str(p) for p in [paths["json"], paths["plot"], self.video] if p is not None)
        print(f"{summary} -> {where}")


def _cmd_eval(args: argparse.Namespace) -> int:
    if args.model is None and not args.oracle:
        raise ValueError("--model is required unless --oracle is given")
    run = RunOptions.of(args)
    report = evaluate(
        args.task,
        bundle=args.model,
        episodes=args.episodes,
        oracle=args.oracle,
        planner=run.planner,
        seed=args.seed,
        steps=args.steps,
        runtime=run.runtime,
        folder=RobotFolder.of(args.robot),
        calibration=args.calibration,
        video=run.video,
    )
    run.announce(report.summary(), write_report(report, run.json_path))
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``eval`` to the ``wm-planner`` command line."""
    p = sub.add_parser("eval", help="closed-loop planning on the simulated arm: success rate, error, latency")
    p.add_argument("--model", help="ONNX bundle directory (with --oracle: only sets samples and horizon)")
    p.add_argument("--task", choices=sorted(DEFAULT_EVAL_STEPS), required=True)
    p.add_argument("--episodes", type=int, default=50)
    p.add_argument("--oracle", action="store_true", help="plan with the true physics (mujoco.rollout)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, help="control steps per episode (default: 150 reach, 300 push)")
    p.add_argument(
        "--calibration",
        default=None,
        help="calibration profile (wm-planner sysid): run its twin (scene, latency, filter, actuator net)",
    )
    add_robot_option(p)
    add_run_options(p)
    p.set_defaults(func=_cmd_eval)
