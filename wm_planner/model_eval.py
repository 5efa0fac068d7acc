"""Open-loop k-step prediction error of an exported bundle on held-out episodes (``wm-planner model-eval``).

Runs the bundle's encoder and dynamics graphs under ONNX Runtime: the figures describe the model the
robot actually runs, not the torch original.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from wm_planner.config import RuntimeConfig
from wm_planner.data import EpisodeDataset, dataset_hash
from wm_planner.runtime import OnnxWorldModel

__all__ = ["evaluate_prediction", "held_out_episodes", "kstep_errors"]

DEFAULT_KS = (1, 10, 30)


def held_out_episodes(model: OnnxWorldModel, data: Path) -> tuple[list[Path], str]:
    """Episode files the model was not trained on: the validation split of a training dataset, or all
    episodes of any other dataset. Returns the paths and a description of the choice."""
    ds = EpisodeDataset(data)
    digest = dataset_hash(data)
    if any(entry.sha256 == digest for entry in model.meta.training_data):
        _, val = ds.split(val_fraction=model.meta.val_fraction, seed=model.meta.split_seed)
        if not val:
            raise ValueError(f"{data}: is the training data and has no validation split to evaluate on")
        return val, "validation split of the training data"
    return ds.episode_paths(), "all episodes (not training data)"


def _errors(pred: np.ndarray, true: np.ndarray, layout) -> dict[str, np.ndarray]:
    q, ee, cube = (layout.slice(n) for n in ("joint_pos", "ee_pos", "cube_pos"))
    return {
        "ee_pos_m": np.linalg.norm(pred[:, ee] - true[:, ee], axis=-1),
        "joint_pos_rad": np.abs(pred[:, q] - true[:, q]).mean(axis=-1),
        "cube_pos_m": np.linalg.norm(pred[:, cube] - true[:, cube], axis=-1),
    }


def kstep_errors(
    model: OnnxWorldModel,
    episodes: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    stride: int = 5,
) -> tuple[dict[str, dict[str, dict[str, float]]], int]:
    """Median and p90 of the k-step open-loop error of ``model`` for each k in ``ks``, over windows starting
    every ``stride`` steps of ``episodes`` (``observations [T+1, O]``, ``actions [T, A]`` each), and the
    number of windows. Errors: end-effector position (m, Euclidean), joint positions (rad, mean absolute
    over joints), cube position (m, Euclidean)."""
    layout = model.meta.observation_layout
    horizon = max(ks)
    collected: dict[int, dict[str, list[np.ndarray]]] = {k: {} for k in ks}
    windows = 0
    for observations, actions in episodes:
        starts = np.arange(0, len(actions) - horizon + 1, stride)
        if starts.size == 0:
            continue
        windows += starts.size
        z, offset = model.encode(observations[starts])
        for k in range(1, horizon + 1):
            z, features, _ = model.step(z, actions[starts + k - 1])
            if k in collected:
                for name, err in _errors(features + offset, observations[starts + k], layout).items():
                    collected[k].setdefault(name, []).append(err)
    result = {
        str(k): {
            name: {
                "median": float(np.median(np.concatenate(v))),
                "p90": float(np.percentile(np.concatenate(v), 90)),
            }
            for name, v in per_feature.items()
        }
        for k, per_feature in collected.items()
        if per_feature
    }
    return result, windows


def evaluate_prediction(
    bundle: str | Path,
    data: str | Path,
    *,
    ks: Sequence[int] = DEFAULT_KS,
    stride: int = 5,
    runtime: RuntimeConfig | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Median and p90 of the k-step open-loop error for each k in ``ks``, over windows starting every
    ``stride`` steps of the held-out episodes. Errors: end-effector position (m, Euclidean), joint
    positions (rad, mean absolute over joints), cube position (m, Euclidean)."""
    model = OnnxWorldModel(bundle, runtime=runtime)
    layout = model.meta.observation_layout
    paths, held_out = held_out_episodes(model, Path(data))
    ds = EpisodeDataset(data)
    if ds.manifest.observation_layout != layout:
        raise ValueError(f"{data}: observation layout differs from the bundle's ({layout.describe()})")
    episodes = (
        (e.observations, e.actions)
        for _, e in tqdm(
            ds.iter_episodes(paths), total=len(paths), desc="model-eval", unit="ep", disable=not progress
        )
    )
    result, windows = kstep_errors(model, episodes, ks=ks, stride=stride)
    if windows == 0:
        raise ValueError(f"{data}: no held-out episode is longer than {max(ks)} steps")
    return {
        "k": result,
        "episodes": len(paths),
        "windows": windows,
        "held_out": held_out,
        "bundle": str(bundle),
        "data": str(data),
        "control_period_s": model.meta.control_period,
        "providers": model.providers,
    }
