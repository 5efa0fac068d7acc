"""Training windows: fixed-length slices of episodes, sampled uniformly and reproducibly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wm_planner.data import DatasetManifest, EpisodeDataset

__all__ = ["EpisodeArrays", "load_split"]


@dataclass(frozen=True)
class EpisodeArrays:
    """Episodes concatenated for fast window gathering.

    observations: [sum(T_i + 1), O]; actions: [sum(T_i + 1), A] (each episode's last row is padding, never
    inside a window); starts: [W] row index of every window start, for windows of ``horizon`` actions.
    """

    observations: np.ndarray
    actions: np.ndarray
    starts: np.ndarray
    horizon: int
    episodes: int

    @classmethod
    def build(cls, episodes: list, horizon: int) -> EpisodeArrays:
        obs, act, starts, offset = [], [], [], 0
        for ep in episodes:
            steps = ep.num_transitions
            obs.append(ep.observations)
            act.append(np.vstack([ep.actions, np.zeros((1, ep.actions.shape[1]), ep.actions.dtype)]))
            if steps >= horizon:
                starts.append(offset + np.arange(steps - horizon + 1))
            offset += steps + 1
        if not starts:
            raise ValueError(f"no episode is long enough for windows of {horizon} steps")
        return cls(
            observations=np.concatenate(obs).astype(np.float32),
            actions=np.concatenate(act).astype(np.float32),
            starts=np.concatenate(starts),
            horizon=horizon,
            episodes=len(episodes),
        )

    def gather(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Windows at ``starts: [B]``: observations ``[B, H+1, O]`` and actions ``[B, H, A]``."""
        offsets = starts[:, None] + np.arange(self.horizon + 1)
        return self.observations[offsets], self.actions[offsets[:, :-1]]

    def sample(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
        return self.gather(self.starts[rng.integers(0, self.starts.size, size=batch)])


def load_split(
    roots: list[Path], *, horizon: int, val_fraction: float, seed: int
) -> tuple[DatasetManifest, EpisodeArrays, EpisodeArrays | None]:
    """Train and validation windows from one or more datasets with the same layouts and robot.

    Corrupt episode files stop training with an error naming them: silently training on part of the
    data would make runs irreproducible.
    """
    manifest: DatasetManifest | None = None
    train, val = [], []
    for root in roots:
        ds = EpisodeDataset(root)
        if manifest is None:
            manifest = ds.manifest
        else:
            _check_compatible(manifest, ds.manifest, root)
        train_paths, val_paths = ds.split(val_fraction=val_fraction, seed=seed)
        train += [ep for _, ep in ds.iter_episodes(train_paths)]
        val += [ep for _, ep in ds.iter_episodes(val_paths)]
    if manifest is None:
        raise ValueError("no dataset given")
    return manifest, EpisodeArrays.build(train, horizon), (EpisodeArrays.build(val, horizon) if val else None)


def _check_compatible(first: DatasetManifest, other: DatasetManifest, root: Path) -> None:
    for field in ("observation_layout", "action_layout", "action_kind", "robot"):
        if getattr(first, field) != getattr(other, field):
            raise ValueError(
                f"{root}: {field} differs from the first dataset's; they cannot be trained together"
            )
