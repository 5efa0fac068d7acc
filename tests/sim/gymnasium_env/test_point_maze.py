"""The README's example: a goal-conditioned gymnasium-robotics task from the command line alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gymnasium_robotics")

SCRIPT = Path(__file__).resolve().parents[3] / "examples" / "point_maze" / "run.sh"


@pytest.mark.slow
def test_point_maze_reaches_its_goals_on_held_out_episodes_from_the_cli(tmp_path: Path) -> None:
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "OUT": str(tmp_path),
        "TRAIN_STEPS": "1200",
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
    }
    done = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "PointMaze_Open-v3 (onnx, mppi): success" in done.stdout
    report = json.loads((tmp_path / "eval" / "point_maze.json").read_text())
    assert report["episodes"] == 20 and report["success_source"] == "info['success']"
    assert report["success_rate"] >= 0.9
    assert (tmp_path / "eval" / "point_maze_episode.mp4").stat().st_size > 10_000
