"""Exploration episodes of a gymnasium environment recorded as a dataset ``wm-planner train`` takes.

The dataset's :class:`RobotSpec` describes the environment's action space: one "joint" per action
dimension, with the action bounds as position limits and the control period the environment's. Velocity
and acceleration limits allow a full-range change per step, which is what an action space with no rate
limits means.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.gymnasium_env.costs import CostFactory, check_cost_kwargs
from sim.gymnasium_env.envs import GymEnv, GymEnvSpec
from sim.gymnasium_env.episode import ActionNoise, PlannedEpisode, SuccessJudge
from wm_planner.config import PlannerConfig, RobotSpec
from wm_planner.control import build_action_controller, bundle_source
from wm_planner.data import DatasetManifest, DatasetWriter, Episode
from wm_planner.data.layout import Layout
from wm_planner.planning import coloured_noise
from wm_planner.progress import progress_bar

__all__ = [
    "PlannedCollection",
    "action_robot",
    "collect_gym",
    "collect_gym_planned",
    "gym_manifest",
]

DEFAULT_STEPS = 200
"""Steps per episode for an environment without a time limit."""


def action_robot(env: GymEnv) -> RobotSpec:
    """The :class:`RobotSpec` of ``env``'s action space (see the module docstring)."""
    low, high = env.action_low, env.action_high
    full_range_rate = (high - low) / env.dt
    return RobotSpec(
        name=env.spec.env_id,
        joint_names=tuple(f"action_{i}" for i in range(low.size)),
        position_lower=tuple(low),
        position_upper=tuple(high),
        velocity_limits=tuple(full_range_rate),
        acceleration_limits=tuple(full_range_rate / env.dt),
        control_period=env.dt,
    )


def gym_manifest(env: GymEnv) -> DatasetManifest:
    """The dataset manifest of ``env``: its observation layout, action space and how it was built."""
    return DatasetManifest(
        observation_layout=env.layout,
        action_layout=Layout.of(("action", env.action_low.size, "")),
        action_kind="gymnasium_action",
        goal_size=0,
        robot=action_robot(env),
        task=env.spec.env_id,
        source={"generator": "sim.gymnasium_env", **env.spec.to_json()},
        objects=env.spec.objects,
        tool=env.spec.tool,
    )


def _record(env: GymEnv, actions: np.ndarray, seed: int, *, seeded: bool) -> Episode:
    obs, _ = env.reset(seed)
    observations, terminated = [obs], False
    for action in actions:
        obs, _, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        if terminated or truncated:
            break
    return Episode(
        observations=np.asarray(observations),
        actions=np.asarray(actions[: len(observations) - 1]),
        goal=np.zeros(0),
        info={"seed": seed if seeded else None, "terminated": bool(terminated)},
    )


def collect_gym(
    spec: GymEnvSpec | str,
    episodes: int,
    out: str | Path,
    *,
    seed: int = 0,
    steps: int | None = None,
    noise_beta: float = 1.0,
    amplitude: float = 0.6,
    resume: bool = False,
    progress: bool = True,
) -> Path:
    """Record ``episodes`` episodes of coloured-noise actions into the dataset directory ``out``.

    Actions are ``centre + amplitude * half_range * noise`` clipped to the bounds, where ``noise`` has a
    1/f^``noise_beta`` spectrum over time: smooth enough to move the system somewhere, random enough to
    cover it. Episode ``i`` is seeded from ``(seed, i)``, in the environment's own seeding style.
    ``steps`` caps episodes (default: the environment's time limit, or 200). ``resume=True`` completes an
    interrupted collection in ``out``.
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    spec = GymEnvSpec(spec) if isinstance(spec, str) else spec
    with GymEnv(spec) as env:
        seeded = _seeding(env)
        writer = DatasetWriter(out, gym_manifest(env), resume=resume)
        steps = steps or env.max_steps or DEFAULT_STEPS
        low, high = env.action_low, env.action_high
        centre, half = (high + low) / 2.0, (high - low) / 2.0
        todo = [i for i in range(episodes) if not writer.has(i)]
        for i in progress_bar(todo, desc=f"collect {spec.env_id}", unit="ep", disable=not progress):
            rng = np.random.default_rng([seed, i])
            noise = coloured_noise(rng, noise_beta, (steps, low.size))
            actions = np.clip(centre + amplitude * half * noise, low, high)
            writer.write(i, _record(env, actions, int(rng.integers(2**31)), seeded=seeded))
    return Path(out)


def _seeding(env: GymEnv) -> bool:
    """Whether ``env``'s seeds reproduce its episodes; warns when they do not."""
    unseeded = env.seeding_warning()
    if unseeded is not None:
        warnings.warn(unseeded, stacklevel=3)
    return unseeded is None


@dataclass(frozen=True)
class PlannedCollection:
    """The planner on ``bundle`` choosing the actions, toward each episode's cost from ``cost_factory``
    (called with ``cost_kwargs``), with :class:`ActionNoise` of std ``action_noise`` (of the half-range)
    on every executed action; success read as ``gym-eval`` reads it (``success_key``)."""

    bundle: Path
    cost_factory: CostFactory
    cost_kwargs: dict[str, Any] = field(default_factory=dict)
    action_noise: float = 0.1
    success_key: str | None = "success"
    planner: PlannerConfig | None = None


def collect_gym_planned(
    spec: GymEnvSpec,
    episodes: int,
    out: str | Path,
    how: PlannedCollection,
    *,
    seed: int = 0,
    steps: int | None = None,
    resume: bool = False,
    progress: bool = True,
) -> tuple[Path, int]:
    """Record ``episodes`` whole episodes (success does not end them) of the planner acting as ``how``
    says into the dataset directory ``out``; returns it and the environment steps taken. Episode ``i``
    is seeded from ``(seed, i)``; ``resume=True`` completes an interrupted collection."""
    check_cost_kwargs(how.cost_factory, how.cost_kwargs)
    with GymEnv(spec) as env:
        seeded = _seeding(env)
        writer = DatasetWriter(out, gym_manifest(env), resume=resume)
        source = bundle_source(how.bundle, robot=action_robot(env), layout=env.layout, planner=how.planner)
        controller = build_action_controller(
            source, action_low=env.action_low, action_high=env.action_high, planner=how.planner
        )
        judge, modes, taken = SuccessJudge(how.success_key), Counter[str](), 0
        todo = [i for i in range(episodes) if not writer.has(i)]
        for i in progress_bar(todo, desc=f"collect {spec.env_id} (planner)", unit="ep", disable=not progress):
            rng = np.random.default_rng([seed, i])
            noise = ActionNoise(rng, how.action_noise)
            run = PlannedEpisode(env, controller, int(rng.integers(2**31)), modes, seeded=seeded, noise=noise)
            cost = how.cost_factory(run.obs, run.info, layout=env.layout, **how.cost_kwargs)
            result = run.play(cost, judge, steps=steps, stop_at_success=False)
            info = {"seed": result.seed, "behaviour": "planner", "success": result.success}
            writer.write(i, Episode(result.observations, result.actions, np.zeros(0), info=info))
            taken += result.steps
    return Path(out), taken
