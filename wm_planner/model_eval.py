"""Open-loop k-step prediction error of an exported bundle on held-out episodes (``wm-planner model-eval``).

Runs the bundle's encoder and dynamics graphs under ONNX Runtime: the figures describe the model the
robot actually runs, not the torch original.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wm_planner.config import ObjectSpec, RuntimeConfig
from wm_planner.data import EpisodeDataset, dataset_hash
from wm_planner.data.hygiene import cut_unsound
from wm_planner.data.layout import Layout
from wm_planner.progress import progress_bar
from wm_planner.runtime import OnnxWorldModel

__all__ = [
    "contact_metrics",
    "contact_summary",
    "evaluate_prediction",
    "held_out_episodes",
    "kstep_errors",
    "open_loop",
]

DEFAULT_KS = (1, 10, 30)
STILL_M = 0.003
"""m: an object that moves less than this within a window is still."""
FALSE_MOTION_M = 0.01
"""m: imagined motion beyond this of a still object is false motion."""


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


def _errors(pred: np.ndarray, true: np.ndarray, layout: Layout) -> dict[str, np.ndarray]:
    """Per block, ``pred [W, O]`` against ``true [W, O]``: joint positions as the mean absolute error over
    joints (``joint_pos_rad``), blocks in metres (``<name>_m``) and blocks without a unit (``<name>``, as
    a gymnasium environment's are) as the Euclidean distance. Velocities and orientations are left out:
    their errors do not add up to a distance."""
    errors = {}
    for field in layout.fields:
        at = layout.slice(field.name)
        if field.name == "joint_pos":
            errors["joint_pos_rad"] = np.abs(pred[:, at] - true[:, at]).mean(axis=-1)
        elif field.unit in ("m", ""):
            key = f"{field.name}_m" if field.unit else field.name
            errors[key] = np.linalg.norm(pred[:, at] - true[:, at], axis=-1)
    return errors


def open_loop(
    model: OnnxWorldModel, observations: np.ndarray, actions: np.ndarray, starts: np.ndarray, steps: int
) -> np.ndarray:
    """Anchored features ``[W, steps, O]`` imagined from each start in ``starts [W]``."""
    z, offset = model.encode(observations[starts])
    predicted = []
    for k in range(steps):
        z, features, _ = model.step(z, actions[starts + k])
        predicted.append(features + offset)
    return np.stack(predicted, axis=1)


def _windows(
    episodes: Iterable[tuple[np.ndarray, np.ndarray]], model: OnnxWorldModel, steps: int, stride: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(predicted [W, steps, O], true [W, steps + 1, O])`` per episode, windows every ``stride`` steps."""
    for observations, actions in episodes:
        starts = np.arange(0, len(actions) - steps + 1, stride)
        if starts.size:
            true = observations[starts[:, None] + np.arange(steps + 1)]
            yield open_loop(model, observations, actions, starts, steps), true


def kstep_errors(
    model: OnnxWorldModel,
    episodes: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    ks: Sequence[int] = DEFAULT_KS,
    stride: int = 5,
) -> tuple[dict[str, dict[str, dict[str, float]]], int]:
    """Median and p90 of the k-step open-loop error of ``model`` for each k in ``ks``, over windows starting
    every ``stride`` steps of ``episodes`` (``observations [T+1, O]``, ``actions [T, A]`` each), and the
    number of windows. Errors per block, as :func:`_errors` names them: for the arm end-effector position
    (m, Euclidean), joint positions (rad, mean absolute over joints), cube position (m, Euclidean)."""
    layout = model.meta.observation_layout
    collected: dict[int, dict[str, list[np.ndarray]]] = {k: {} for k in ks}
    windows = 0
    for predicted, true in _windows(episodes, model, max(ks), stride):
        windows += len(predicted)
        for k in ks:
            for name, err in _errors(predicted[:, k - 1], true[:, k], layout).items():
                collected[k].setdefault(name, []).append(err)
    return {str(k): _summary(per_feature) for k, per_feature in collected.items() if per_feature}, windows


def _summary(per_feature: dict[str, list[np.ndarray]]) -> dict[str, dict[str, float]]:
    return {
        name: {
            "median": float(np.median(np.concatenate(v))),
            "p90": float(np.percentile(np.concatenate(v), 90)),
        }
        for name, v in per_feature.items()
    }


def contact_metrics(
    model: OnnxWorldModel,
    episodes: Iterable[tuple[np.ndarray, np.ndarray]],
    *,
    horizon: int,
    stride: int = 5,
) -> dict[str, Any]:
    """:func:`contact_summary` of ``model`` over windows of ``horizon`` steps (the planner's) starting
    every ``stride`` steps of ``episodes``."""
    meta = model.meta
    pairs = list(_windows(episodes, model, horizon, stride))
    if not pairs:
        raise ValueError(f"no window of {horizon} steps to measure contacts on")
    predicted = np.concatenate([p for p, _ in pairs])
    true = np.concatenate([t for _, t in pairs])
    return contact_summary(predicted, true, meta.observation_layout, meta.model.objects or ())


def contact_summary(
    predicted: np.ndarray, true: np.ndarray, layout: Layout, objects: Sequence[ObjectSpec]
) -> dict[str, Any]:
    """How well imagined objects move when the real ones do, from ``predicted [W, H, O]`` (imagined from
    each window's start) and ``true [W, H+1, O]``.

    In each window an object's motion is the largest distance in the table plane from its start. A
    window is still when it really moves less than ``STILL_M`` and moving otherwise.
    ``false_motion_rate``: still windows imagined to move more than ``FALSE_MOTION_M``;
    ``missed_motion_rate``: windows really moving more than ``FALSE_MOTION_M`` imagined to move less
    than ``STILL_M``; and the median object position error after H steps on moving and still windows.
    """
    real_motion, imagined_motion, final_error = [], [], []
    for spec in objects:
        at = layout.slice(spec.position)
        start = true[:, :1, at][..., :2]
        real_motion.append(np.linalg.norm(true[:, 1:, at][..., :2] - start, axis=-1).max(axis=1))
        imagined_motion.append(np.linalg.norm(predicted[:, :, at][..., :2] - start, axis=-1).max(axis=1))
        final_error.append(np.linalg.norm(predicted[:, -1, at] - true[:, -1, at], axis=-1))
    real, imagined, error = (np.concatenate(v) for v in (real_motion, imagined_motion, final_error))
    still, moving, clearly = real < STILL_M, real >= STILL_M, real > FALSE_MOTION_M

    def rate(hit: np.ndarray, among: np.ndarray) -> float | None:
        return float(hit[among].mean()) if among.any() else None

    def median(among: np.ndarray) -> float | None:
        return float(np.median(error[among])) if among.any() else None

    return {
        "horizon": predicted.shape[1],
        "windows": int(real.size),
        "still_windows": int(still.sum()),
        "moving_windows": int(moving.sum()),
        "false_motion_rate": rate(imagined > FALSE_MOTION_M, still),
        "missed_motion_rate": rate(imagined < STILL_M, clearly),
        "object_error_moving_m": median(moving),
        "object_error_still_m": median(still),
    }


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
    episodes = [
        (e.observations, e.actions)
        for e in (
            cut_unsound(episode, layout, ds.manifest.objects)[0]
            for _, episode in progress_bar(
                ds.iter_episodes(paths), total=len(paths), desc="model-eval", unit="ep", disable=not progress
            )
        )
    ]
    # The planner's horizon too: the k at which imagined futures are scored.
    ks = tuple(sorted({*ks, model.horizon}))
    result, windows = kstep_errors(model, episodes, ks=ks, stride=stride)
    if windows == 0:
        raise ValueError(f"{data}: no held-out episode is longer than {max(ks)} steps")
    contact = (
        {"contact": contact_metrics(model, episodes, horizon=model.horizon, stride=stride)}
        if model.meta.model.objects
        else {}
    )
    return {
        "k": result,
        **contact,
        "episodes": len(paths),
        "windows": windows,
        "held_out": held_out,
        "bundle": str(bundle),
        "data": str(data),
        "control_period_s": model.meta.control_period,
        "providers": model.providers,
    }
