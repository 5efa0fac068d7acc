"""A calibrated twin in episodes: commands reach the servos late and filtered exactly as replay delivers
logged commands, the actuator net's torque acts on the arm, and a profile without a twin file is named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from calibration.model.parameters import ArmParameters
from calibration.model.replay import arrived_setpoints
from sim import ArmEnv, EnvOptions
from sim.actuation import Actuation, ActuationModel, ActuatorNet, TwinFile, twin_file_path
from sim.oracle import MujocoOracle
from sim.robots import RobotFolder
from sim.scene import SCENE_PATH

JOINTS = 7


def _profile(tmp_path: Path, **twin: object) -> Path:
    """A calibration profile path whose twin file has ``twin``'s settings (the shipped scene unless
    ``scene`` is given)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    profile = tmp_path / "profile.yaml"
    fields = {"scene": str(SCENE_PATH), "latency": 0.0} | twin
    twin_file_path(profile).write_text(yaml.safe_dump(TwinFile(**fields).model_dump()))  # type: ignore[arg-type]
    return profile


def _constant_net(torque: np.ndarray) -> ActuatorNet:
    """A net whose correction is ``torque [J]`` whatever its inputs (zero weights, the bias alone)."""
    inputs = 2 + torque.size
    return ActuatorNet(
        weights=(np.zeros((inputs, 4)), np.zeros((4, 1))),
        biases=(np.zeros(4), np.ones(1)),
        input_scale=np.ones(2),
        torque_scale=np.ones(1) * torque,
        limit=np.abs(torque) + 1.0,
        lags=(0,),
    )


def test_commands_arrive_late_and_filtered_as_replay_delivers_them() -> None:
    dt, latency, tau = 0.002, 0.013, 0.02
    rng = np.random.default_rng(0)
    targets = np.cumsum(rng.normal(0, 0.01, (300, JOINTS)), axis=0)
    actuation = Actuation(ActuationModel(latency, tau, dt), JOINTS)
    actuation.reset(targets[0])
    arrived = np.array([actuation.step(t, t, np.zeros(JOINTS))[0] for t in targets])
    parameters = ArmParameters(
        {k: np.zeros(JOINTS) for k in ("armature", "frictionloss", "kp", "kv")}, latency, tau
    )
    expected = arrived_setpoints(np.arange(len(targets)) * dt, targets, parameters)
    np.testing.assert_allclose(arrived, expected, atol=1e-12)


@pytest.fixture(params=["shipped", "imported"])
def folder(request: pytest.FixtureRequest) -> RobotFolder:
    """The shipped arm, and the small arm imported from its URDF (4 joints, axes off z): nothing here
    may assume the shipped arm's joints, pose or scene."""
    if request.param == "shipped":
        return RobotFolder.shipped()
    return RobotFolder.load(request.getfixturevalue("small_arm"))


def _env(folder: RobotFolder, profile: Path | None = None) -> ArmEnv:
    options = EnvOptions(calibration=None if profile is None else str(profile))
    return ArmEnv("reach", folder=folder, options=options)


def test_a_twin_without_latency_or_net_is_the_scene_and_latency_delays_the_arm(
    folder: RobotFolder, tmp_path: Path
) -> None:
    plain = _env(folder)
    same = _env(folder, _profile(tmp_path, scene=str(folder.scene)))
    late = _env(folder, _profile(tmp_path / "late", scene=str(folder.scene), latency=0.04))
    action = np.full(plain.robot.dof, 0.02)
    moved = []
    for env in (plain, same, late):
        start = env.reset(seed=3)[: env.robot.dof]
        moved.append([np.abs(env.step(action)[0][: env.robot.dof] - start).max() for _ in range(3)])
    np.testing.assert_array_equal(moved[0], moved[1])
    # 40 ms late, two control periods of 20 ms: the arm has not moved after them, and has after three.
    assert moved[2][1] < 1e-4 < moved[2][2]
    assert moved[0][0] > 1e-3


def test_the_nets_torque_acts_on_the_arm(folder: RobotFolder, tmp_path: Path) -> None:
    # A constant correction on the second joint moves its rest point by torque / kp (its servo's
    # stiffness), and the others hardly at all.
    joints = folder.spec.dof
    torque = np.zeros(joints)
    torque[1] = 3.0
    profile = _profile(tmp_path, scene=str(folder.scene), actuator_net="net.npz")
    _constant_net(torque).save(tmp_path / "net.npz")
    env = _env(folder, profile)
    start = env.reset(seed=0)[:joints]
    for _ in range(100):
        obs = env.step(np.zeros(joints))[0]
    kp = env.model.actuator_gainprm[env.handles.actuators[1], 0]
    offset = obs[:joints] - start
    assert offset[1] == pytest.approx(torque[1] / kp, rel=0.05)
    assert np.abs(np.delete(offset, 1)).max() < 0.1 * abs(offset[1])


def test_a_profile_without_twin_file_is_named_and_the_oracle_refuses_a_twin(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"no twin file .*profile\.twin\.yaml"):
        ArmEnv("reach", options=EnvOptions(calibration=str(tmp_path / "profile.yaml")))
    env = ArmEnv("reach", options=EnvOptions(calibration=str(_profile(tmp_path))))
    with pytest.raises(ValueError, match=r"oracle .* cannot run the calibration"):
        MujocoOracle(env)
