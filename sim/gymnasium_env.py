"""Any gymnasium environment with a vector observation through the arm's pipeline: collect, train,
export, plan.

- :func:`collect_gym` records exploration episodes (coloured noise within the action space) into a
  dataset that ``wm-planner train`` and ``wm-planner export`` take unchanged;
- :func:`plan_gym` runs the planner on the exported bundle in the environment, with a cost the user
  writes on the observation features: ``cost(features [N, H, O], actions [N, H, A]) -> [N]``.

The dataset's :class:`RobotSpec` describes the environment's action space: one "joint" per action
dimension, with the action bounds as position limits and the control period the environment's ``dt``.
Velocity and acceleration limits allow a full-range change per step, which is what an action space
with no rate limits means. ``wm-planner gym-collect`` is the command line of :func:`collect_gym`.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from wm_planner.config import PlannerConfig, RobotSpec, RuntimeConfig
from wm_planner.control import RolloutSource, bundle_source
from wm_planner.data import DatasetManifest, DatasetWriter, Episode
from wm_planner.data.layout import Layout
from wm_planner.planning import CostFn, SamplingPlanner, coloured_noise, make_planner

__all__ = ["GymEpisode", "collect_gym", "gym_manifest", "make_env", "plan_gym", "register_cli"]


def make_env(env_id: str, **kwargs: Any) -> Any:
    """``gymnasium.make(env_id)``, checked to have the flat Box observation and action the model needs."""
    try:
        import gymnasium
    except ImportError:
        raise ImportError("the gymnasium adapter needs gymnasium: pip install 'wm-planner[gym]'") from None
    env = gymnasium.make(env_id, **kwargs)
    for name, space in (("observation", env.observation_space), ("action", env.action_space)):
        if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
            env.close()
            raise ValueError(f"{env_id}: {name} space must be a flat Box, got {space}")
    if not np.all(np.isfinite(env.action_space.low) & np.isfinite(env.action_space.high)):
        env.close()
        raise ValueError(f"{env_id}: action space must be bounded, got {env.action_space}")
    return env


def gym_manifest(env: Any, env_id: str, *, layout: Layout | None = None) -> DatasetManifest:
    """The dataset manifest of ``env``; ``layout`` names the observation's blocks (default one ``obs``)."""
    obs_size, action_size = env.observation_space.shape[0], env.action_space.shape[0]
    layout = layout or Layout.of(("obs", obs_size, ""))
    if layout.size != obs_size:
        raise ValueError(f"layout has {layout.size} entries but {env_id} observes {obs_size}")
    low = env.action_space.low.astype(float)
    high = env.action_space.high.astype(float)
    dt = float(getattr(env.unwrapped, "dt", 0.05))
    full_range_rate = tuple((high - low) / dt)
    robot = RobotSpec(
        name=env_id,
        joint_names=tuple(f"action_{i}" for i in range(action_size)),
        position_lower=tuple(low),
        position_upper=tuple(high),
        velocity_limits=full_range_rate,
        acceleration_limits=tuple(np.array(full_range_rate) / dt),
        control_period=dt,
    )
    return DatasetManifest(
        observation_layout=layout,
        action_layout=Layout.of(("action", action_size, "")),
        action_kind="gymnasium_action",
        goal_size=0,
        robot=robot,
        task=env_id,
        source={"generator": "sim.gymnasium_env", "env_id": env_id},
    )


def _record(env: Any, actions: np.ndarray, seed: int) -> Episode:
    obs, _ = env.reset(seed=seed)
    observations, taken = [obs], []
    for action in actions:
        obs, _, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        taken.append(action)
        if terminated or truncated:
            break
    return Episode(
        observations=np.asarray(observations),
        actions=np.asarray(taken),
        goal=np.zeros(0),
        info={"seed": seed, "terminated": bool(terminated)},
    )


