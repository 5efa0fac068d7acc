"""Exploration for data collection: smooth, limit-respecting joint motion that covers the workspace and
touches the cube.

Each episode draws one behaviour:
- ``wander``: the joint target follows coloured (1/f^beta) noise around the start pose;
- ``scripted``: differential-IK motion of the tool tip toward the task goal (reach) or an
  approach-then-push of the cube toward its target (push), perturbed by coloured noise of a random scale;
- ``sweep`` (push): the tip crosses the table along a line that passes the cube at a random side offset
  and a random height (from low on its side to over its top), so the data holds glancing pushes, drags
  across the top, near misses and clear passes: the cases where a world model must tell touching from
  not touching, and pushing from rubbing.
Pushing motions keep the tool nearly upright, so the cube is pushed with the tip as a planner would, not
with the rod of a tilted tool.
Every proposed delta is then limited in acceleration and braked before joint limits, so the recorded
commands are smooth and would be accepted by a real arm's controller.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.env import ArmEnv
from wm_planner.observation import CUBE_POS, EE_POS
from wm_planner.planning.noise import coloured_noise
from wm_planner.safety import stoppable_step

__all__ = ["ExplorationConfig", "Explorer"]

_EE, _CUBE = EE_POS, CUBE_POS


@dataclass(frozen=True)
class ExplorationConfig:
    wander_probability: float = 0.2
    noise_beta: float = 2.0
    wander_amplitude: float = 0.5
    """Std (rad) of the joint-target wander around the start pose."""
    max_noise_fraction: float = 0.15
    """Largest noise std in scripted episodes, as a fraction of the per-step velocity limit."""
    ee_speed: float = 0.4
    """Top tool-tip speed (m/s) of the scripted motions."""
    ik_damping: float = 0.05
    posture_gain: float = 0.05
    """Pull of the null-space motion toward the home pose, per step."""
    hover_height: float = 0.08
    """Height (m) of the tool tip above the table while moving behind the cube."""
    sweep_probability: float = 0.3
    """Share of push episodes that sweep past the cube instead of pushing it to its target."""
    sweep_offset: float = 0.08
    """Largest side offset (m) of a sweep's line from the cube's centre."""
    upright_gain: float = 0.5
    """Weight of keeping the tool upright against moving the tip, in pushing motions."""


class Explorer:
    """Proposes the next action for :class:`ArmEnv`; one instance per episode (see :meth:`start`)."""

    def __init__(self, env: ArmEnv, config: ExplorationConfig | None = None) -> None:
        self.env = env
        self.config = config or ExplorationConfig()
        robot = env.robot
        self.acc_step = np.asarray(robot.acceleration_limits) * robot.control_period**2
        self.max_step = env.max_step
        self.mode = "wander"
        self.dof = robot.dof
        self.joints = env.observation_layout.slice("joint_pos")
        self.previous = np.zeros(self.dof)

    def start(self, rng: np.random.Generator, obs: np.ndarray) -> str:
        """Choose this episode's behaviour and draw its noise; returns the behaviour's name."""
        cfg = self.config
        steps = self.env.options.episode_steps
        draw = rng.random()
        self.mode = "wander" if draw < cfg.wander_probability else "scripted"
        if self.mode == "scripted" and self.env.task.name == "push" and rng.random() < cfg.sweep_probability:
            self.mode = "sweep"
            self._plan_sweep(rng, obs)
        self.noise = coloured_noise(rng, cfg.noise_beta, (steps + 1, self.dof))
        self.noise_scale = rng.uniform(0.0, cfg.max_noise_fraction) * self.max_step
        self.wander_centre = obs[self.joints].copy()
        self.phase = "approach"
        self.previous = np.zeros(self.dof)
        self.t = 0
        return self.mode

    def act(self, obs: np.ndarray) -> np.ndarray:
        if self.mode == "wander":
            target = self.wander_centre + self.config.wander_amplitude * self.noise[self.t]
            proposal = target - self.env.command
        else:
            proposal = self._scripted(obs) + self.noise_scale * self.noise[self.t]
        self.t += 1
        action = self._limit(proposal)
        self.previous = action
        return action

    def _limit(self, proposal: np.ndarray) -> np.ndarray:
        """Acceleration-, velocity- and braking-limited version of a proposed delta."""
        a = self.acc_step
        delta = np.clip(proposal, self.previous - a, self.previous + a)
        delta = np.clip(delta, -self.max_step, self.max_step)
        room_up = np.maximum(self.env.target_high - self.env.command, 0.0)
        room_down = np.maximum(self.env.command - self.env.target_low, 0.0)
        return np.clip(delta, -stoppable_step(room_down, a), stoppable_step(room_up, a))

    def _scripted(self, obs: np.ndarray) -> np.ndarray:
        goal = self.env.goal
        if self.env.task.name == "reach":
            return self._move_tip(obs, goal)
        if self.mode == "sweep":
            return self._move_tip(obs, self._sweep_waypoint(obs), upright=True)
        return self._move_tip(obs, self._push_waypoint(obs, goal), upright=True)

    def _plan_sweep(self, rng: np.random.Generator, obs: np.ndarray) -> None:
        """A line across the cube's neighbourhood: start and end points at pushing height."""
        cube = obs[_CUBE]
        angle = rng.uniform(-np.pi, np.pi)
        along = np.array([np.cos(angle), np.sin(angle)])
        side = np.array([-along[1], along[0]]) * rng.uniform(-1.0, 1.0) * self.config.sweep_offset
        # From low on the side to over the top, where a tip drags the cube only by friction.
        height = self.env.handles.cube_half_size * rng.uniform(0.3, 2.6)
        self.sweep_points = [
            np.array([*(cube[:2] + side - 0.12 * along), height + self.config.hover_height]),
            np.array([*(cube[:2] + side - 0.12 * along), height]),
            np.array([*(cube[:2] + side + 0.15 * along), height]),
        ]
        self.sweep_leg = 0

    def _sweep_waypoint(self, obs: np.ndarray) -> np.ndarray:
        target = self.sweep_points[self.sweep_leg]
        if np.linalg.norm(obs[_EE] - target) < 0.015 and self.sweep_leg < len(self.sweep_points) - 1:
            self.sweep_leg += 1
        return self.sweep_points[self.sweep_leg]

    def _push_waypoint(self, obs: np.ndarray, goal: np.ndarray) -> np.ndarray:
        cfg = self.config
        cube, tip = obs[_CUBE], obs[_EE]
        half = self.env.handles.cube_half_size
        to_goal = goal[:2] - cube[:2]
        direction = to_goal / (np.linalg.norm(to_goal) + 1e-9)
        behind = cube[:2] - direction * (half + 0.035)
        contact_height = half * 0.6
        if self.phase == "approach":
            if np.linalg.norm(tip[:2] - behind) < 0.015:
                self.phase = "descend"
            return np.array([*behind, contact_height + cfg.hover_height])
        if self.phase == "descend":
            if tip[2] < contact_height + 0.01:
                self.phase = "push"
            return np.array([*behind, contact_height])
        if np.linalg.norm(tip[:2] - behind) > 0.06:
            # The cube slipped sideways off the tool: lift and approach it again.
            self.phase = "approach"
        push_to = cube[:2] - direction * (half + 0.01) + direction * min(0.03, np.linalg.norm(to_goal))
        return np.array([*push_to, contact_height])

    def _move_tip(self, obs: np.ndarray, target: np.ndarray, *, upright: bool = False) -> np.ndarray:
        """Joint delta moving the tool tip toward ``target`` (damped least squares + posture pull), and
        with ``upright`` turning the tool toward pointing straight down (its turn about the vertical is
        left free)."""
        cfg = self.config
        error = target - obs[_EE]
        reach = cfg.ee_speed * self.env.dt
        norm = np.linalg.norm(error)
        dx = error if norm <= reach else error * (reach / norm)
        jac, jac_rot = self.env.ee_jacobians()
        if upright:
            # The small rotation taking the tool axis to straight down, about horizontal axes only.
            tilt = np.cross(self.env.tool_axis(), [0.0, 0.0, -1.0])[:2]
            jac = np.vstack([jac, cfg.upright_gain * jac_rot[:2]])
            dx = np.concatenate([dx, cfg.upright_gain * np.clip(tilt, -0.05, 0.05)])
        jjt = jac @ jac.T + cfg.ik_damping**2 * np.eye(jac.shape[0])
        pinv = jac.T @ np.linalg.solve(jjt, np.eye(jac.shape[0]))
        null = np.eye(self.dof) - pinv @ jac
        return pinv @ dx + null @ (cfg.posture_gain * (self.env.home - self.env.command))
