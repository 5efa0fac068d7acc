"""One episode on disk: a single ``.npz`` file written atomically.

A file is written under a temporary name in the same directory, flushed to disk and then renamed, so a
reader sees either a whole episode or none; a crash leaves at most a ``*.partial`` file behind.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PARTIAL_SUFFIX", "CorruptEpisodeError", "Episode", "read_episode", "write_episode"]

PARTIAL_SUFFIX = ".partial"
_ARRAYS = ("observations", "actions", "goal")


class CorruptEpisodeError(ValueError):
    """An episode file cannot be read or does not match the dataset; the message names the file."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: corrupt episode file: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Episode:
    """A recorded trajectory.

    observations: [T+1, O] float32, the observation before each action and after the last.
    actions: [T, A] float32, the commanded (already clipped) action of each control period.
    goal: [G] float32, the task goal of the episode (e.g. target position).
    info: JSON-serialisable metadata (task, seed, success, ...).
    """

    observations: np.ndarray
    actions: np.ndarray
    goal: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.observations.ndim != 2 or self.actions.ndim != 2:
            raise ValueError(
                f"observations must be [T+1, O] and actions [T, A], got shapes "
                f"{self.observations.shape} and {self.actions.shape}"
            )
        if self.observations.shape[0] != self.actions.shape[0] + 1:
            raise ValueError(
                f"observations has {self.observations.shape[0]} rows; expected actions rows + 1 = "
                f"{self.actions.shape[0] + 1}"
            )

    @property
    def num_transitions(self) -> int:
        return int(self.actions.shape[0])


def write_episode(path: str | Path, episode: Episode) -> Path:
    """Write ``episode`` to ``path`` atomically and durably; returns the path."""
    path = Path(path)
    tmp = path.with_name(path.name + PARTIAL_SUFFIX)
    with open(tmp, "wb") as f:
        np.savez(
            f,
            observations=episode.observations.astype(np.float32),
            actions=episode.actions.astype(np.float32),
            goal=np.asarray(episode.goal, dtype=np.float32),
            info=np.frombuffer(json.dumps(episode.info, sort_keys=True).encode(), dtype=np.uint8),
        )
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_episode(path: str | Path, *, obs_size: int | None = None, action_size: int | None = None) -> Episode:
    """Read and check one episode file.

    Raises :class:`CorruptEpisodeError` (naming ``path``) for a truncated or damaged file, missing
    arrays, non-finite values or sizes that differ from ``obs_size`` / ``action_size``.
    """
    path = Path(path)
    try:
        # np.load checks each member's CRC as it is read, so flipped bytes are caught here.
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in (*_ARRAYS, "info") if k not in npz.files]
            if missing:
                raise CorruptEpisodeError(path, f"missing arrays {missing}")
            arrays = {k: npz[k] for k in (*_ARRAYS, "info")}
        info = json.loads(arrays.pop("info").tobytes().decode())
        episode = Episode(info=info, **arrays)
    except CorruptEpisodeError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, ValueError, KeyError, UnicodeDecodeError) as error:
        raise CorruptEpisodeError(path, f"{type(error).__name__}: {error}") from None
    _check_contents(path, episode, obs_size, action_size)
    return episode


def _check_contents(path: Path, episode: Episode, obs_size: int | None, action_size: int | None) -> None:
    if obs_size is not None and episode.observations.shape[1] != obs_size:
        raise CorruptEpisodeError(
            path, f"observation size {episode.observations.shape[1]} != manifest's {obs_size}"
        )
    if action_size is not None and episode.actions.shape[1] != action_size:
        raise CorruptEpisodeError(path, f"action size {episode.actions.shape[1]} != manifest's {action_size}")
    for name in _ARRAYS:
        if not np.all(np.isfinite(getattr(episode, name))):
            raise CorruptEpisodeError(path, f"{name} contains NaN or Inf")
