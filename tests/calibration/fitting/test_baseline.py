"""A calibration judged against its delay baseline. On an arm that is exactly "the command, 14 ms late",
the MuJoCo servo cannot win: judged alone (``--servo-models mujoco_servo``), sysid says so first, loudly,
and with ``--fail-worse-than-baseline`` exits 3. With every class competing, the shaped delay, which
contains the pure delay, is kept and ties with the baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration.cli import BASELINE_LOST
from calibration.fitting.identify import identify
from calibration.fitting.sysid import FitOptions
from calibration.ground_truth.selftest import COMMAND_TOPIC
from calibration.ground_truth.synthetic import SyntheticRun, write_run_bag
from calibration.logs.commands import delayed, integrated
from calibration.logs.joint_log import CommandMessage, MeasuredStates
from calibration.model.profile import load_profile
from sim.scene import HOME_QPOS
from wm_planner.cli import main
from wm_planner.config import default_robot_spec
from wm_planner.progress import QUIET_ENV

DELAY = 0.014
DT = 0.002


def _pure_delay_bag(path: Path, seed: int, seconds: float = 3.0, noise: float = 0.0) -> Path:
    """Velocity commands (a few sines per joint, from rest) and an arm that follows them exactly,
    ``DELAY`` late: the truth is the delay baseline itself. Positions are measured with white ``noise``
    (rad)."""
    rng = np.random.default_rng(seed)
    time = np.arange(round(seconds / DT)) * DT
    joints = HOME_QPOS.size
    frequencies, phases = rng.uniform(0.3, 1.5, (3, joints)), rng.uniform(0, 2 * np.pi, (3, joints))
    ramp = np.clip(time / 0.5, 0.0, 1.0)[:, None]
    velocity = (
        ramp * 0.15 * np.sin(2 * np.pi * frequencies[:, None] * time[None, :, None] + phases[:, None]).sum(0)
    )
    late = delayed(time, velocity, DELAY)
    measured = integrated(late, HOME_QPOS, DT) + rng.normal(0.0, noise, late.shape)
    states = MeasuredStates(time, measured, late)
    commands = [CommandMessage(float(t), v[None]) for t, v in zip(time, velocity, strict=True)]
    run = SyntheticRun(states, commands, "velocity")
    return write_run_bag(run, path, default_robot_spec().joint_names, command_topic=COMMAND_TOPIC)


def test_a_twin_that_loses_to_the_delay_baseline_is_told_first_and_can_fail_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(QUIET_ENV, "0")  # restored after the test: --quiet sets it for child processes
    bags = [str(_pure_delay_bag(tmp_path / f"run{k}", seed=k)) for k in range(3)]
    args = ["sysid", "--log", *bags, "--held-out", "1", "--out", str(tmp_path / "profile.yaml")]
    args += ["--iterations", "8", "--servo-models", "mujoco_servo"]
    assert main(["--quiet", *args]) == 0  # warned, not refused, unless asked
    out, err = capsys.readouterr()
    ratio = float(out.split("calibrated (mujoco_servo) / delay baseline ")[1].split()[0])
    assert ratio > 1.0
    assert "WORSE than the delay baseline (the command 14.0 ms late)" in err
    assert main(["--quiet", *args, "--fail-worse-than-baseline"]) == BASELINE_LOST
    assert (tmp_path / "profile.yaml").exists()  # the profile is still written, to be read


def test_on_a_pure_delay_arm_the_calibrated_twin_is_the_baseline_within_five_percent(tmp_path: Path) -> None:
    # With sensor noise, so that both errors are the noise and their ratio means something.
    bags = [_pure_delay_bag(tmp_path / f"run{k}", seed=10 + k, noise=2e-5) for k in range(3)]
    result = identify(
        bags,
        tmp_path / "profile.yaml",
        default_robot_spec(),
        options=FitOptions(max_iterations=4),
        progress=False,
    )
    profile = load_profile(result.profile_path)
    quality = profile.quality
    assert quality is not None
    assert profile.servo_model == "shaped_delay_1"  # the simplest class that tracks best
    assert set(quality.by_model) == {"shaped_delay_1", "shaped_delay_2", "mujoco_servo", "actuator_net"}
    assert abs(quality.baseline_ratio - 1.0) <= 0.05
    assert quality.baseline_delay == pytest.approx(DELAY, abs=1e-4)
    shaped = profile.shaped_delays[0]
    assert shaped.latency == pytest.approx(DELAY, abs=2e-4)
    assert max(shaped.time_constants[0]) < 1e-3
