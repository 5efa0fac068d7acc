"""The planner as a data-collection policy (``wm-planner collect --policy BUNDLE``).

A model trained on exploration alone is wrong exactly where the planner likes to go: it has rarely seen
the tool pass near the cube without pushing it, so it imagines the cube sliding to the target while the
tool sweeps past. Episodes driven by the planner itself record those states and their true outcome;
retraining on them (data aggregation, as in PETS and MBPO) removes the errors the planner exploits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sim.env import ArmEnv
from sim.tasks import OBSERVATION_LAYOUT
from wm_planner.config import PlannerConfig, RuntimeConfig
from wm_planner.planning import make_planner, task_cost

__all__ = ["PlannerPolicy"]


class PlannerPolicy:
    """Acts with the planner on an ONNX bundle, toward the episode's task goal.

    The same ``start``/``act`` interface as :class:`sim.explore.Explorer`. ``action_noise``: std of
    Gaussian noise added to each planned action, as a fraction of the per-step limit, so repeated
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
        from wm_planner.runtime import OnnxRollout, OnnxWorldModel

        model = OnnxWorldModel(
            bundle, robot=env.robot, observation_layout=OBSERVATION_LAYOUT, runtime=runtime
        )
        config = (planner or PlannerConfig()).model_copy(
            update={"samples": model.samples, "horizon": model.horizon}
        )
        self.env = env
        self.rollout = OnnxRollout(model, uncertainty_weight=config.uncertainty_weight)
        self.planner = make_planner(config, action_low=-env.max_step, action_high=env.max_step)
        self.noise_std = action_noise * env.max_step
        self._rng = np.random.default_rng(0)
        self._cost = task_cost(env.task.name, OBSERVATION_LAYOUT, env.goal, control_period=env.dt)

    def start(self, rng: np.random.Generator, obs: np.ndarray) -> str:
        """Forget the previous episode's plan and aim at the new goal; returns the behaviour's name."""
        self._rng = rng
        self.planner.reset(seed=int(rng.integers(2**31)))
        self._cost = task_cost(
            self.env.task.name, OBSERVATION_LAYOUT, self.env.goal, control_period=self.env.dt
        )
        return "planner"

    def act(self, obs: np.ndarray) -> np.ndarray:
        plan = self.planner.plan(self.rollout.bind(obs), self._cost)
        return plan.first + self.noise_std * self._rng.standard_normal(plan.first.shape)
