"""``wm-planner eval`` and ``wm-planner bench`` end to end, on small settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

SMALL_PLANNER = "samples: 32\nhorizon: 8\niterations: 1\nelites: 8\n"


def test_oracle_planner_reaches_the_goal(tmp_path: Path) -> None:
    config = tmp_path / "planner.yaml"
    config.write_text(SMALL_PLANNER)
    out = tmp_path / "eval" / "reach.json"
    done = run_cli(
        "eval",
        "--oracle",
        "--task",
        "reach",
        "--episodes",
        "2",
        "--steps",
        "60",
        "--config",
        str(config),
        "--json",
        str(out),
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["episodes"] == 2 and report["backend"] == "oracle"
    assert report["success_rate"] == 1.0
    assert report["final_error_m"] <= 0.02
    assert report["plan_latency_ms"]["p50"] > 0
    assert (tmp_path / "eval" / "reach_error.png").stat().st_size > 10_000
    assert (tmp_path / "eval" / "reach_episode.mp4").stat().st_size > 10_000
    assert "success 100% of 2" in done.stdout and str(out) in done.stdout


@pytest.mark.parametrize("planner", ["mppi", "cem"])
def test_eval_runs_on_a_bundle(tmp_path: Path, tiny_bundle: Path, planner: str) -> None:
    out = tmp_path / "push.json"
    done = run_cli(
        "eval",
        "--model",
        str(tiny_bundle),
        "--task",
        "push",
        "--episodes",
        "2",
        "--steps",
        "20",
        "--planner",
        planner,
        "--no-video",
        "--json",
        str(out),
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["planner"]["algorithm"] == planner
    assert report["planner"]["samples"] == 32 and report["planner"]["horizon"] == 6
    assert {"success_rate", "final_error_m", "time_to_success_s", "plan_latency_ms"} <= report.keys()
    assert report["providers"] == ["CPUExecutionProvider"]
    loop = report["loop"]  # the robot's control loop ran: every period is counted by mode
    assert loop["periods"] == sum(e["steps"] for e in report["per_episode"]) == sum(loop["modes"].values())
    assert 0 <= loop["filtered"] <= loop["periods"] and {"fallbacks", "reanchors"} <= loop.keys()
    assert not (tmp_path / "push_episode.mp4").exists()


def test_eval_names_a_missing_bundle(tmp_path: Path) -> None:
    done = run_cli(
        "eval", "--model", str(tmp_path / "nope"), "--task", "reach", "--json", str(tmp_path / "x.json")
    )
    assert done.returncode == 2
    assert "no such model bundle" in done.stderr


def test_bench_reports_all_three_planners_and_ours_on_a_busy_machine(
    tmp_path: Path, tiny_bundle: Path
) -> None:
    pytest.importorskip("pytorch_mppi")
    out = tmp_path / "bench.json"
    done = run_cli(
        "bench",
        "--model",
        str(tiny_bundle),
        "--json",
        str(out),
        "--repeats",
        "5",
        "--physics-repeats",
        "1",
        "--load-cores",
        "1",
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    assert "loaded (1 busy)" in done.stdout
    result = json.loads(out.read_text())
    assert result["settings"]["load_cores"] == 1
    for name in ("ours", "pytorch_mppi", "mujoco_rollout", "ours_loaded"):
        assert result[name]["p99_ms"] >= result[name]["p50_ms"] > 0
        assert result[name]["transitions_per_s"] > 0
    expected = result["ours"]["transitions_per_s"] / result["pytorch_mppi"]["transitions_per_s"]
    assert result["ratio_vs_pytorch_mppi"] == pytest.approx(expected)
    assert result["settings"]["samples"] == 32 and result["settings"]["horizon"] == 6
