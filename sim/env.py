"""``ArmEnv``: the default simulated arm as a control-period-stepped environment.

An action is a joint position delta per control period. It moves the commanded joint target, which the
position servos track; within a period the target is ramped linearly, as a trajectory controller would
interpolate, so the arm sees no step inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mujoco
import numpy as np

from sim.actuation import Actuation, ActuationModel, load_twin
from sim.randomization import RandomizationConfig, Randomizer
from sim.robots import RobotFolder
from sim.scene import SceneHandles, check_scene_matches, load_scene
from sim.tasks import Task, get_task
from wm_planner.config import RobotSpec
from wm_planner.data.layout import Layout
from wm_planner.observation import observation_layout

__all__ = ["ACTION_KIND", "ACTION_LAYOUT", "ArmEnv", "EnvOptions", "SimState", "action_layout"]


def action_layout(dof: int) -> Layout:
    """An arm's action: a joint position delta per control period."""
    return Layout.of(("joint_delta", dof, "rad"))


ACTION_LAYOUT = action_layout(7)
"""The shipped 7-joint arm's action."""
ACTION_KIND = "joint_position_delta"


@dataclass(frozen=True)
class EnvOptions:
    """Settings of :class:`ArmEnv` that are not part of the robot spec."""

    episode_steps: int = 150
    joint_margin: float = 0.05
    """Commanded targets stay this far (rad) inside the position limits."""
    init_joint_noise: float = 0.1
    """Half-width (rad) of the uniform noise added to the home pose at reset."""
    timestep: float | None = None
    """Physics timestep override (s); the scene's 2 ms when None."""
    randomization: RandomizationConfig | None = None
    """Scene parameters drawn afresh at every reset (see :mod:`sim.randomization`)."""
    calibration: str | None = None
    """A calibration profile (``wm-planner sysid``): its calibrated scene runs, and commands reach the
    servos through its latency, command filter and actuator net (its twin file, see
    :mod:`sim.actuation`)."""


@dataclass(frozen=True)
class SimState:
    """Everything that decides what the arm does next: the full physics state, the solver warm start,
    the controls and the commanded joint target."""

    physics: np.ndarray
    warmstart: np.ndarray
    ctrl: np.ndarray
    command: np.ndarray


_FULL_STATE = mujoco.mjtState.mjSTATE_FULLPHYSICS


