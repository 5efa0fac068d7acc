from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``wm-planner`` as a user would, in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "wm_planner.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


@pytest.fixture(scope="session")
def push_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20 full-length push episodes from the default collector (about a second to make)."""
    from sim.collect import collect

    out = tmp_path_factory.mktemp("data") / "push"
    collect("push", 20, out, workers=2, seed=0, progress=False)
    return out


TINY_TRAINING = """
model: {latent_size: 16, hidden_size: 32, layers: 1}
train: {steps: 150, batch_size: 32, horizon: 8, eval_every: 25, checkpoint_every: 50, val_fraction: 0.2}
"""


@pytest.fixture(scope="session")
def reach_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 short reach episodes, enough to fit a tiny model."""
    from sim.collect import collect

    out = tmp_path_factory.mktemp("data") / "reach"
    collect("reach", 12, out, workers=1, seed=3, episode_steps=40, progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    path.write_text(TINY_TRAINING)
    return path


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, reach_dataset: Path, tiny_config: Path) -> Path:
    """A tiny model trained through the CLI."""
    run = tmp_path_factory.mktemp("runs") / "tiny"
    done = run_cli("train", "--data", str(reach_dataset), "--out", str(run), "--config", str(tiny_config))
    assert done.returncode == 0, done.stderr
    return run


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory, tiny_run: Path) -> Path:
    bundle = tmp_path_factory.mktemp("bundles") / "tiny"
    done = run_cli(
        "export", "--run", str(tiny_run), "--out", str(bundle), "--samples", "32", "--horizon", "6"
    )
    assert done.returncode == 0, done.stderr
    return bundle


@pytest.fixture(scope="session")
def small_arm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small test arm (:mod:`tests.robots`) imported through the CLI: a robot folder."""
    from tests.robots import write_small_arm

    root = tmp_path_factory.mktemp("robot")
    urdf = write_small_arm(root)
    done = run_cli("robot", "import", str(urdf), "--out", str(root / "small"), "--tip-xyz", "0 0 0.08")
    assert done.returncode == 0, done.stderr
    assert "imported small_arm: 4 joints" in done.stdout
    assert "acceleration limits" in done.stderr  # the stated rule, with a warning
    return root / "small"
