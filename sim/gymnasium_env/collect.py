"""Exploration episodes of a gymnasium environment recorded as a dataset ``wm-planner train`` takes.

The dataset's :class:`RobotSpec` describes the environment's action space: one "joint" per action
dimension, with the action bounds as position limits and the control period the environment's. Velocity
and acceleration limits allow a full-range change per step, which is what an action space with no rate
limits means.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.gymnasium_env.envs import GymEnv, GymEnvSpec
from wm_planner.config import RobotSpec
from wm_planner.data import DatasetManifest, DatasetWriter, Episode
from wm_planner.data.layout import Layout
from wm_planner.planning import coloured_noise
from wm_planner.progress import progress_bar

__all__ = ["action_robot", "collect_gym", "gym_manifest"]

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
    )


def _record(env: GymEnv, actions: np.ndarray, seed: int) -> Episode:
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
        info={"seed": seed, "terminated": bool(terminated)},
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
    progress: bool = True,
) -> Path:
    """Record ``episodes`` episodes of coloured-noise actions into the dataset directory ``out``.

    Actions are ``centre + amplitude * half_range * noise`` clipped to the bounds, where ``noise`` has a
    1/f^``noise_beta`` spectrum over time: smooth enough to move the system somewhere, random enough to
    cover it. Episode ``i`` is seeded from ``(seed, i)``, in the environment's own seeding style.
    ``steps`` caps episodes (default: the environment's time limit, or 200).
    """
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    spec = GymEnvSpec(spec) if isinstance(spec, str) else spec
    with GymEnv(spec) as env:
        writer = DatasetWriter(out, gym_manifest(env))
        steps = steps or env.max_steps or DEFAULT_STEPS
        low, high = env.action_low, env.action_high
        centre, half = (high + low) / 2.0, (high - low) / 2.0
        for i in progress_bar(
            range(episodes), desc=f"collect {spec.env_id}", unit="ep", disable=not progress
        ):
            rng = np.random.default_rng([seed, i])
            noise = coloured_noise(rng, noise_beta, (steps, low.size))
            actions = np.clip(centre + amplitude * half * noise, low, high)
            writer.write(i, _record(env, actions, int(rng.integers(2**31))))
    return Path(out)
