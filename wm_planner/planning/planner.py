"""The sampling-planner core shared by MPPI and CEM: candidates, scoring, warm start and deadline.

A planner sees two callables and nothing else (the split of mbrl-lib and pytorch_mppi):

- ``rollout(actions [N, H, A]) -> Imagined``: what the candidates would do, from the current state. The
  caller binds the state; the same planner runs on the ONNX bundle, the torch model or true physics.
- ``cost(features [N, H, F], actions [N, H, A]) -> [N]``: how bad each imagined future is.

Every round scores N candidates: the current sampling mean, the best sequence found so far (on the
first round, the previous plan's best shifted by one step), a hold sequence, and N - 3 samples around
the mean. With ``max_change``, every candidate is made one the robot can execute: each action differs
from the one before (the first from the action executed last) by at most ``max_change``, scaled as a
whole so its direction is kept, as the robot's command filter limits accelerations. So the planner
imagines what the arm will do, not sequences the filter would change.

The returned plan is the best candidate actually scored, so its cost and imagined features are exact, and
a failing model (NaN cost) can never win over holding still.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from wm_planner.config import PlannerConfig
from wm_planner.planning.noise import coloured_noise

__all__ = ["CostFn", "Imagined", "Plan", "RolloutFn", "SamplingPlanner", "limit_changes"]


@dataclass(frozen=True)
class Imagined:
    """Imagined futures of N candidates: ``features [N, H, F]`` and an optional model ``penalty [N]``
    (ensemble disagreement) added to their cost."""

    features: np.ndarray
    penalty: np.ndarray | None = None


RolloutFn = Callable[[np.ndarray], Imagined]
CostFn = Callable[[np.ndarray, np.ndarray], np.ndarray]

_MEAN, _BEST, _HOLD = 0, 1, 2
_FIXED_CANDIDATES = 3


@dataclass(frozen=True)
class Plan:
    """A planned action sequence ``actions [H, A]``, its ``cost``, its imagined ``features [H, F]``
    and how planning went (``rollout_s`` is the part spent inside the rollout callable)."""

    actions: np.ndarray
    cost: float
    features: np.ndarray
    iterations: int
    latency_s: float
    rollout_s: float
    deadline_missed: bool

    @property
    def first(self) -> np.ndarray:
        """The action to apply now, ``[A]``."""
        first: np.ndarray = self.actions[0]
        return first


def limit_changes(actions: np.ndarray, last: np.ndarray, max_change: np.ndarray) -> None:
    """Make ``actions [N, H, A]`` (in place) change by at most ``max_change [A]`` per step, the first from
    ``last [A]``: each step's change is scaled by one factor, keeping its direction. Values stay between
    their own and the previous action's, so bounds that held still hold."""
    steps = np.moveaxis(actions, 1, 0)  # a view [H, N, A]: one contiguous-enough slice per step
    previous = np.broadcast_to(last, steps[0].shape)
    per_change = 1.0 / np.asarray(max_change, dtype=actions.dtype)
    for t in range(steps.shape[0]):
        change = steps[t] - previous
        # The largest change relative to its limit; dividing by it (when above 1) scales the change
        # into the limits with its direction kept.
        excess = (np.abs(change) * per_change).max(axis=-1, keepdims=True)
        change /= np.maximum(excess, 1.0)
        steps[t] = previous + change
        previous = steps[t]


