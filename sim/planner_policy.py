"""The planner as a data-collection policy (``wm-planner collect --policy BUNDLE``).

A model trained on exploration alone is wrong exactly where the planner likes to go: it has rarely seen
the tool pass near the cube without pushing it, so it imagines the cube sliding to the target while the
tool sweeps past. Episodes driven by the planner itself record those states and their true outcome;
retraining on them (data aggregation, as in PETS and MBPO) removes the errors the planner exploits.
The planner acts through the control loop the robot runs (command filter, fallback, holds), so the data
holds the motions the robot would make.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.env import ArmEnv
from wm_planner.config import PlannerConfig, RuntimeConfig
from wm_planner.control import Goal, build_supervisor, bundle_source
from wm_planner.observation import CUBE_POSE

__all__ = ["PlannerPolicy"]


class PlannerPolicy:
    """Acts with the robot's control loop on an ONNX bundle, toward the episode's task goal.

    The same ``start``/``act`` interface as :class:`sim.explore.Explorer`. ``action_noise``: std of
    Gaussian noise added to each command's step, as a fraction of the per-step limit, so repeated
    episodes do not all follow one path.
    """

    def __init__(
        self,
        env: ArmEnv,
        bundle: str | Path,
        *,
        planner: PlannerConfig | None = None,
        runtime: RuntimeConfig | None = None,
        action_noise: float = 0.05,
    ) -> None:
        source = bundle_source(bundle, robot=env.robot, runtime=runtime, planner=planner)
        self.env = env
        self.joints = env.observation_layout.slice("joint_pos"), env.observation_layout.slice("joint_vel")
        self.supervisor = build_supervisor(
            source, env.robot, planner=planner, supervisor=env.folder.workspace.supervisor_config()
        )
        self.noise_std = action_noise * env.max_step
        self._rng = np.random.default_rng(0)
        self._t = 1.0

    def start(self, rng: np.random.Generator, obs: np.ndarray) -> str:
        """Forget the previous episode and aim at the new goal; returns the behaviour's name."""
        self._rng = rng
        self.supervisor.restart(seed=int(rng.integers(2**31)))
        self._t = 1.0
        self.supervisor.activate()
        self.supervisor.set_goal(Goal(self.env.task.goal_kind, self.env.goal))
        return "planner"

    def act(self, obs: np.ndarray) -> np.ndarray:
        q, qd = (obs[s] for s in self.joints)
        self.supervisor.joint_state(q, qd, self._t, now=self._t, clock=self._t)
        self.supervisor.object_pose(obs[CUBE_POSE])
        decision = self.supervisor.tick(self._t)
        self._t += self.env.dt
        target = self.env.command if decision.step is None else decision.step.command.position
        return target - self.env.command + self.noise_std * self._rng.standard_normal(target.shape)
