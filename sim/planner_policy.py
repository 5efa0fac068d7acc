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
from sim.robot_loop import SupervisedArm
from wm_planner.config import PlannerConfig, RuntimeConfig
from wm_planner.control import build_supervisor, bundle_source

__all__ = ["PlannerPolicy"]


class PlannerPolicy:
    """Acts with the robot's control loop on an ONNX bundle, toward the episode's task goal, through the
    same :class:`~sim.robot_loop.SupervisedArm` that evaluation drives (refused inputs are counted in
    ``arm.stats``, as there).

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
        supervisor = build_supervisor(
            source, env.robot, planner=planner, supervisor=env.folder.workspace.supervisor_config()
        )
        self.env = env
        self.arm = SupervisedArm(env, supervisor)
        self.noise_std = action_noise * env.max_step
        self._rng = np.random.default_rng(0)
        self._acted = False

    def start(self, rng: np.random.Generator, obs: np.ndarray) -> str:
        """Forget the previous episode and aim at the new goal from ``obs``; returns the behaviour's name."""
        self._rng = rng
        self.arm.begin(obs, seed=int(rng.integers(2**31)))
        self._acted = False
        return "planner"

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The action ``[J]`` for the state ``obs``: the loop's command step, with exploration noise."""
        if self._acted:  # start() gave the loop the episode's first state
            self.arm.observe(obs)
        self._acted = True
        _, target = self.arm.decide()
        return target - self.env.command + self.noise_std * self._rng.standard_normal(target.shape)
