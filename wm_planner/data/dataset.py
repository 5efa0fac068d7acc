"""A versioned directory of episodes: ``manifest.json`` plus ``episodes/episode_NNNNNN.npz``.

The manifest is written once, before any episode, and describes everything a reader needs to interpret
the files: schema version, observation and action layouts, robot spec and control period. Episodes are
independent files, so parallel writers never share a file and a crash loses at most the episode in flight.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from wm_planner.config import ObjectSpec, RobotSpec, StrictModel, ToolSpec, load_versioned_json
from wm_planner.data.episode import PARTIAL_SUFFIX, CorruptEpisodeError, Episode, read_episode, write_episode
from wm_planner.data.hygiene import upright_steps
from wm_planner.data.layout import Layout

__all__ = [
    "SCHEMA_VERSION",
    "DatasetError",
    "DatasetManifest",
    "DatasetReport",
    "DatasetWriter",
    "EpisodeDataset",
    "combined_hash",
    "dataset_hash",
    "verify_dataset",
]

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
EPISODE_DIR = "episodes"
_EPISODE_RE = re.compile(r"^episode_(\d{6})\.npz$")


class DatasetError(ValueError):
    """The dataset as a whole cannot be used (no or bad manifest, wrong schema, existing data)."""


class DatasetManifest(StrictModel):
    """What every episode in the directory shares."""

    schema_version: int = SCHEMA_VERSION
    observation_layout: Layout
    action_layout: Layout
    action_kind: str = Field(description="meaning of an action, e.g. 'joint_position_delta'")
    goal_size: int = Field(ge=0)
    robot: RobotSpec
    task: str
    source: dict[str, Any] = Field(default_factory=dict, description="how the data was made")
    objects: tuple[ObjectSpec, ...] = Field(
        default=(), description="objects in the observation, which world models carry explicitly"
    )
    tool: ToolSpec | None = Field(
        default=None,
        description="the tool as an observed point block, where the robot has no kinematics to place it",
    )

    @property
    def control_period(self) -> float:
        return self.robot.control_period


def episode_name(index: int) -> str:
    return f"episode_{index:06d}.npz"


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + PARTIAL_SUFFIX)
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_manifest(root: str | Path) -> DatasetManifest:
    path = Path(root) / MANIFEST_NAME
    try:
        return load_versioned_json(path, DatasetManifest, schema_version=SCHEMA_VERSION, error=DatasetError)
    except FileNotFoundError:
        raise DatasetError(f"{root}: not a dataset (no {MANIFEST_NAME})") from None


class DatasetWriter:
    """Writes episodes into a dataset directory, one atomic file each.

    ``resume=True`` reopens an existing dataset with the same manifest, removes partial files left by a
    crash and lets the caller skip episodes already written (:meth:`has`).
    """

    def __init__(self, root: str | Path, manifest: DatasetManifest, *, resume: bool = False) -> None:
        self.root = Path(root)
        self.manifest = manifest
        self.episode_dir = self.root / EPISODE_DIR
        existing = self.root / MANIFEST_NAME
        if existing.exists():
            if not resume:
                raise DatasetError(f"{self.root}: already holds a dataset; pass resume to continue it")
            found = read_manifest(self.root)
            if found != manifest:
                raise DatasetError(
                    f"{self.root}: existing manifest differs from this run; use a new directory"
                )
            for partial in self.episode_dir.glob("*" + PARTIAL_SUFFIX):
                partial.unlink()
        else:
            self.episode_dir.mkdir(parents=True, exist_ok=True)
            _write_json_atomic(existing, manifest.model_dump(mode="json"))

    def path(self, index: int) -> Path:
        return self.episode_dir / episode_name(index)

    def has(self, index: int) -> bool:
        return self.path(index).exists()

    def write(self, index: int, episode: Episode) -> Path:
        layout_o, layout_a = self.manifest.observation_layout.size, self.manifest.action_layout.size
        if episode.observations.shape[1] != layout_o or episode.actions.shape[1] != layout_a:
            raise ValueError(
                f"episode {index}: observation/action sizes {episode.observations.shape[1]}/"
                f"{episode.actions.shape[1]} differ from the manifest's {layout_o}/{layout_a}"
            )
        return write_episode(self.path(index), episode)


@dataclass(frozen=True)
class DatasetReport:
    """What a full read of a dataset found."""

    episodes: int
    transitions: int
    corrupt: tuple[CorruptEpisodeError, ...]
    objects_unsound: int = 0
    """Episodes in which an object tips over or falls (cut there for training)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "episodes": self.episodes,
            "transitions": self.transitions,
            "corrupt": [str(c.path) for c in self.corrupt],
            "objects_unsound": self.objects_unsound,
        }


