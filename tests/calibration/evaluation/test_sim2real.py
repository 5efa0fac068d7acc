"""The sim-to-real report's metrics agree with the same quantities computed directly."""

import json
from pathlib import Path

import mujoco
import numpy as np
import pytest

from calibration.evaluation.sim2real import load_outcomes, mmrv, pearson_r
from calibration.fitting.excitation import ExcitationOptions, excitation_trajectory
from calibration.ground_truth.selftest import perturbed_truth
from calibration.ground_truth.synthetic import SensorNoise, simulate_run, write_run_bag
from calibration.logs.bags import read_joint_log
from calibration.logs.episodes import log_episode
from calibration.model.parameters import JOINT_PARAMETERS, read_parameters
from calibration.model.profile import CalibrationProfile, write_calibrated_scene
from sim.scene import HOME_QPOS, SCENE_PATH, SceneHandles, load_scene
from wm_planner.cli import main
from wm_planner.config import ConfigError, default_robot_spec
from wm_planner.observation import ObservationBuilder
from wm_planner.runtime import OnnxWorldModel

ROBOT = default_robot_spec()
LATENCY_STEPS = 6  # a whole number of physics steps, so a direct replay can delay the commands exactly


def test_mmrv_and_pearson_on_known_rankings():
    real, sim = [0.8, 0.5, 0.6], [0.9, 0.7, 0.6]
    # Only configs 2 and 3 are swapped by sim; the real gap between them is 0.1, counted for both.
    assert mmrv(real, sim) == pytest.approx(0.2 / 3)
    assert mmrv(real, real) == 0.0
    assert pearson_r(sim, real) == pytest.approx(np.corrcoef(sim, real)[0, 1])


@pytest.fixture(scope="module")
def arm_logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[Path], Path]:
    """Two short runs of a perturbed arm as bags, and a profile holding its true parameters."""
    out = tmp_path_factory.mktemp("sim2real")
    model = load_scene()
    nominal = read_parameters(model, SceneHandles.of(model, ROBOT.joint_names))
    truth, _ = perturbed_truth(nominal, seed=1, latency=LATENCY_STEPS * model.opt.timestep, joints=7, links=7)
    bags = []
    for k in range(2):
        trajectory = excitation_trajectory(ROBOT, HOME_QPOS, options=ExcitationOptions(duration=4.0), seed=k)
        run = simulate_run(model, ROBOT, truth, trajectory, HOME_QPOS, noise=SensorNoise(), seed=k)
        bags.append(write_run_bag(run, out / f"run_{k}", ROBOT.joint_names, command_topic="/cmd"))
    scene = write_calibrated_scene(SCENE_PATH, out / "profile.xml", ROBOT.joint_names, truth)
    values = {k: truth.joints[k].tolist() for k in JOINT_PARAMETERS}
    profile = CalibrationProfile(
        robot=ROBOT.name,
        joint_names=ROBOT.joint_names,
        source_scene=str(SCENE_PATH),
        scene=scene.name,
        logs=[str(b) for b in bags],
        parameters=values,
        latency=truth.latency,
        ci95_low=values,
        ci95_high=values,
        latency_ci95=(truth.latency, truth.latency),
    )
    return bags, profile.write(out / "profile.yaml")


def _direct_replay(scene: Path, log, delay: int) -> np.ndarray:
    """Step MuJoCo by hand from the log's first state, the servos ``delay`` steps behind the commands."""
    model = load_scene(scene)
    h = SceneHandles.of(model, ROBOT.joint_names)
    data = mujoco.MjData(model)
    data.qpos[h.arm_qpos], data.qvel[h.arm_dof] = log.position[0], log.velocity[0]
    q = [log.position[0]]
    for k in range(len(log.time) - 1):
        data.ctrl[h.actuators] = log.command[max(k - delay, 0)]
        mujoco.mj_step(model, data)
        q.append(data.qpos[h.arm_qpos].copy())
    return np.array(q)


