"""A gymnasium environment as an :class:`~wm_planner.improve.Experience`: planner-driven collection
with exploration, and ``gym-eval``'s evaluation, for ``wm-planner improve --env``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.gymnasium_env.collect import PlannedCollection, collect_gym, collect_gym_planned
from sim.gymnasium_env.costs import CostFactory
from sim.gymnasium_env.envs import GymEnvSpec
from sim.gymnasium_env.evaluate import evaluate_gym, write_gym_report
from wm_planner.improve import Collected, Evaluated

__all__ = ["GymExperience"]


@dataclass(frozen=True)
class GymExperience:
    """``spec`` with the cost of ``cost_factory(obs, info, layout=..., **cost_kwargs)``: collection with
    the planner (actions perturbed by ``action_noise`` of the half-range) plus a ``random_share`` of
    coloured-noise episodes (``amplitude``); evaluation on ``eval_episodes`` held-out episodes seeded with
    ``eval_seed``, success read from ``info[success_key]`` or the cost's radius. ``steps`` caps episodes."""

    spec: GymEnvSpec
    cost_factory: CostFactory
    cost_kwargs: dict[str, Any] = field(default_factory=dict)
    success_key: str | None = "success"
    random_share: float = 0.2
    action_noise: float = 0.1
    amplitude: float = 0.6
    eval_episodes: int = 20
    eval_seed: int = 1
    steps: int | None = None
    progress: bool = True

    def collect(self, bundle: Path | None, out: Path, *, episodes: int, seed: int) -> Collected:
        explore = episodes if bundle is None else round(self.random_share * episodes)
        explored = planned = None
        if explore:
            explored = collect_gym(
                self.spec,
                explore,
                out / "explore",
                seed=seed,
                steps=self.steps,
                amplitude=self.amplitude,
                resume=True,
                progress=self.progress,
            )
        if bundle is not None and episodes > explore:
            how = PlannedCollection(
                bundle, self.cost_factory, dict(self.cost_kwargs), self.action_noise, self.success_key
            )
            planned, _ = collect_gym_planned(
                self.spec,
                episodes - explore,
                out / "planner",
                how,
                seed=seed + 500,
                steps=self.steps,
                resume=True,
                progress=self.progress,
            )
        return Collected.of(explored, planned)

    def evaluate(self, bundle: Path, report: Path) -> Evaluated:
        result = evaluate_gym(
            self.spec,
            bundle,
            self.cost_factory,
            cost_kwargs=self.cost_kwargs,
            episodes=self.eval_episodes,
            seed=self.eval_seed,
            steps=self.steps,
            success_key=self.success_key,
            progress=self.progress,
        )
        write_gym_report(result, report)
        return Evaluated(result.success_rate, result.gap, result.summary())
