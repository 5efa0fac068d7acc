"""``model-eval`` on a gymnasium dataset reports the blocks the data has (no arm blocks assumed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from wm_planner.cli import main


def test_model_eval_of_a_gymnasium_model_reports_its_own_blocks(
    point_goal_bundle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = point_goal_bundle.parent / "data"
    out = tmp_path / "prediction.json"
    assert (
        main(["model-eval", "--model", str(point_goal_bundle), "--data", str(data), "--json", str(out)]) == 0
    )
    report = json.loads(out.read_text())
    assert set(report["k"]["1"]) == {"achieved_goal", "desired_goal"}
    # The goal never moves and the point moves by the action: one step is nearly exact, ten are worse.
    one, ten = (report["k"][k]["achieved_goal"]["median"] for k in ("1", "10"))
    assert report["k"]["1"]["desired_goal"]["median"] < 0.02 and one < ten < 0.5
    line = capsys.readouterr().out
    assert line.startswith("30-step achieved_goal error median") and str(out) in line
