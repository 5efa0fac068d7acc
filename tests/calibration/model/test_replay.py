"""Velocity replay: an arm already moving at the commanded speed meets a servo that pushes it neither way
(the integral of the setpoints starts where the arm is), and follows the command without drifting."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.logs.commands import reference_path
from calibration.logs.joint_log import JointLog
from calibration.model.parameters import read_parameters
from calibration.model.replay import Replayer, velocity_servo_control
from sim.scene import HOME_QPOS, SceneHandles, load_scene
from wm_planner.config import default_robot_spec


def _moving_log(dt: float, seconds: float, speed: float) -> JointLog:
    """Joint 1 turning at ``speed`` rad/s from home, commanded to keep that speed; the others still."""
    time = np.arange(round(seconds / dt) + 1) * dt
    command = np.zeros((time.size, HOME_QPOS.size))
    command[:, 0] = speed
    position = HOME_QPOS + time[:, None] * command
    robot = default_robot_spec()
    return JointLog("moving", robot.joint_names, time, command, position, command.copy(), "velocity")


@pytest.mark.parametrize("stiffer", [1.0, 8.0])
def test_an_arm_at_the_commanded_speed_gets_no_kick_and_does_not_drift(stiffer: float) -> None:
    model = load_scene()
    handles = SceneHandles.of(model, default_robot_spec().joint_names)
    parameters = read_parameters(model, handles).scaled({"kp": stiffer, "frictionloss": 0.0})
    log = _moving_log(model.opt.timestep, 0.5, speed=1.0)
    control = velocity_servo_control(log.time, log.command, log.position[0], parameters)
    kp, kv = parameters.joints["kp"], parameters.joints["kv"]
    force = kp * (control[0] - log.position[0]) - kv * log.velocity[0]
    assert np.abs(force).max() == pytest.approx(0.0, abs=1e-9)  # N m at step 0

    q, qd = Replayer(model, default_robot_spec(), threads=1).replay(log, [parameters])
    baseline = reference_path(log, 0.0)
    assert np.abs(baseline - log.position).max() == pytest.approx(0.0, abs=1e-12)
    assert qd[0, :, 0].max() < 1.0 + 1e-3  # no surge past the commanded speed (1.02 rad/s with the kick)
    # After 0.5 s the turning joint trails the command by what its viscous damping costs the servo,
    # and no more (1.8 mrad ahead with the kick); the others hold to a few hundredths of a mrad.
    lag = model.dof_damping[handles.arm_dof[0]] * 1.0 / kp[0]
    error = q[0, -1] - log.position[-1]
    assert error[0] == pytest.approx(-lag, abs=2e-5)
    assert np.abs(error[1:]).max() < 5e-5