def test_report_metrics_match_direct_computation(arm_logs, tiny_bundle: Path, tmp_path: Path):
    bags, profile = arm_logs
    outcomes = tmp_path / "outcomes.yaml"
    outcomes.write_text(
        "configs:\n  a: {real_success: 0.8, sim_success: 0.9}\n  b: {real_success: 0.5, sim_success: 0.7}\n"
        "  c: {real_success: 0.6, sim_eval: c_eval.json}\n"
    )
    (tmp_path / "c_eval.json").write_text('{"success_rate": 0.6, "episodes": 10}')
    out = tmp_path / "report"
    args = ["sim2real", "--real", *map(str, bags), "--profile", str(profile), "--out", str(out)]
    assert main([*args, "--model", str(tiny_bundle), "--outcomes", str(outcomes)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    page = (out / "report.html").read_text()
    # RMSE bars, every joint of each of the two logs, the model's k-step error, success agreement.
    assert page.count("data:image/png;base64") == 5
    assert "search bounds" in page and "kp[joint1]" in page and "command_filter (s)" in page

    logs = [read_joint_log(b, ROBOT.joint_names, dt=0.002) for b in bags]
    fk = ObservationBuilder()
    for name, scene, delay in (
        ("uncalibrated", SCENE_PATH, 0),
        ("calibrated", profile.with_suffix(".xml"), LATENCY_STEPS),
    ):
        sims = [_direct_replay(scene, log, delay) for log in logs]
        errors = np.concatenate([s - log.position for s, log in zip(sims, logs, strict=True)])
        np.testing.assert_allclose(
            metrics["tracking"][name]["rmse_rad"], np.sqrt(np.mean(errors**2, axis=0)), rtol=1e-6
        )
        tips = [
            np.linalg.norm(fk.tool_tip(a) - fk.tool_tip(b))
            for s, log in zip(sims, logs, strict=True)
            for a, b in zip(s, log.position, strict=True)
        ]
        assert metrics["tracking"][name]["ee_error_mean_m"] == pytest.approx(np.mean(tips), rel=1e-6)
    # The no-physics baseline: the commanded path, the profile's latency late.
    delayed = [
        np.stack(
            [np.interp(log.time - profile_latency(profile), log.time, log.command[:, j]) for j in range(7)], 1
        )
        for log in logs
    ]
    errors = np.concatenate([d - log.position for d, log in zip(delayed, logs, strict=True)])
    np.testing.assert_allclose(
        metrics["tracking"]["baseline"]["rmse_rad"], np.sqrt(np.mean(errors**2, 0)), rtol=1e-6
    )
    # The calibrated scene holds the true parameters: what is left is the sensor noise (2e-5 rad).
    assert max(metrics["tracking"]["calibrated"]["rmse_rad"]) < 4e-5
    assert metrics["tracking"]["improvement"] > 20

    model = OnnxWorldModel(tiny_bundle)
    observations, actions = log_episode(logs[0], model.meta.control_period, fk)
    z, offset = model.encode(observations[:1])
    _, features, _ = model.step(z, actions[:1])
    ee = model.meta.observation_layout.slice("ee_pos")
    one_step = np.linalg.norm((features + offset)[0, ee] - observations[1, ee])
    assert metrics["world_models"][0]["windows"] > 0
    assert 0 < metrics["world_models"][0]["k"]["1"]["ee_pos_m"]["median"] < 10 * one_step + 0.05

    assert metrics["success"]["pearson_r"] == pytest.approx(
        np.corrcoef([0.9, 0.7, 0.6], [0.8, 0.5, 0.6])[0, 1]
    )
    assert metrics["success"]["mmrv"] == pytest.approx(0.2 / 3)


def profile_latency(path: Path) -> float:
    from calibration.model.profile import load_profile

    return load_profile(path).latency


def test_outcomes_need_exactly_one_sim_rate(tmp_path: Path):
    path = tmp_path / "outcomes.yaml"
    path.write_text("configs:\n  a: {real_success: 0.8}\n  b: {real_success: 0.5, sim_success: 0.4}\n")
    with pytest.raises(ConfigError, match=r"configs\.a") as error:
        load_outcomes(path)
    assert str(path) in str(error.value)


def test_a_kept_actuator_net_corrects_the_calibrated_replay(arm_logs) -> None:
    from calibration.evaluation.replays import replay_logs
    from calibration.logs.sources import read_logs
    from calibration.model.profile import load_profile
    from sim.actuation import ActuatorNet

    bags, path = arm_logs
    profile = load_profile(path)
    logs = read_logs(bags[:1], ROBOT.joint_names, dt=load_scene().opt.timestep)
    replays = {}
    for name, bias in (("zero", 0.0), ("push", 1.0)):
        torque = np.zeros(7)
        torque[1] = 3.0
        net = ActuatorNet(
            (np.zeros((9, 4)), np.zeros((4, 1))),
            (np.zeros(4), np.full(1, bias)),
            np.ones(2),
            torque,
            torque + 1,
            (0,),
        )
        net.save(path.parent / f"{name}.npz")
        kept = profile.model_copy(update={"servo_model": "actuator_net", "actuator_net": f"{name}.npz"})
        replays[name] = replay_logs(logs, kept, path, ROBOT, threads=1)[0]
    plain = replay_logs(logs, profile, path, ROBOT, threads=1)[0]
    # A net that corrects nothing replays as the servo alone; a constant correction moves the arm.
    np.testing.assert_allclose(replays["zero"].calibrated, plain.calibrated, atol=1e-9)
    assert np.abs(replays["push"].calibrated[:, 1] - plain.calibrated[:, 1]).max() > 1e-4
