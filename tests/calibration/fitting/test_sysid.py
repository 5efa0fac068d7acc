"""System identification recovers a simulated arm's known parameters (the issue's self-test)."""

from pathlib import Path

import numpy as np
import pytest

from calibration.fitting.sysid import noise_scale
from calibration.model.inertial import link_bodies, link_masses
from calibration.model.parameters import JOINT_PARAMETERS, read_parameters
from calibration.model.profile import load_profile
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
def test_self_test_recovers_every_parameter_and_beats_the_delay_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture
):
    (tmp_path / "logs" / "run_0").mkdir(parents=True)
    (tmp_path / "logs" / "run_0" / "metadata.yaml").write_text("an earlier self-test's bag")
    # Bounds are the user's: kp may move by a factor of 2 either way here.
    assert main(["sysid", "--self-test", "--out", str(tmp_path), "--bound", "kp=0.5:2"]) == 0  # replaces it
    out = capsys.readouterr().out
    assert "sysid self-test PASS" in out
    scored = [line.split()[0] for line in out.splitlines() if "[" in line.split(" ")[0]]
    kinds = {name.split("[")[0] for name in scored}
    assert kinds == {"kp", "kv", "armature", "viscous", "coulomb", "scale"}
    assert sum(name.startswith("scale[") for name in scored) == 5  # links 1 and 2: not determined
    profile_path = tmp_path / "profile.yaml"
    profile = load_profile(profile_path)
    quality = profile.quality
    assert quality is not None and quality.fitted == ["run_0", "run_1"] and quality.held_out == ["run_2"]
    assert np.mean(quality.rmse_after) <= 0.5 * np.mean(quality.rmse_baseline)
    assert abs(profile.latency - 0.013) <= 0.002
    assert profile.command_kind == "velocity" and profile.inertial is not None
    assert set(profile.inertial.not_identified) == {"link1", "link2"}
    nominal = read_parameters(load_scene(), SceneHandles.of(load_scene(), default_robot_spec().joint_names))
    np.testing.assert_allclose(
        profile.bounds["kp[joint1]"], [0.5 * nominal.joints["kp"][0], 2 * nominal.joints["kp"][0]]
    )
    assert profile.bounds["latency"] == (0.0, 0.1)
    # The calibrated scene carries the fitted values, the identified masses and the viscous friction.
    robot = default_robot_spec()
    scene = load_scene(profile.scene_path(profile_path))
    handles = SceneHandles.of(scene, robot.joint_names)
    written = read_parameters(scene, handles)
    for name in JOINT_PARAMETERS:
        np.testing.assert_allclose(written.joints[name], profile.parameters[name], rtol=1e-9)
    np.testing.assert_allclose(scene.dof_damping[handles.arm_dof], profile.inertial.viscous, rtol=1e-9)
    np.testing.assert_allclose(
        link_masses(scene, link_bodies(scene, handles)), profile.inertial.mass_after, rtol=1e-6
    )
    # Beside them, a domain randomization over the confidence intervals that the sim accepts.
    randomization = load_randomization(tmp_path / "profile.randomization.yaml")
    assert len(randomization.randomization) == 2 * 7  # kp and kv: the torques fixed the rest
    Randomizer(scene, randomization, robot.joint_names).apply(np.random.default_rng(0))
    kp = read_parameters(scene, SceneHandles.of(scene, robot.joint_names)).joints["kp"]
    assert np.all(kp >= np.array(profile.ci95_low["kp"]) - 1e-9)
    assert np.all(kp <= np.array(profile.ci95_high["kp"]) + 1e-9)
    fitted_kp = np.array(profile.parameters["kp"])
    assert np.all(kp >= fitted_kp / 1.5 - 1e-9) and np.all(kp <= 1.5 * fitted_kp + 1e-9)
    # What the torques identified is listed as such, with the torque fit's own intervals.
    from_torques = {f"{p}[{j}]" for p in ("armature", "frictionloss") for j in robot.joint_names}
    assert set(profile.from_torques) == from_torques and not from_torques & set(profile.fixed)
    for name, key in (("armature", "armature"), ("frictionloss", "coulomb")):
        np.testing.assert_allclose(profile.ci95_low[name], profile.inertial.friction_ci95[key][0])
        assert np.all(np.array(profile.ci95_high[name]) > np.array(profile.parameters[name]))


def test_a_self_test_that_fails_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture):
    # The synthetic arm's 13 ms latency is outside a search box that ends at 5 ms.
    args = ["sysid", "--self-test", "--out", str(tmp_path), "--max-latency", "0.005", "--iterations", "3"]
    assert main(args) == 1
    assert "sysid self-test FAIL" in capsys.readouterr().out


def test_block_robust_intervals_hold_their_coverage_on_correlated_residuals():
    # A known answer: a line fitted through AR(1) noise (rho 0.95, as model error sampled at 1 kHz
    # behaves). Intervals that assume white residuals cover the true slope far less than 95% of the
    # time; the block-robust ones the fit reports come close.
    from types import SimpleNamespace

    from calibration.fitting.sysid import _confidence

    rng = np.random.default_rng(0)
    n, rho, truth = 2000, 0.95, np.array([1.0, -0.5])
    t = np.linspace(-1.0, 1.0, n)
    jac = np.stack([np.ones(n), t], axis=1)
    problem = SimpleNamespace(
        blocks=lambda count: np.arange(count) // 100, lower=np.full(2, -np.inf), upper=np.full(2, np.inf)
    )
    covered_robust = covered_white = 0
    for _ in range(200):
        noise = np.empty(n)
        noise[0] = rng.normal()
        for i in range(1, n):
            noise[i] = rho * noise[i - 1] + np.sqrt(1 - rho**2) * rng.normal()
        x, *_ = np.linalg.lstsq(jac, jac @ truth + noise, rcond=None)
        residuals = jac @ x - (jac @ truth + noise)
        low, high, _ = _confidence(problem, SimpleNamespace(jac=jac, fun=residuals, x=x))
        covered_robust += low[1] <= truth[1] <= high[1]
        s2 = residuals @ residuals / (n - 2)
        half = 1.96 * np.sqrt(s2 * np.linalg.inv(jac.T @ jac)[1, 1])
        covered_white += abs(x[1] - truth[1]) <= half
    assert covered_white < 0.5 * 200
    assert covered_robust >= 0.85 * 200