class SamplingPlanner(ABC):
    """Iterative sampling MPC; subclasses say how a round's scores refit the sampling distribution.

    ``action_low``/``action_high``: ``[A]`` bounds every candidate is clipped to. ``hold_action``: the
    action that keeps the robot where it is (zeros for position deltas); it fills the end of a shifted
    plan and is always a candidate. ``max_change``: ``[A]`` largest change between consecutive actions
    (None: any).
    """

    def __init__(
        self,
        config: PlannerConfig,
        *,
        action_low: np.ndarray,
        action_high: np.ndarray,
        hold_action: np.ndarray | None = None,
        max_change: np.ndarray | None = None,
        seed: int = 0,
    ) -> None:
        self.config = config
        # float32 throughout: candidates go to the model in float32, and sampling and refitting them in
        # float64 would cost a third of a round's time outside the model.
        self.low = np.asarray(action_low, dtype=np.float32)
        self.high = np.asarray(action_high, dtype=np.float32)
        if self.low.shape != self.high.shape or self.low.ndim != 1:
            raise ValueError(f"action bounds must be [A] and [A], got {self.low.shape} and {self.high.shape}")
        if not np.all(self.low < self.high):
            raise ValueError(f"action_low must be below action_high everywhere: {self.low} vs {self.high}")
        hold = np.zeros_like(self.low) if hold_action is None else np.asarray(hold_action, np.float32)
        self.hold = np.clip(hold, self.low, self.high)
        half_range = (self.high - self.low) / 2.0
        self.initial_std = config.noise_std * half_range
        self.min_std = config.min_noise_std * half_range
        self.shape = (config.samples, config.horizon, self.low.size)
        self.max_change = None if max_change is None else np.asarray(max_change, dtype=np.float32)
        if self.max_change is not None and not (
            self.max_change.shape == self.low.shape and np.all(self.max_change > 0)
        ):
            raise ValueError(f"max_change must be [A] positive values, got {self.max_change}")
        if self.max_change is not None:
            # A hair inside the limit: float32 rounding must not read as a violation to a float64 filter.
            self.max_change = self.max_change * np.float32(1.0 - 1e-5)
        self._select_mean = config.select == "mean"
        self.reset(seed=seed)

    @property
    def action_size(self) -> int:
        return self.low.size

    def reset(self, *, seed: int | None = None) -> None:
        """Forget the previous plan (and reseed the sampler when ``seed`` is given)."""
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._mean = np.tile(self.hold, (self.config.horizon, 1))
        self._std = np.tile(self.initial_std, (self.config.horizon, 1))
        self._previous_best: np.ndarray | None = None

    def plan(
        self,
        rollout: RolloutFn,
        cost: CostFn,
        *,
        deadline_s: float | None = None,
        previous: np.ndarray | None = None,
    ) -> Plan:
        """Plan from the state bound into ``rollout``; ``deadline_s`` overrides ``config.deadline_ms``;
        ``previous [A]``: the action executed last period, where ``max_change`` starts (default: hold)."""
        start = time.perf_counter()
        last = self.hold if previous is None else np.asarray(previous, dtype=np.float32)
        if deadline_s is None and self.config.deadline_ms is not None:
            deadline_s = self.config.deadline_ms / 1000.0
        if self.config.warm_start:
            mean, std = self._mean, self._std
        else:
            mean, std = (
                np.tile(self.hold, (self.config.horizon, 1)),
                np.tile(self.initial_std, (self.config.horizon, 1)),
            )
        best = self._previous_best if self._previous_best is not None else mean
        best_cost, best_features = np.inf, None
        scored_mean: tuple[np.ndarray, float, np.ndarray] | None = None
        rollout_s, rounds = 0.0, 0
        while rounds < self.config.iterations:
            round_start = time.perf_counter()
            actions = self._candidates(mean, std, best, last)
            imagined = rollout(actions)
            rollout_s += time.perf_counter() - round_start
            costs = self._score(imagined, actions, cost)
            i = int(np.argmin(costs))
            if costs[i] < best_cost:
                best, best_cost, best_features = actions[i].copy(), float(costs[i]), imagined.features[i]
            scored_mean = (actions[_MEAN].copy(), float(costs[_MEAN]), imagined.features[_MEAN])
            mean, std = self.refit(actions, costs, mean, std)
            rounds += 1
            now = time.perf_counter()
            if deadline_s is not None and now - start + (now - round_start) > deadline_s:
                break
        if best_features is None:
            # Every candidate scored NaN or inf: hold, and report why through the infinite cost.
            best = np.tile(self.hold, (self.config.horizon, 1))
            best_features = np.full((self.config.horizon, imagined.features.shape[-1]), np.nan)
        self._mean = self._shift(mean)
        self._std = np.concatenate([std[1:], self.initial_std[None]], axis=0)
        self._previous_best = self._shift(best)
        if self._select_mean and scored_mean is not None and np.isfinite(scored_mean[1]):
            best, best_cost, best_features = scored_mean
        latency = time.perf_counter() - start
        return Plan(
            actions=best,
            cost=best_cost,
            features=np.array(best_features),
            iterations=rounds,
            latency_s=latency,
            rollout_s=rollout_s,
            deadline_missed=deadline_s is not None and latency > deadline_s,
        )

    def _candidates(
        self, mean: np.ndarray, std: np.ndarray, best: np.ndarray, last: np.ndarray
    ) -> np.ndarray:
        """``[N, H, A]``: the fixed candidates, then samples around ``mean``; all within bounds (and
        within ``max_change`` of each other, starting from ``last [A]``)."""
        noise = coloured_noise(self._rng, self.config.noise_beta, self.shape)
        actions: np.ndarray = mean + std * noise
        actions[_MEAN] = mean
        actions[_BEST] = best
        actions[_HOLD] = self.hold
        np.clip(actions, self.low, self.high, out=actions)
        if self.max_change is not None:
            limit_changes(actions, last, self.max_change)
        return actions

    @staticmethod
    def _score(imagined: Imagined, actions: np.ndarray, cost: CostFn) -> np.ndarray:
        costs = np.asarray(cost(imagined.features, actions), dtype=np.float32)
        if imagined.penalty is not None:
            costs = costs + imagined.penalty
        return np.where(np.isfinite(costs), costs, np.inf)

    def _shift(self, sequence: np.ndarray) -> np.ndarray:
        return np.concatenate([sequence[1:], self.hold[None]], axis=0)

    @abstractmethod
    def refit(
        self, actions: np.ndarray, costs: np.ndarray, mean: np.ndarray, std: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """New sampling ``mean, std [H, A]`` from a round's ``actions [N, H, A]`` and ``costs [N]``
        (infinite for failed candidates)."""
