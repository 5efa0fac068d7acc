"""The training checkpoint: one typed record that training writes and resumes from and export reads.

On disk it is a ``torch.save`` archive of plain values (format ``wm_planner.checkpoint/1``) with a
``config.json`` beside it that a person can read without torch.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from wm_planner.config import ModelConfig, TrainConfig
from wm_planner.data import DatasetManifest

__all__ = ["CHECKPOINT_NAME", "Checkpoint"]

CHECKPOINT_NAME = "checkpoint.pt"
FORMAT = "wm_planner.checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    """A training run after ``step`` optimiser steps: everything needed to continue it exactly, or to
    rebuild and export its model."""

    model: dict[str, torch.Tensor]
    """The world model's ``state_dict``."""
    optimizer: dict[str, Any]
    step: int
    rng: tuple[dict[str, Any], ...]
    """Each rank's batch sampler state (numpy ``bit_generator.state``), by rank."""
    model_config: ModelConfig
    train_config: TrainConfig
    manifest: DatasetManifest
    data_hash: str
    """The combined hash of the datasets; a resumed run must see the same data."""
    data_hashes: tuple[tuple[str, str], ...]
    """``(path, sha256)`` of each dataset, as given to training."""

    def save(self, path: Path) -> None:
        """Write atomically to ``path`` (a crash leaves the previous checkpoint), and ``config.json``."""
        state = {
            "format": FORMAT,
            "model": self.model,
            "optimizer": self.optimizer,
            "step": self.step,
            "rng": list(self.rng),
            "model_config": self.model_config.model_dump(mode="json"),
            "train_config": self.train_config.model_dump(mode="json"),
            "manifest": self.manifest.model_dump(mode="json"),
            "data_hash": self.data_hash,
            "data_hashes": [list(pair) for pair in self.data_hashes],
        }
        tmp = path.with_name(path.name + ".partial")
        torch.save(state, tmp)
        os.replace(tmp, path)
        summary = {k: state[k] for k in ("step", "model_config", "train_config", "data_hash", "data_hashes")}
        (path.parent / "config.json").write_text(json.dumps(summary, indent=2) + "\n")

    @classmethod
    def read(cls, path: str | Path, *, device: str = "cpu") -> Checkpoint:
        """The checkpoint at ``path``, a file or a run directory; errors name the file."""
        path = Path(path)
        path = path / CHECKPOINT_NAME if path.is_dir() else path
        try:
            state = torch.load(path, map_location=device, weights_only=False)
        except FileNotFoundError:
            raise FileNotFoundError(f"{path}: no checkpoint (train first with wm-planner train)") from None
        except Exception as error:  # torch raises assorted types for damaged archives
            raise ValueError(f"{path}: unreadable checkpoint: {error}") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError(f"{path}: not a {FORMAT} checkpoint")
        return cls(
            model=state["model"],
            optimizer=state["optimizer"],
            step=int(state["step"]),
            rng=tuple(state["rng"]),
            model_config=ModelConfig.model_validate(state["model_config"]),
            train_config=TrainConfig.model_validate(state["train_config"]),
            manifest=DatasetManifest.model_validate(state["manifest"]),
            data_hash=state["data_hash"],
            data_hashes=tuple((str(p), str(h)) for p, h in state["data_hashes"]),
        )
