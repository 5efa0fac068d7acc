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