class ArmEnv:
    """A simulated arm (the shipped one, or one imported from its URDF) on a task.

    ``reset(seed) -> obs [O]``; ``step(action [J]) -> (obs, reward, terminated, truncated, info)`` in the
    gymnasium convention, with ``reward = -error`` and ``terminated`` on success. The observation layout is
    :func:`~wm_planner.observation.observation_layout` of the arm's joints, the action layout
    :func:`action_layout`.

    ``folder`` is the robot (default: the shipped arm): its twin, home pose and task regions; ``robot``
    overrides its spec (a dataset's, with its control period).
    """

    def __init__(
        self,
        task: str | Task = "reach",
        *,
        robot: RobotSpec | None = None,
        folder: RobotFolder | None = None,
        options: EnvOptions | None = None,
        model: mujoco.MjModel | None = None,
    ) -> None:
        self.folder = folder or RobotFolder.shipped()
        self.task = get_task(task, self.folder.workspace) if isinstance(task, str) else task
        self.robot = robot or self.folder.spec
        self.home = self.folder.home
        self.observation_layout = observation_layout(self.robot.dof)
        self.action_layout = action_layout(self.robot.dof)
        self.options = options or EnvOptions()
        self.model, self.actuation = self._scene(model)
        self._servo = self._servo_direct if self.actuation is None else self._servo_actuated
        self.data = mujoco.MjData(self.model)
        self.handles = SceneHandles.of(self.model, self.robot.joint_names)
        check_scene_matches(self.model, self.robot)
        substeps = self.robot.control_period / self.model.opt.timestep
        if abs(substeps - round(substeps)) > 1e-6 or round(substeps) < 1:
            raise ValueError(
                f"control_period {self.robot.control_period} s is not a whole number of physics steps "
                f"of {self.model.opt.timestep} s"
            )
        self.substeps = round(substeps)
        self.max_step = self.robot.max_step()
        margin = self.options.joint_margin
        self.target_low = self.robot.lower() + margin
        self.target_high = self.robot.upper() - margin
        self.goal = np.zeros(3)
        self.command = self.home.copy()
        self.steps = 0
        self._rng = np.random.default_rng()
        self.randomizer = (
            Randomizer(self.model, self.options.randomization, self.robot.joint_names)
            if self.options.randomization
            else None
        )
        self.randomized: dict[str, np.ndarray] = {}

    def _scene(self, model: mujoco.MjModel | None) -> tuple[mujoco.MjModel, Actuation | None]:
        """The scene (``model``, the calibration's or the robot's) and, with a calibration, its
        actuation."""
        options = self.options
        if options.calibration is None:
            return model or load_scene(self.folder.scene, timestep=options.timestep), None
        path, twin = load_twin(options.calibration)
        model = model or load_scene(path.parent / twin.scene, timestep=options.timestep)
        return model, Actuation(ActuationModel.of_twin(twin, path.parent, model.opt.timestep), self.robot.dof)

    @property
    def dt(self) -> float:
        return self.robot.control_period

    def reset(self, *, seed: int | None = None) -> np.ndarray:
        """Home pose plus noise, a cube on the table and a fresh goal; all drawn from ``seed``."""
        self._rng = np.random.default_rng(seed)
        if self.randomizer is not None:
            self.randomized = self.randomizer.apply(self._rng)
        h, d = self.handles, self.data
        mujoco.mj_resetData(self.model, d)
        noise = self._rng.uniform(-1.0, 1.0, size=self.robot.dof) * self.options.init_joint_noise
        q0 = np.clip(self.home + noise, self.target_low, self.target_high)
        d.qpos[h.arm_qpos] = q0
        cube_xy = self.task.cube_start(self._rng)
        yaw = self._rng.uniform(-np.pi, np.pi)
        d.qpos[h.cube_qpos : h.cube_qpos + 3] = [cube_xy[0], cube_xy[1], h.cube_half_size]
        d.qpos[h.cube_qpos + 3 : h.cube_qpos + 7] = [np.cos(yaw / 2), 0.0, 0.0, np.sin(yaw / 2)]
        self.command = q0.copy()
        d.ctrl[h.actuators] = q0
        if self.actuation is not None:
            self.actuation.reset(q0)
        self.goal = self.task.sample_goal(self._rng, cube_xy)
        self._show_goal()
        self.steps = 0
        mujoco.mj_forward(self.model, d)
        return self.observe()

    def _show_goal(self) -> None:
        h = self.handles
        site = h.reach_target_site if self.task.name == "reach" else h.push_target_site
        hidden = h.push_target_site if site == h.reach_target_site else h.reach_target_site
        self.model.site_pos[site] = self.goal if self.task.name == "reach" else [*self.goal[:2], 0.001]
        self.model.site_pos[hidden] = [0.0, 0.0, -5.0]

    def set_goal(self, goal: np.ndarray) -> None:
        """Replace the episode's goal ``[3]`` (world frame, m)."""
        self.goal = np.asarray(goal, dtype=np.float64).reshape(3)
        self._show_goal()

    def clip_action(self, action: np.ndarray) -> np.ndarray:
        """The delta that will actually be commanded: within velocity limits and the joint target box."""
        action = np.asarray(action, dtype=np.float64).reshape(self.robot.dof)
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action must be finite, got {action}")
        delta = np.clip(action, -self.max_step, self.max_step)
        return np.clip(self.command + delta, self.target_low, self.target_high) - self.command

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        delta = self.clip_action(action)
        start = self.command
        self.command = start + delta
        for k in range(1, self.substeps + 1):
            self._servo(start + delta * (k / self.substeps))
            mujoco.mj_step(self.model, self.data)
        # mj_step leaves derived quantities (site positions, Jacobians) one substep behind qpos.
        mujoco.mj_forward(self.model, self.data)
        self.steps += 1
        obs = self.observe()
        error = float(self.task.error(obs, self.goal))
        success = error <= self.task.success_radius
        truncated = self.steps >= self.options.episode_steps
        info = {"error": error, "success": success, "action": delta}
        return obs, -error, success, truncated, info

    def physics_step(self, target: np.ndarray) -> None:
        """One physics step with the position servos aimed at ``target [J]``, clipped into the joint
        target box (how a ROS driver runs the arm, setpoint by setpoint)."""
        target = np.asarray(target, dtype=np.float64).reshape(self.robot.dof)
        if not np.all(np.isfinite(target)):
            raise ValueError(f"joint target must be finite, got {target}")
        self.command = np.clip(target, self.target_low, self.target_high)
        self._servo(self.command)
        mujoco.mj_step(self.model, self.data)

    def _servo_direct(self, target: np.ndarray) -> None:
        self.data.ctrl[self.handles.actuators] = target

    def _servo_actuated(self, target: np.ndarray) -> None:
        """The servos' input and the actuator net's torque for ``target [J]``, through the calibration."""
        assert self.actuation is not None
        h, d = self.handles, self.data
        ctrl, torque = self.actuation.step(target, d.qpos[h.arm_qpos], d.qvel[h.arm_dof])
        d.ctrl[h.actuators] = ctrl
        d.qfrc_applied[h.arm_dof] = torque

    def get_state(self) -> SimState:
        physics = np.empty(mujoco.mj_stateSize(self.model, _FULL_STATE))
        mujoco.mj_getState(self.model, self.data, physics, _FULL_STATE)
        return SimState(physics, self.data.qacc_warmstart.copy(), self.data.ctrl.copy(), self.command.copy())

    def observe(self) -> np.ndarray:
        """The observation vector ``[O]`` in :attr:`observation_layout`."""
        h, d = self.handles, self.data
        cube = d.qpos[h.cube_qpos : h.cube_qpos + 7]
        return np.concatenate(
            [d.qpos[h.arm_qpos], d.qvel[h.arm_dof], d.site_xpos[h.ee_site], cube[:3], cube[3:]]
        )

    def error(self) -> float:
        return float(self.task.error(self.observe(), self.goal))

    def ee_jacobian(self) -> np.ndarray:
        """Tool-tip position Jacobian with respect to the arm joints, ``[3, J]``."""
        return self.ee_jacobians()[0]

    def ee_jacobians(self) -> tuple[np.ndarray, np.ndarray]:
        """Tool-tip position and rotation Jacobians with respect to the arm joints, ``[3, J]`` each."""
        jacp = np.zeros((3, self.model.nv))
        jacr = np.zeros((3, self.model.nv))
        mujoco.mj_jacSite(self.model, self.data, jacp, jacr, self.handles.ee_site)
        return jacp[:, self.handles.arm_dof], jacr[:, self.handles.arm_dof]

    def tool_axis(self) -> np.ndarray:
        """Unit direction ``[3]`` of the tool, from the flange to the tip (world frame)."""
        return self.data.site_xmat[self.handles.ee_site].reshape(3, 3)[:, 2].copy()