class EpisodeDataset:
    """Read access to a dataset directory, validated against its manifest."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        self.episode_dir = self.root / EPISODE_DIR

    def episode_paths(self) -> list[Path]:
        """Complete episode files, in index order."""
        if not self.episode_dir.is_dir():
            return []
        return sorted(p for p in self.episode_dir.iterdir() if _EPISODE_RE.match(p.name))

    def partial_paths(self) -> list[Path]:
        """Files a crashed writer left unfinished."""
        if not self.episode_dir.is_dir():
            return []
        return sorted(self.episode_dir.glob("*" + PARTIAL_SUFFIX))

    def read(self, path: Path) -> Episode:
        return read_episode(
            path,
            obs_size=self.manifest.observation_layout.size,
            action_size=self.manifest.action_layout.size,
        )

    def iter_episodes(
        self, paths: list[Path] | None = None, *, corrupt: list[CorruptEpisodeError] | None = None
    ) -> Iterator[tuple[Path, Episode]]:
        """Yield readable episodes. A corrupt file is appended to ``corrupt`` when given, else raised."""
        for path in self.episode_paths() if paths is None else paths:
            try:
                yield path, self.read(path)
            except CorruptEpisodeError as error:
                if corrupt is None:
                    raise
                corrupt.append(error)

    def split(self, *, val_fraction: float = 0.1, seed: int = 0) -> tuple[list[Path], list[Path]]:
        """Split episode files (never transitions) into train and validation sets, reproducibly."""
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        paths = self.episode_paths()
        order = np.random.default_rng(seed).permutation(len(paths))
        n_val = round(len(paths) * val_fraction)
        if val_fraction > 0.0 and len(paths) > 1:
            n_val = max(1, n_val)
        val = sorted(paths[i] for i in order[:n_val])
        train = sorted(paths[i] for i in order[n_val:])
        return train, val

    def report(self) -> DatasetReport:
        corrupt: list[CorruptEpisodeError] = []
        episodes = transitions = unsound = 0
        layout, objects = self.manifest.observation_layout, self.manifest.objects
        for _, episode in self.iter_episodes(corrupt=corrupt):
            episodes += 1
            transitions += episode.num_transitions
            unsound += upright_steps(episode.observations, layout, objects) < len(episode.observations)
        corrupt.extend(
            CorruptEpisodeError(p, "partial file left by an interrupted writer") for p in self.partial_paths()
        )
        return DatasetReport(
            episodes=episodes, transitions=transitions, corrupt=tuple(corrupt), objects_unsound=unsound
        )


def verify_dataset(root: str | Path) -> DatasetReport:
    """Read every episode of the dataset at ``root``; see :class:`DatasetReport`."""
    return EpisodeDataset(root).report()


def dataset_hash(root: Path) -> str:
    """SHA-256 over a dataset's manifest and episode files."""
    ds = EpisodeDataset(root)
    digest = hashlib.sha256(ds.manifest.model_dump_json().encode())
    for path in ds.episode_paths():
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def combined_hash(hashes: list[str]) -> str:
    """One hash for several datasets, independent of their order."""
    return hashlib.sha256("".join(sorted(hashes)).encode()).hexdigest()
