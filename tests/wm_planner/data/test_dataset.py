import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli
from tests.wm_planner.data.test_episode import make_episode
from wm_planner.config import default_robot_spec
from wm_planner.data import (
    DatasetError,
    DatasetManifest,
    DatasetWriter,
    EpisodeDataset,
    Layout,
    verify_dataset,
)


def manifest(task: str = "reach") -> DatasetManifest:
    return DatasetManifest(
        observation_layout=Layout.of(("a", 3, "m"), ("b", 1, "")),
        action_layout=Layout.of(("u", 2, "rad")),
        action_kind="joint_position_delta",
        goal_size=3,
        robot=default_robot_spec(),
        task=task,
    )


def make_dataset(root: Path, episodes: int = 6) -> DatasetWriter:
    writer = DatasetWriter(root, manifest())
    for i in range(episodes):
        writer.write(i, make_episode(steps=4 + i, seed=i))
    return writer


def test_manifest_round_trip_and_counts(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    ds = EpisodeDataset(tmp_path)
    assert ds.manifest == manifest()
    assert ds.manifest.observation_layout.slice("b") == slice(3, 4)
    report = ds.report()
    assert (report.episodes, report.transitions, report.corrupt) == (6, sum(4 + i for i in range(6)), ())


def test_split_is_by_episode_disjoint_and_reproducible(tmp_path: Path) -> None:
    make_dataset(tmp_path, episodes=10)
    ds = EpisodeDataset(tmp_path)
    train, val = ds.split(val_fraction=0.2, seed=3)
    assert len(val) == 2 and len(train) == 8
    assert not set(train) & set(val)
    assert (train, val) == ds.split(val_fraction=0.2, seed=3)
    assert val != ds.split(val_fraction=0.2, seed=4)[1] or val != ds.split(val_fraction=0.2, seed=5)[1]


def test_reader_names_corrupt_file_and_reads_the_rest(tmp_path: Path) -> None:
    writer = make_dataset(tmp_path)
    bad = writer.path(2)
    bad.write_bytes(bad.read_bytes()[:100])
    corrupt = []
    read = [p for p, _ in EpisodeDataset(tmp_path).iter_episodes(corrupt=corrupt)]
    assert len(read) == 5 and bad not in read
    assert [c.path for c in corrupt] == [bad]
    with pytest.raises(ValueError, match=r"episode_000002\.npz: corrupt"):
        list(EpisodeDataset(tmp_path).iter_episodes())


def test_existing_dataset_is_not_overwritten(tmp_path: Path) -> None:
    make_dataset(tmp_path)
    with pytest.raises(DatasetError, match="already holds a dataset"):
        DatasetWriter(tmp_path, manifest())
    with pytest.raises(DatasetError, match="manifest differs"):
        DatasetWriter(tmp_path, manifest(task="push"), resume=True)
    assert verify_dataset(tmp_path).episodes == 6


def test_resume_removes_partial_files(tmp_path: Path) -> None:
    writer = make_dataset(tmp_path, episodes=2)
    partial = writer.path(2).with_name(writer.path(2).name + ".partial")
    partial.write_bytes(b"half an episode")
    assert verify_dataset(tmp_path).to_json()["corrupt"] == [str(partial)]
    DatasetWriter(tmp_path, manifest(), resume=True)
    assert not partial.exists()


def test_bad_manifest_is_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a dataset"):
        EpisodeDataset(tmp_path)
    make_dataset(tmp_path, episodes=1)
    path = tmp_path / "manifest.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, "schema_version": 99}))
    with pytest.raises(DatasetError, match="schema_version 99 is not supported"):
        EpisodeDataset(tmp_path)
    path.write_text(json.dumps({**data, "robot": {**data["robot"], "joint_names": ["x"]}}))
    with pytest.raises(DatasetError, match=r"manifest.json: invalid configuration\n  field 'robot'"):
        EpisodeDataset(tmp_path)


def test_data_verify_cli(tmp_path: Path) -> None:
    writer = make_dataset(tmp_path)
    ok = run_cli("data", "verify", str(tmp_path))
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"episodes": 6, "transitions": 39, "corrupt": [], "objects_unsound": 0}

    writer.path(4).write_bytes(np.zeros(10, dtype=np.uint8).tobytes())
    bad = run_cli("data", "verify", str(tmp_path))
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["corrupt"] == [str(writer.path(4))]
    assert "episode_000004.npz" in bad.stderr

    missing = run_cli("data", "verify", str(tmp_path / "nothing"))
    assert missing.returncode == 2 and "not a dataset" in missing.stderr
