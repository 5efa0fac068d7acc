"""Episode datasets: layouts, the episode file format and the versioned dataset directory."""

from wm_planner.data.dataset import (
    SCHEMA_VERSION,
    DatasetError,
    DatasetManifest,
    DatasetReport,
    DatasetWriter,
    EpisodeDataset,
    combined_hash,
    dataset_hash,
    verify_dataset,
)
from wm_planner.data.episode import CorruptEpisodeError, Episode, read_episode, write_episode
from wm_planner.data.layout import Layout, LayoutField

__all__ = [
    "SCHEMA_VERSION",
    "CorruptEpisodeError",
    "DatasetError",
    "DatasetManifest",
    "DatasetReport",
    "DatasetWriter",
    "Episode",
    "EpisodeDataset",
    "Layout",
    "LayoutField",
    "combined_hash",
    "dataset_hash",
    "read_episode",
    "verify_dataset",
    "write_episode",
]
