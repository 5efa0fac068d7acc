"""Closed-loop planning in a gymnasium environment, judged by its own success (``wm-planner gym-eval``).

Each episode resets the environment with a seed derived from ``(seed, episode)`` as ``wm-planner eval``
does, asks the cost factory for the episode's cost (from the first observation and ``info``), and runs
the control loop built by the planning factory (:func:`wm_planner.control.build_action_controller`)
until the environment terminates or truncates, the step cap is reached, or (by default) the episode
succeeds. Success is the environment's ``info[success_key]`` when it reports one, else the cost's own
``success_radius``.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.evaluate import episode_seed, write_metrics
from sim.gymnasium_env.collect import action_robot
from sim.gymnasium_env.costs import CostFactory, check_cost_kwargs
from sim.gymnasium_env.envs import GymEnv, GymEnvSpec
from sim.gymnasium_env.episode import GymEpisodeResult, PlannedEpisode, SuccessJudge
from wm_planner.config import PlannerConfig, RuntimeConfig, SafetyConfig
from wm_planner.control import build_action_controller, bundle_source
from wm_planner.imagination import GapMeter, ImaginationGap
from wm_planner.progress import progress_bar

__all__ = ["GymEpisodeResult", "GymReport", "evaluate_gym", "write_gym_report"]


_SERIES = {"errors", "rewards", "observations", "actions"}
"""Per-step series of an episode, left out of the report's JSON."""


@dataclass(frozen=True)
class GymReport:
    env: GymEnvSpec
    backend: str
    planner: PlannerConfig
    episodes: list[GymEpisodeResult]
    latencies_s: np.ndarray = field(repr=False)
    success_source: str
    """Where success came from: ``info['KEY']`` or ``cost error <= RADIUS``."""
    control_period: float
    loop: dict[str, Any]
    providers: list[str]
    success_radius: float | None = None
    seeded: bool = True
    """Whether the episodes' seeds reproduce them (False: the environment ignores them)."""
    gap: ImaginationGap | None = None
    """The model's imagination gap along the executed episodes."""

    @property
    def success_rate(self) -> float:
        return float(np.mean([e.success for e in self.episodes]))

    def to_json(self) -> dict[str, Any]:
        times = [e.time_to_success_s for e in self.episodes if e.time_to_success_s is not None]
        errors = [e.final_error for e in self.episodes if e.final_error is not None]
        latency_ms = 1000.0 * self.latencies_s
        return {
            **self.env.to_json(),
            "backend": self.backend,
            "episodes": len(self.episodes),
            "success_rate": self.success_rate,
            "success_source": self.success_source,
            "seeded": self.seeded,
            "final_error": float(np.median(errors)) if errors else None,
            "time_to_success_s": float(np.median(times)) if times else None,
            "mean_return": float(np.mean([e.total_reward for e in self.episodes])),
            "plan_latency_ms": {
                "p50": float(np.percentile(latency_ms, 50)),
                "p99": float(np.percentile(latency_ms, 99)),
                "max": float(latency_ms.max()),
            },
            "loop": self.loop,
            "imagination_gap": None if self.gap is None else self.gap.to_json(),
            "providers": self.providers,
            "planner": self.planner.model_dump(),
            "per_episode": [{k: v for k, v in asdict(e).items() if k not in _SERIES} for e in self.episodes],
        }

    def summary(self) -> str:
        m = self.to_json()
        tts = "n/a" if m["time_to_success_s"] is None else f"{m['time_to_success_s']:.2f} s"
        error = "" if m["final_error"] is None else f", median final error {m['final_error']:.3g}"
        fallback = self.loop["modes"].get("fallback", 0) / max(self.loop["periods"], 1)
        return (
            f"{self.env.env_id} ({self.backend}, {self.planner.algorithm}): success {m['success_rate']:.0%} "
            f"of {m['episodes']} ({self.success_source}){error}, time to success {tts}, mean return "
            f"{m['mean_return']:.3g}, plan latency p50 {m['plan_latency_ms']['p50']:.1f} ms / p99 "
            f"{m['plan_latency_ms']['p99']:.1f} ms, fallback {fallback:.1%}"
            + ("" if self.gap is None else f"; imagined cost {self.gap.relative_optimism:+.0%} off realised")
        )


