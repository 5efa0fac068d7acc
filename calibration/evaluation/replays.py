"""Logs replayed open loop in the uncalibrated and the calibrated scene, beside the delay baseline: what
the sim-to-real metrics and the report are computed from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from calibration.logs.commands import reference_path
from calibration.logs.joint_log import JointLog
from calibration.model.actuator_net import ACTUATOR_NET, replay_with_net
from calibration.model.inertial import predicted_torque
from calibration.model.parameters import read_parameters
from calibration.model.profile import CalibrationProfile
from calibration.model.replay import Replayer
from sim.actuation import ActuatorNet
from sim.scene import SceneHandles, load_scene
from wm_planner.config import RobotSpec

__all__ = ["ReplayedLog", "replay_logs"]


@dataclass(frozen=True)
class ReplayedLog:
    """One log and its open-loop replays: positions ``[T, J]`` in the uncalibrated and calibrated sim
    and of the no-physics baseline (the commanded path, delayed), velocities ``[T, J]`` of both replays,
    and where efforts are logged ``torque``: ``(time [R], measured [R, J], calibrated scene's [R, J])``."""

    log: JointLog
    uncalibrated: np.ndarray
    calibrated: np.ndarray
    baseline: np.ndarray
    velocity_uncalibrated: np.ndarray
    velocity_calibrated: np.ndarray
    torque: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _replayer(
    scene: Path, robot: RobotSpec, threads: int | None, *, latency: float = 0.0, command_filter: float = 0.0
):
    model = load_scene(scene)
    parameters = read_parameters(model, SceneHandles.of(model, robot.joint_names))
    return Replayer(model, robot, threads=threads), replace(
        parameters, latency=latency, command_filter=command_filter
    )


def replay_logs(
    logs: Sequence[JointLog],
    profile: CalibrationProfile,
    profile_path: str | Path,
    robot: RobotSpec,
    *,
    threads: int | None = None,
) -> list[ReplayedLog]:
    """Replay every log's commands in the profile's source scene (no latency) and in its calibrated
    scene (with the fitted latency and command filter, and the actuator net where it was kept); the
    baseline's delay is the profile's."""
    before, nominal = _replayer(Path(profile.source_scene), robot, threads)
    after, calibrated = _replayer(
        profile.scene_path(profile_path),
        robot,
        threads,
        latency=profile.latency,
        command_filter=profile.command_filter,
    )
    delay = profile.quality.baseline_delay if profile.quality is not None else profile.latency
    net_path = profile.actuator_net_path(profile_path)
    net = ActuatorNet.load(net_path) if profile.servo_model == ACTUATOR_NET and net_path else None

    def twin(log: JointLog) -> tuple[np.ndarray, np.ndarray]:
        """The calibrated replay ``[T, J]`` positions and velocities, with the net where it was kept."""
        if net is not None:
            return replay_with_net(after, log, calibrated, net)
        q, qd = after.replay(log, [calibrated])
        return q[0], qd[0]

    out = []
    for log in logs:
        q0, qd0 = before.replay(log, [nominal])
        q1, qd1 = twin(log)
        torque = None if log.effort is None else predicted_torque(after.model, after.handles, log)
        out.append(ReplayedLog(log, q0[0], q1, reference_path(log, delay), qd0[0], qd1, torque))
    return out
