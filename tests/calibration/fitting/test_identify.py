"""What a calibration reports about its own values: any value on a bound is flagged whatever fit set it,
torque-identified values are listed as such with their own intervals, and links are scale factors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calibration.fitting.excitation import ExcitationOptions, excitation_trajectory
from calibration.fitting.identify import identify
from calibration.fitting.sysid import FitOptions
from calibration.ground_truth.synthetic import SensorNoise, simulate_run, write_run_bag
from calibration.model.parameters import read_parameters
from sim.scene import HOME_QPOS, SceneHandles, load_scene
from wm_planner.config import default_robot_spec

ROBOT = default_robot_spec()


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Three 4 s runs with efforts of an arm whose kp is twice the scene's and whose last joint has no
    friction at all."""
    out = tmp_path_factory.mktemp("identify")
    model = load_scene()
    nominal = read_parameters(model, SceneHandles.of(model, ROBOT.joint_names))
    no_friction = np.ones(7)
    no_friction[-1] = 0.0
    truth = nominal.scaled({"kp": 2.0, "frictionloss": no_friction}, latency=0.01)
    paths = []
    for k in range(3):
        trajectory = excitation_trajectory(ROBOT, HOME_QPOS, options=ExcitationOptions(duration=4.0), seed=k)
        run = simulate_run(model, ROBOT, truth, trajectory, HOME_QPOS, noise=SensorNoise(), seed=k)
        paths.append(write_run_bag(run, out / f"run_{k}", ROBOT.joint_names, command_topic="/cmd"))
    return paths


@pytest.mark.slow
def test_values_on_a_bound_are_flagged_whatever_fit_set_them(
    bags: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # kp may not pass 1.2 times the scene's: the tracking fit ends on that bound where the logs say most.
    options = FitOptions(parameter_bounds=(("kp", 0.5, 1.2),), max_iterations=15)
    result = identify(bags, tmp_path / "profile.yaml", ROBOT, options=options, progress=False)
    profile = result.profile
    on_kp_bound = [name for name in profile.at_bound if name.startswith("kp[")]
    assert len(on_kp_bound) >= 3, profile.at_bound
    # The torques cannot tell the last joint's Coulomb friction from zero: it is on its bound.
    assert profile.inertial is not None and profile.inertial.friction_ci95["coulomb"][0][-1] == 0.0
    assert "frictionloss[joint7]" in profile.at_bound
    assert "frictionloss[joint1]" not in profile.at_bound
    err = capsys.readouterr().err
    assert f"warning: {on_kp_bound[0]} is at a bound" in err
    assert "warning: frictionloss[joint7] is at a bound" in err
    # Torque-identified values: listed as such, not as fixed, each with its own interval.
    assert "frictionloss[joint1]" in profile.from_torques
    assert not set(profile.from_torques) & set(profile.fixed)
    assert profile.ci95_high["armature"][0] > profile.parameters["armature"][0]
    # Links are scale factors on the scene's own links, with the masses they make.
    inertial = profile.inertial
    np.testing.assert_allclose(
        np.array(inertial.mass_after), np.array(inertial.mass_before) * np.array(inertial.scale), rtol=1e-9
    )
    low, high = inertial.scale_ci95
    assert all(lo <= s <= hi for lo, s, hi in zip(low, inertial.scale, high, strict=True))
