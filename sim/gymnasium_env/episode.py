"""One planned episode of a gymnasium environment: the control loop the planning factory builds acts
until the environment ends the episode, the step cap is reached, or (if asked) it succeeds.

Evaluation (``gym-eval``) and planner-driven collection (``improve``) both play episodes this way, so what
is collected is what is evaluated; collection adds exploration noise to the executed actions.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.gymnasium_env.envs import GymEnv
from wm_planner.control import ActionController
from wm_planner.planning import CostFn

__all__ = ["ActionNoise", "GymEpisodeResult", "PlannedEpisode", "SuccessJudge"]


@dataclass(frozen=True)
class GymEpisodeResult:
    seed: int | None
    """None when the environment ignores its seed (:meth:`GymEnv.honours_seed`)."""
    success: bool
    steps: int
    total_reward: float
    terminated: bool
    truncated: bool
    time_to_success_s: float | None
    final_error: float | None
    """The cost's ``error`` at the last observation (None when the cost has none)."""
    errors: list[float] = field(repr=False)
    rewards: list[float] = field(repr=False)
    observations: np.ndarray = field(repr=False)
    """``[T+1, O]``: what the episode saw."""
    actions: np.ndarray = field(repr=False)
    """``[T, A]``: what it executed (with any exploration noise)."""


class SuccessJudge:
    """Success of a step: ``info[key]`` when the environment's step ``info`` carries it (decided at the
    first step, as many environments report success only after one), else the cost's radius."""

    def __init__(self, key: str | None) -> None:
        self.key = key
        self.source: str | None = None
        self.radius: float | None = None

    def __call__(self, obs: np.ndarray, info: dict[str, Any], cost: CostFn) -> bool:
        if self.source is None:
            self._decide(info, cost)
        if self.radius is None:
            return bool(self.key is not None and info.get(self.key, False))
        return bool(cost.error(obs) <= self.radius)  # type: ignore[attr-defined]

    def _decide(self, info: dict[str, Any], cost: CostFn) -> None:
        radius = getattr(cost, "success_radius", None)
        if self.key is not None and self.key in info:
            self.source = f"info[{self.key!r}]"
        elif radius is not None and hasattr(cost, "error"):
            self.source, self.radius = f"cost error <= {radius:g}", float(radius)
        else:
            named = f"the environment's info has no {self.key!r} and " if self.key is not None else ""
            raise ValueError(
                f"no way to tell success: {named}the cost has no success_radius and error(obs); "
                "give --success-key or a cost with a radius (such as reach_goal)"
            )


@dataclass(frozen=True)
class ActionNoise:
    """Exploration on executed actions: Gaussian noise of ``std`` times the action's half-range, clipped
    to the bounds."""

    rng: np.random.Generator
    std: float

    def __call__(self, action: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
        noisy = action + self.std * (high - low) / 2.0 * self.rng.standard_normal(action.shape)
        return np.clip(noisy, low, high)


class PlannedEpisode:
    """One episode of ``env`` under ``controller``, from the reset of ``seed``; the loop's modes are
    counted into ``modes``. ``record``: keep the rendered frames; ``seeded``: whether ``seed`` reproduces
    the episode; ``noise``: exploration on the executed actions."""

    def __init__(
        self,
        env: GymEnv,
        controller: ActionController,
        seed: int,
        modes: Counter[str],
        *,
        record: bool = False,
        seeded: bool = True,
        noise: ActionNoise | None = None,
    ) -> None:
        self.env, self.controller, self.seed, self.modes = env, controller, seed, modes
        self.obs, self.info = env.reset(seed)
        self.record, self.seeded, self.noise = record, seeded, noise
        self.frames: list[np.ndarray] = [env.render()] if record else []
        self.latencies: list[float] = []

    def _act(self, obs: np.ndarray) -> np.ndarray:
        step = self.controller.step(obs)
        self.modes[str(step.mode)] += 1
        if step.plan is not None:
            self.latencies.append(step.plan.latency_s)
        if self.noise is None:
            return np.asarray(step.action)
        return self.noise(step.action, self.env.action_low, self.env.action_high)

    def play(
        self, cost: CostFn, judge: SuccessJudge, *, steps: int | None, stop_at_success: bool
    ) -> GymEpisodeResult:
        env, obs = self.env, self.obs
        error_of = getattr(cost, "error", None)
        errors = [] if error_of is None else [float(error_of(obs))]
        observations, actions = [obs], []
        rewards: list[float] = []
        self.controller.start(cost, seed=self.seed)
        success = terminated = truncated = False
        first_success: int | None = None
        while not (terminated or truncated) and (steps is None or len(rewards) < steps):
            action = self._act(obs)
            obs, reward, terminated, truncated, info = env.step(action)
            observations.append(obs)
            actions.append(action)
            rewards.append(reward)
            if error_of is not None:
                errors.append(float(error_of(obs)))
            if self.record:
                self.frames.append(env.render())
            if judge(obs, info, cost) and first_success is None:
                first_success = len(rewards)
                success = True
                if stop_at_success:
                    break
        return GymEpisodeResult(
            seed=self.seed if self.seeded else None,
            success=success,
            steps=len(rewards),
            total_reward=float(np.sum(rewards)),
            terminated=terminated,
            truncated=truncated,
            time_to_success_s=None if first_success is None else first_success * env.dt,
            final_error=errors[-1] if errors else None,
            errors=errors,
            rewards=rewards,
            observations=np.asarray(observations),
            actions=np.asarray(actions).reshape(len(actions), env.action_low.size),
        )
