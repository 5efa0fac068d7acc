"""A calibration judged against its delay baseline: on an arm that is exactly "the command, 14 ms late",
no servo twin can win, and sysid says so first, loudly, and with ``--fail-worse-than-baseline`` exits 3."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration.cli import BASELINE_LOST
from calibration.ground_truth.selftest import COMMAND_TOPIC
from calibration.ground_truth.synthetic import SyntheticRun, write_run_bag
from calibration.logs.commands import delayed, integrated
from calibration.logs.joint_log import CommandMessage, MeasuredStates
from sim.scene import HOME_QPOS
from wm_planner.cli import main
from wm_planner.config import default_robot_spec
from wm_planner.progress import QUIET_ENV

DELAY = 0.014
DT = 0.002


def _pure_delay_bag(path: Path, seed: int, seconds: float = 3.0) -> Path:
    """Velocity commands (a few sines per joint, from rest) and an arm that follows them exactly,
    ``DELAY`` late: the truth is the delay baseline itself."""
    rng = np.random.default_rng(seed)
    time = np.arange(round(seconds / DT)) * DT
    joints = HOME_QPOS.size
    frequencies, phases = rng.uniform(0.3, 1.5, (3, joints)), rng.uniform(0, 2 * np.pi, (3, joints))
    ramp = np.clip(time / 0.5, 0.0, 1.0)[:, None]
    velocity = (
        ramp * 0.15 * np.sin(2 * np.pi * frequencies[:, None] * time[None, :, None] + phases[:, None]).sum(0)
    )
    late = delayed(time, velocity, DELAY)
    states = MeasuredStates(time, integrated(late, HOME_QPOS, DT), late)
    commands = [CommandMessage(float(t), v[None]) for t, v in zip(time, velocity, strict=True)]
    run = SyntheticRun(states, commands, "velocity")
    return write_run_bag(run, path, default_robot_spec().joint_names, command_topic=COMMAND_TOPIC)


def test_a_twin_that_loses_to_the_delay_baseline_is_told_first_and_can_fail_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(QUIET_ENV, "0")  # restored after the test: --quiet sets it for child processes
    bags = [str(_pure_delay_bag(tmp_path / f"run{k}", seed=k)) for k in range(3)]
    args = ["sysid", "--log", *bags, "--held-out", "1", "--out", str(tmp_path / "profile.yaml")]
    assert main(["--quiet", *args]) == 0  # warned, not refused, unless asked
    out, err = capsys.readouterr()
    ratio = float(out.split("calibrated / delay baseline ")[1].split()[0])
    assert ratio > 1.0
    assert "WORSE than the delay baseline (the command 14 ms late)" in err
    assert main(["--quiet", *args, "--fail-worse-than-baseline"]) == BASELINE_LOST
    assert (tmp_path / "profile.yaml").exists()  # the profile is still written, to be read