def collect_gym(
    env_id: str,
    episodes: int,
    out: str | Path,
    *,
    seed: int = 0,
    steps: int | None = None,
    noise_beta: float = 1.0,
    amplitude: float = 0.6,
    layout: Layout | None = None,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
) -> Path:
    """Record ``episodes`` episodes of coloured-noise actions into the dataset directory ``out``.

    Actions are ``centre + amplitude * half_range * noise`` clipped to the bounds, where ``noise`` has a
    1/f^``noise_beta`` spectrum over time: smooth enough to move the system somewhere, random enough to
    cover it. Episode ``i`` is seeded by ``(seed, i)``. ``steps`` caps episodes (default: the
    environment's own time limit, or 200).
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    env = make_env(env_id, **(env_kwargs or {}))
    try:
        manifest = gym_manifest(env, env_id, layout=layout)
        writer = DatasetWriter(out, manifest)
        steps = steps or (env.spec.max_episode_steps if env.spec else None) or 200
        low, high = env.action_space.low, env.action_space.high
        centre, half = (high + low) / 2.0, (high - low) / 2.0
        for i in tqdm(range(episodes), desc=f"collect {env_id}", unit="ep", disable=not progress):
            rng = np.random.default_rng([seed, i])
            noise = coloured_noise(rng, noise_beta, (steps, low.size))
            actions = np.clip(centre + amplitude * half * noise, low, high)
            writer.write(i, _record(env, actions, int(rng.integers(2**31))))
    finally:
        env.close()
    return Path(out)


@dataclass(frozen=True)
class GymEpisode:
    """One planned episode: ``observations [T+1, O]``, the summed reward and plan latencies (s)."""

    seed: int
    observations: np.ndarray = field(repr=False)
    total_reward: float
    latencies_s: np.ndarray = field(repr=False)


def plan_gym(
    env_id: str,
    bundle: str | Path,
    cost: CostFn,
    *,
    episodes: int = 1,
    planner: PlannerConfig | None = None,
    seed: int = 0,
    steps: int | None = None,
    runtime: RuntimeConfig | None = None,
    env_kwargs: dict[str, Any] | None = None,
    progress: bool = True,
) -> list[GymEpisode]:
    """Control ``env_id`` with the planner imagining in ``bundle`` and minimising ``cost``.

    The planner's samples and horizon are the bundle's; bounds are the action space and the hold action
    its centre. Episode ``i`` resets the environment with seed ``seed + i``.
    """
    env = make_env(env_id, **(env_kwargs or {}))
    try:
        robot = gym_manifest(env, env_id).robot
        source = bundle_source(bundle, robot=robot, layout=None, runtime=runtime, planner=planner)
        low, high = env.action_space.low, env.action_space.high
        sampler = make_planner(
            source.shape(planner), action_low=low, action_high=high, hold_action=(low + high) / 2.0
        )
        results = []
        for i in tqdm(range(episodes), desc=f"plan {env_id}", unit="ep", disable=not progress):
            results.append(_planned_episode(env, sampler, source, cost, seed + i, steps))
    finally:
        env.close()
    return results


def _planned_episode(
    env: Any, sampler: SamplingPlanner, source: RolloutSource, cost: CostFn, seed: int, steps: int | None
) -> GymEpisode:
    obs, _ = env.reset(seed=seed)
    sampler.reset(seed=seed)
    observations, latencies, total = [obs], [], 0.0
    while steps is None or len(latencies) < steps:
        plan = sampler.plan(source.bind(obs), cost)
        latencies.append(plan.latency_s)
        obs, reward, terminated, truncated, _ = env.step(plan.first)
        observations.append(obs)
        total += float(reward)
        if terminated or truncated:
            break
    return GymEpisode(seed, np.asarray(observations), total, np.asarray(latencies))


def _cmd_gym_collect(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    out = collect_gym(args.env, args.episodes, args.out, seed=args.seed, steps=args.steps)
    print(f"collected {args.episodes} {args.env} episodes in {time.perf_counter() - start:.1f} s -> {out}")
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``gym-collect`` to the ``wm-planner`` command line."""
    p = sub.add_parser("gym-collect", help="collect exploration episodes from a gymnasium environment")
    p.add_argument("--env", required=True, help="gymnasium id, e.g. Reacher-v5")
    p.add_argument("--episodes", type=int, required=True)
    p.add_argument("--out", required=True, help="dataset directory to create")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None, help="cap on steps per episode")
    p.set_defaults(func=_cmd_gym_collect)