def evaluate_gym(
    spec: GymEnvSpec,
    bundle: str | Path,
    cost_factory: CostFactory,
    *,
    cost_kwargs: dict[str, Any] | None = None,
    episodes: int = 20,
    seed: int = 0,
    steps: int | None = None,
    success_key: str | None = "success",
    stop_at_success: bool = True,
    planner: PlannerConfig | None = None,
    safety: SafetyConfig | None = None,
    runtime: RuntimeConfig | None = None,
    video: Path | None = None,
    progress: bool = True,
) -> GymReport:
    """Run ``episodes`` planned episodes of ``spec`` with the bundle's model (see the module docstring).

    ``cost_factory(obs, info, layout=..., **cost_kwargs)`` makes each episode's cost. ``steps`` caps an
    episode (default: the environment's time limit). ``video``: the first episode as MP4.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    check_cost_kwargs(cost_factory, cost_kwargs or {})
    with GymEnv(spec, render_mode="rgb_array" if video is not None else None) as env:
        unseeded = env.seeding_warning()
        if unseeded is not None:
            warnings.warn(unseeded, stacklevel=2)
        source = bundle_source(
            bundle, robot=action_robot(env), layout=env.layout, runtime=runtime, planner=planner
        )
        controller = build_action_controller(
            source, action_low=env.action_low, action_high=env.action_high, planner=planner, safety=safety
        )
        loop: Counter[str] = Counter()
        assert source.model is not None  # a bundle's source
        meter = GapMeter(source.model)
        results, latencies, judge = [], [], SuccessJudge(success_key)
        executions: list[tuple[np.ndarray, np.ndarray, Any]] = []
        frames: list[np.ndarray] = []
        bar = progress_bar(range(episodes), desc=f"gym-eval {spec.env_id}", unit="ep", disable=not progress)
        for i in bar:
            run = PlannedEpisode(
                env,
                controller,
                episode_seed(seed, i),
                loop,
                record=video is not None and i == 0,
                seeded=unseeded is None,
            )
            cost = cost_factory(run.obs, run.info, layout=env.layout, **(cost_kwargs or {}))
            result = run.play(cost, judge, steps=steps, stop_at_success=stop_at_success)
            executions.append((result.observations, result.actions, cost))
            frames = frames or run.frames
            results.append(result)
            latencies += run.latencies
            bar.set_postfix(success=f"{np.mean([r.success for r in results]):.0%}")
        # After the episodes, so that between plans runs only what the robot runs (see sim.evaluate).
        if frames and video is not None:
            from sim.render import write_mp4

            write_mp4(frames, video, fps=1.0 / env.dt)
        for observations, actions, cost in executions:
            meter.add(observations, actions, cost)
        fallback = controller.judge.fallback
        return GymReport(
            env=spec,
            backend=source.name,
            planner=controller.judge.planner.config,
            episodes=results,
            latencies_s=np.array(latencies),
            success_source=judge.source or "no step taken",
            control_period=env.dt,
            loop={
                "periods": sum(loop.values()),
                "modes": dict(loop),
                "fallbacks": fallback.fallbacks,
                "invalid_plans": fallback.invalid_plans,
                "deadline_misses": fallback.deadline_misses,
            },
            providers=list(source.providers),
            success_radius=judge.radius,
            seeded=unseeded is None,
            gap=meter.result(),
        )


def write_gym_report(report: GymReport, json_path: str | Path) -> dict[str, Path]:
    """Write the metrics JSON and, beside it, ``<stem>_error.png``: the cost's error over time per
    episode (the return so far when the cost has no error)."""
    return write_metrics(report.to_json(), json_path, lambda path: _plot(report, path))


def _plot(report: GymReport, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_error = all(e.errors for e in report.episodes)
    fig, ax = plt.subplots(figsize=(7, 4))
    for e in report.episodes:
        values = np.array(e.errors) if with_error else np.concatenate([[0.0], np.cumsum(e.rewards)])
        t = np.arange(len(values)) * report.control_period
        ax.plot(t, values, color="tab:green" if e.success else "tab:red", alpha=0.5, lw=1)
    if with_error and report.success_radius is not None:
        ax.axhline(report.success_radius, color="k", ls="--", lw=1, label="cost's success radius")
        ax.legend(loc="upper right")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("cost error (distance to goal)" if with_error else "return so far")
    ax.set_title(
        f"{report.env.env_id}, {report.backend} {report.planner.algorithm}: "
        f"{report.success_rate:.0%} of {len(report.episodes)} succeed (green)"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
