"""True-physics rollouts with ``mujoco.rollout``: the oracle the learned model is measured against.

The oracle imagines candidates exactly as :class:`sim.ArmEnv` would execute them: the same clipping to
velocity limits and the joint-target box, the same ramp of the servo target over the physics substeps,
from the full physics state (including the solver warm start). Its features are observations in
:attr:`ArmEnv.observation_layout`, so the same task costs apply.
"""

from __future__ import annotations

import os

import mujoco
import numpy as np
from mujoco import rollout as mj_rollout

from sim.env import ArmEnv, SimState
from wm_planner.control import RolloutSource
from wm_planner.planning.planner import Imagined, RolloutFn

__all__ = ["MujocoOracle", "oracle_source"]

_STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS


class MujocoOracle:
    """``MujocoOracle(env).bind(env.get_state()) -> RolloutFn``, rolling out N candidates in parallel
    over ``threads`` MuJoCo threads (default: one per core)."""

    def __init__(self, env: ArmEnv, *, threads: int | None = None) -> None:
        if env.actuation is not None:
            raise ValueError(
                f"the oracle rolls the scene's servos out directly and cannot run the calibration "
                f"{env.options.calibration} (its latency, filter and actuator net): evaluate without it"
            )
        self.env = env
        self.model = env.model
        self.datas = [mujoco.MjData(self.model) for _ in range(threads or os.cpu_count() or 1)]
        self.substeps = env.substeps
        size = mujoco.mj_stateSize
        qpos_at = size(self.model, mujoco.mjtState.mjSTATE_TIME)
        qvel_at = qpos_at + self.model.nq
        h = env.handles
        self._arm_q = qpos_at + h.arm_qpos
        self._arm_qd = qvel_at + h.arm_dof
        self._cube = qpos_at + h.cube_qpos + np.arange(7)
        sensor = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SENSOR, "ee_pos")
        self._ee = self.model.sensor_adr[sensor] + np.arange(3)
        self._ramp = np.arange(1, self.substeps + 1) / self.substeps

    def commands(self, command: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Servo targets ``[N, H + 1, J]`` (the first is ``command``) that ``actions [N, H, J]`` give
        after the environment's clipping."""
        env = self.env
        targets = np.empty((actions.shape[0], actions.shape[1] + 1, actions.shape[2]))
        targets[:, 0] = command
        steps = np.clip(actions, -env.max_step, env.max_step)
        for t in range(actions.shape[1]):
            targets[:, t + 1] = np.clip(targets[:, t] + steps[:, t], env.target_low, env.target_high)
        return targets

    def bind(self, state: SimState) -> RolloutFn:
        """The rollout from ``state`` (see :meth:`sim.ArmEnv.get_state`): ``actions [N, H, J] -> Imagined``
        with observation features ``[N, H, O]``."""

        def rollout(actions: np.ndarray) -> Imagined:
            return Imagined(features=self.observe(state, np.asarray(actions, dtype=np.float64)))

        return rollout

    def observe(self, state: SimState, actions: np.ndarray) -> np.ndarray:
        n, horizon, _ = actions.shape
        s = self.substeps
        targets = self.commands(state.command, actions)
        delta = np.diff(targets, axis=1)
        ramp = targets[:, :-1, None, :] + delta[:, :, None, :] * self._ramp[None, None, :, None]
        control = np.empty((n, horizon * s + 1, self.model.nu))
        control[:] = state.ctrl
        control[:, :-1, self.env.handles.actuators] = ramp.reshape(n, horizon * s, -1)
        control[:, -1, self.env.handles.actuators] = targets[:, -1]
        # One extra substep: sensors are computed before each step's integration, so the tool-tip
        # position after the last period is recorded by the step that follows it.
        states, sensors = mj_rollout.rollout(
            self.model,
            self.datas,
            state.physics[None],
            control,
            control_spec=mujoco.mjtState.mjSTATE_CTRL,
            initial_warmstart=state.warmstart[None],
            persistent_pool=True,
        )
        ends = np.arange(1, horizon + 1) * s
        at_end = states[:, ends - 1]
        return np.concatenate(
            [
                at_end[..., self._arm_q],
                at_end[..., self._arm_qd],
                sensors[:, ends][..., self._ee],
                at_end[..., self._cube],
            ],
            axis=-1,
        )


def oracle_source(
    env: ArmEnv, *, samples: int | None = None, horizon: int | None = None, threads: int | None = None
) -> RolloutSource:
    """The true physics of ``env`` as a rollout source for the control loop: whatever observation the loop
    binds, candidates are rolled out from the environment's full state at that moment."""
    physics = MujocoOracle(env, threads=threads)
    return RolloutSource(
        name="oracle",
        bind=lambda obs: physics.bind(env.get_state()),
        feature_layout=env.observation_layout,
        providers=("mujoco.rollout",),
        samples=samples,
        horizon=horizon,
    )
