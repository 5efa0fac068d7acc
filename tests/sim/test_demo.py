"""``wm-planner demo`` runs the whole pipeline and ends with the summary line (tiny settings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.mark.slow
def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    done = run_cli(
        "demo",
        "--out",
        str(out),
        "--episodes",
        "4",
        "--train-steps",
        "10",
        "--eval-episodes",
        "1",
        timeout=280,
    )
    assert done.returncode == 0, done.stderr
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("demo done in") and last.endswith(str(out / "summary.json"))
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["success_rate"]) == {"reach", "push"}
    for task in ("reach", "push"):
        assert json.loads((out / "eval" / f"{task}.json").read_text())["episodes"] == 1
        assert (out / "eval" / f"{task}_episode.mp4").is_file()
        assert (out / "eval" / f"{task}_error.png").is_file()
    assert (out / "bundle" / "rollout.onnx").is_file()
