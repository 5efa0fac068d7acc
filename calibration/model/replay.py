"""Open-loop replay of logged commands in MuJoCo, many parameter sets at once.

The logged setpoints, delayed by each parameter set's latency and passed through its command filter,
drive the arm's servos from the logged start state; ``mujoco.rollout`` runs one model per parameter set
over a thread pool. This is the simulator side of both system identification (residuals and their
Jacobian) and the sim-to-real report.

Position setpoints go to the scene's position servos as they are. Velocity setpoints go to a PI velocity
servo, ``kv (v* - q̇) + kp (∫v* - q)``, which is the scene's position servo ``kp (u - q) - kv q̇`` driven
by ``u = ∫v* + (kv / kp) v*``: the same actuator and the same fitted gains, so velocity-commanded arms are
identified like position-commanded ones.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence

import mujoco
import numpy as np
from mujoco import rollout as mj_rollout

from calibration.logs.commands import delayed, integrated
from calibration.logs.joint_log import JointLog
from calibration.model.parameters import ArmParameters, apply_parameters
from calibration.model.shaped import low_pass
from sim.scene import SceneHandles
from wm_planner.config import RobotSpec

__all__ = ["Replayer", "arrived_setpoints", "velocity_servo_control"]

_STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS


def arrived_setpoints(time: np.ndarray, setpoints: np.ndarray, parameters: ArmParameters) -> np.ndarray:
    """``setpoints [T, J]`` on the grid ``time [T]`` as the servos receive them: ``parameters.latency``
    late, through the first-order ``parameters.command_filter``."""
    late = delayed(time, setpoints, parameters.latency)
    if parameters.command_filter <= 0.0:
        return late
    return low_pass(late, np.full(late.shape[1], parameters.command_filter), float(time[1] - time[0]))


def velocity_servo_control(
    time: np.ndarray, setpoints: np.ndarray, start: np.ndarray, parameters: ArmParameters
) -> np.ndarray:
    """The position-servo input ``[T, J]`` of a PI velocity servo following velocity ``setpoints [T, J]``
    (rad/s on the uniform grid ``time [T]``) from ``start [J]``, as they arrive (:func:`arrived_setpoints`;
    see the module docstring)."""
    v = arrived_setpoints(time, setpoints, parameters)
    # The integral at step t holds the setpoints before it, as the arm's position does: an arm already
    # moving at the setpoint meets a servo that pushes it neither way.
    integral = integrated(v, start, float(time[1] - time[0]))
    return integral + v * (parameters.joints["kv"] / np.maximum(parameters.joints["kp"], 1e-12))


class Replayer:
    """Replays :class:`JointLog` commands on ``model`` (left unchanged) with given arm parameters."""

    def __init__(self, model: mujoco.MjModel, robot: RobotSpec, *, threads: int | None = None) -> None:
        self.model = model
        self.handles = SceneHandles.of(model, robot.joint_names)
        self.threads = threads or os.cpu_count() or 1
        self._datas = [mujoco.MjData(model) for _ in range(self.threads)]
        self._models: list[mujoco.MjModel] = []
        qpos_at = mujoco.mj_stateSize(model, mujoco.mjtState.mjSTATE_TIME)
        self._q = qpos_at + self.handles.arm_qpos
        self._qd = qpos_at + model.nq + self.handles.arm_dof

    def _models_for(self, parameters: Sequence[ArmParameters]) -> list[mujoco.MjModel]:
        while len(self._models) < len(parameters):
            self._models.append(copy.copy(self.model))
        models = self._models[: len(parameters)]
        for model, p in zip(models, parameters, strict=True):
            apply_parameters(model, self.handles, p)
        return models

    @staticmethod
    def servo_input(log: JointLog, parameters: ArmParameters) -> np.ndarray:
        """The servos' input ``[T, J]`` along ``log``'s commands as ``parameters`` deliver them."""
        if log.command_kind == "velocity":
            return velocity_servo_control(log.time, log.command, log.position[0], parameters)
        return arrived_setpoints(log.time, log.command, parameters)

    def initial_state(self, log: JointLog) -> np.ndarray:
        """The full physics state ``[S]`` at the log's start: the arm at its first measured position and
        velocity, everything else as the scene starts."""
        data = mujoco.MjData(self.model)
        data.qpos[self.handles.arm_qpos] = log.position[0]
        data.qvel[self.handles.arm_dof] = log.velocity[0]
        data.ctrl[self.handles.actuators] = (
            log.position[0] if log.command_kind == "velocity" else log.command[0]
        )
        mujoco.mj_forward(self.model, data)
        state = np.empty(mujoco.mj_stateSize(self.model, _STATE))
        mujoco.mj_getState(self.model, data, state, _STATE)
        return state

    def replay(self, log: JointLog, parameters: Sequence[ArmParameters]) -> tuple[np.ndarray, np.ndarray]:
        """Simulated joint positions and velocities ``[B, T, J]`` on the log's grid, one row per entry
        of ``parameters`` (B of them); row ``t = 0`` is the logged start state."""
        if abs(log.dt - self.model.opt.timestep) > 1e-9:
            raise ValueError(
                f"log {log.name!r} is on a {log.dt} s grid but the scene steps {self.model.opt.timestep} s"
            )
        models = self._models_for(parameters)
        control = np.zeros((len(parameters), len(log.time) - 1, self.model.nu))
        for b, p in enumerate(parameters):
            control[b][:, self.handles.actuators] = self.servo_input(log, p)[:-1]
        initial = self.initial_state(log)
        states, _ = mj_rollout.rollout(
            models,
            self._datas,
            np.repeat(initial[None], len(parameters), axis=0),
            control,
            control_spec=mujoco.mjtState.mjSTATE_CTRL,
            persistent_pool=True,
        )
        q = np.concatenate([np.repeat(log.position[None, :1], len(parameters), 0), states[..., self._q]], 1)
        qd = np.concatenate([np.repeat(log.velocity[None, :1], len(parameters), 0), states[..., self._qd]], 1)
        return q, qd
