"""The actuator net learns what the fitted servo misses: on an arm whose drive adds a delayed velocity
feedback (outside every physical class here), the servo corrected by the net tracks held-out commands
far better than the servo alone, and the saved net replays the same."""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import mujoco
import numpy as np

from calibration.logs.joint_log import JointLog
from calibration.model import ActuatorNetOptions, fit_actuator_net, replay_with_net
from calibration.model.parameters import ArmParameters, apply_parameters, read_parameters
from calibration.model.replay import Replayer
from sim.actuation import ActuatorNet
from sim.scene import HOME_QPOS, SceneHandles, load_scene
from wm_planner.config import default_robot_spec

ROBOT = default_robot_spec()
HIDDEN_LAG = 10
"""Physics steps by which the drive's hidden velocity feedback lags."""


def _commands(seed: int, dt: float, seconds: float) -> tuple[np.ndarray, np.ndarray]:
    """A grid ``[T]`` and smooth velocity setpoints ``[T, J]``: a few sines per joint, seeded."""
    rng = np.random.default_rng(seed)
    time = np.arange(round(seconds / dt) + 1) * dt
    freq = rng.uniform(0.3, 1.5, (3, HOME_QPOS.size))
    phase = rng.uniform(0, 2 * np.pi, (3, HOME_QPOS.size))
    velocity = 0.15 * np.sin(2 * np.pi * freq[:, None] * time[None, :, None] + phase[:, None]).sum(0)
    return time, velocity * np.minimum(1.0, time / 0.2)[:, None]  # a soft start


def _truth_log(replayer: Replayer, seed: int, *, gain: float) -> JointLog:
    """The scene's servo plus a hidden torque ``-gain kv qd(t - lag)`` following velocity commands,
    measured with noise."""
    model = copy.copy(replayer.model)
    h = replayer.handles
    parameters = read_parameters(model, h)
    apply_parameters(model, h, parameters)
    time, command = _commands(seed, model.opt.timestep, 3.0)
    log = JointLog(f"run{seed}", ROBOT.joint_names, time, command, np.tile(HOME_QPOS, (time.size, 1)),
                   np.zeros_like(command), "velocity")  # fmt: skip
    control = replayer.servo_input(log, parameters)
    data = mujoco.MjData(model)
    mujoco.mj_setState(model, data, replayer.initial_state(log), mujoco.mjtState.mjSTATE_FULLPHYSICS)
    q, qd = np.empty_like(command), np.empty_like(command)
    q[0], qd[0] = HOME_QPOS, 0.0
    kv = parameters.joints["kv"]
    for t in range(time.size - 1):
        data.qfrc_applied[h.arm_dof] = -gain * kv * qd[max(t - HIDDEN_LAG, 0)]
        data.ctrl[h.actuators] = control[t]
        mujoco.mj_step(model, data)
        q[t + 1], qd[t + 1] = data.qpos[h.arm_qpos], data.qvel[h.arm_dof]
    rng = np.random.default_rng(100 + seed)
    return replace(log, position=q + rng.normal(0, 2e-5, q.shape), velocity=qd + rng.normal(0, 2e-3, q.shape))


def _rmse(q: np.ndarray, log: JointLog) -> float:
    return float(np.sqrt(np.mean((q - log.position) ** 2)))


def _fitted(gain: float) -> tuple[Replayer, ArmParameters, JointLog, ActuatorNet, np.ndarray]:
    """The scene's replayer and servo, a held-out run of the arm with the hidden feedback's ``gain``, the
    net fitted on two other runs, and the servo's own replay of the held-out run ``[T, J]``."""
    model = load_scene()
    replayer = Replayer(model, ROBOT, threads=1)
    parameters = read_parameters(model, SceneHandles.of(model, ROBOT.joint_names))
    train = [_truth_log(replayer, seed, gain=gain) for seed in (1, 2)]
    held_out = _truth_log(replayer, 3, gain=gain)
    net = fit_actuator_net(replayer, train, parameters, options=ActuatorNetOptions(steps=800))
    return replayer, parameters, held_out, net, replayer.replay(held_out, [parameters])[0][0]


def test_the_net_corrects_a_drive_outside_the_servo_class_and_saves_exactly(tmp_path: Path) -> None:
    replayer, parameters, held_out, net, servo_only = _fitted(gain=0.3)
    corrected, _ = replay_with_net(replayer, held_out, parameters, net)
    assert _rmse(corrected, held_out) < 0.2 * _rmse(servo_only, held_out)

    again, _ = replay_with_net(
        replayer, held_out, parameters, ActuatorNet.load(net.save(tmp_path / "net.npz"))
    )
    np.testing.assert_array_equal(again, corrected)


def test_on_an_arm_inside_the_servo_class_the_correction_stays_small() -> None:
    # Nothing to learn but noise (2e-5 rad on positions): the net's correction must not drive the replay
    # away from the servo's, which sits at that floor. The class selection then keeps the servo.
    replayer, parameters, held_out, net, servo_only = _fitted(gain=0.0)
    corrected, _ = replay_with_net(replayer, held_out, parameters, net)
    assert _rmse(servo_only, held_out) < 4e-5
    assert _rmse(corrected, held_out) < 1e-4
