"""System identification recovers a simulated arm's known parameters (the issue's self-test)."""

from pathlib import Path

import numpy as np
import pytest

from calibration.parameters import JOINT_PARAMETERS, read_parameters
from calibration.profile import load_profile
from calibration.sysid import noise_scale
from sim.randomization import Randomizer, load_randomization
from sim.scene import SceneHandles, load_scene
from wm_planner.cli import main
from wm_planner.config import default_robot_spec


def test_noise_scale_recovers_white_noise_on_a_smooth_signal():
    rng = np.random.default_rng(0)
    t = np.linspace(0, 10, 5000)[:, None]
    signal = np.sin(t * np.array([[1.0, 2.0]])) + rng.normal(0, [[1e-3, 1e-4]], (5000, 2))
    np.testing.assert_allclose(noise_scale(signal, floor=1e-9), [1e-3, 1e-4], rtol=0.1)


@pytest.mark.slow
def test_self_test_recovers_every_parameter_and_the_latency(tmp_path: Path, capsys: pytest.CaptureFixture):
    (tmp_path / "logs" / "run_0").mkdir(parents=True)
    (tmp_path / "logs" / "run_0" / "metadata.yaml").write_text("an earlier self-test's bag")
    assert main(["sysid", "--self-test", "--out", str(tmp_path)]) == 0  # replaces it
    out = capsys.readouterr().out
    assert "sysid self-test PASS" in out
    table = [line for line in out.splitlines() if line.startswith(JOINT_PARAMETERS)]
    assert len(table) == 4 * 7 - 1  # joint 7's armature is fixed
    profile_path = tmp_path / "profile.yaml"
    profile = load_profile(profile_path)
    assert profile.quality is not None
    assert np.mean(profile.quality.rmse_before) >= 5 * np.mean(profile.quality.rmse_after)
    assert abs(profile.latency - 0.013) <= 0.002
    # The calibrated scene carries the fitted values.
    robot = default_robot_spec()
    scene = load_scene(profile.scene_path(profile_path))
    written = read_parameters(scene, SceneHandles.of(scene, robot.joint_names))
    for name in JOINT_PARAMETERS:
        np.testing.assert_allclose(written.joints[name], profile.parameters[name], rtol=1e-9)
    # Beside them, a domain randomization over the confidence intervals that the sim accepts.
    randomization = load_randomization(tmp_path / "profile.randomization.yaml")
    assert len(randomization.randomization) == 4 * 7 - 1
    Randomizer(scene, randomization, robot.joint_names).apply(np.random.default_rng(0))
    kp = read_parameters(scene, SceneHandles.of(scene, robot.joint_names)).joints["kp"]
    assert np.all(kp >= np.array(profile.ci95_low["kp"]) - 1e-9)
    assert np.all(kp <= np.array(profile.ci95_high["kp"]) + 1e-9)
