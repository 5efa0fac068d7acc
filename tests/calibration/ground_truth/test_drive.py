"""The mismatched-truth self-test: an arm whose cascaded drive lies outside every servo model class
(command filter, velocity PI loop, link-side torque sensor). Its bar is the delay baseline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration.ground_truth.selftest import run_self_test


@pytest.mark.slow
def test_the_best_class_halves_the_delay_baseline_error_on_a_cascaded_drive(tmp_path: Path) -> None:
    result = run_self_test(tmp_path, truth="drive", duration=6.0, progress=False)
    profile = result.identification.profile
    quality = profile.quality
    assert quality is not None
    assert result.passed, result.summary()
    assert result.baseline_ratio <= 0.5
    assert set(quality.by_model) == {"shaped_delay_1", "shaped_delay_2", "mujoco_servo", "actuator_net"}
    assert profile.servo_model in result.summary() and profile.servo_model in result.table()
    kept = float(np.mean(quality.by_model[profile.servo_model]))
    assert kept == min(float(np.mean(v)) for v in quality.by_model.values())
    # A link-side sensor does not see the rotor: its inertia and friction are the tracking fit's, not
    # zeros from the torques, and the command filter is found beside the latency.
    assert profile.torque_sensor == "link" and not profile.from_torques
    assert "armature" not in " ".join(profile.fixed)
    assert profile.command_filter > 0.005
