"""Small goal-conditioned environments for the adapter's tests, registered on import (as a package such
as gymnasium_robotics registers its own): a point moved by velocity actions toward a goal drawn at every
reset, with a ``Dict`` observation, the goal in the reset ``info`` and success as ``info["reached"]``.

- ``WmTest/PointGoal-v0`` needs the keyword ``task`` and is seeded by ``reset(seed=)``; with
  ``terminate=True`` an episode ends when the goal is reached;
- ``WmTest/SeededPointGoal-v0`` takes its seed in the constructor and ignores ``reset(seed=)``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium
import numpy as np
from gymnasium import spaces

SPEED = 1.5
"""Distance per second at full action."""


class PointGoal(gymnasium.Env):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": [], "render_fps": 20}
    dt = 0.05

    def __init__(self, task: str, success_radius: float = 0.1, terminate: bool = False) -> None:
        if task not in {"reach"}:
            raise ValueError(f"unknown task {task!r}")
        self.success_radius = success_radius
        self.terminate = terminate
        box = spaces.Box(-1.0, 1.0, (2,), dtype=np.float64)
        self.observation_space = spaces.Dict({"achieved_goal": box, "desired_goal": box})
        self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.position = np.zeros(2)
        self.goal = np.zeros(2)

    def _obs(self) -> dict[str, np.ndarray]:
        return {"achieved_goal": self.position.copy(), "desired_goal": self.goal.copy()}

    def _draw(self, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        self.position = rng.uniform(-0.8, 0.8, 2)
        self.goal = rng.uniform(-0.8, 0.8, 2)
        return self._obs(), {"goal": self.goal.copy()}

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        return self._draw(self.np_random)

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        action = np.clip(action, -1.0, 1.0)
        self.position = np.clip(self.position + SPEED * self.dt * action, -1.0, 1.0)
        distance = float(np.linalg.norm(self.position - self.goal))
        reached = distance < self.success_radius
        return self._obs(), -distance, self.terminate and reached, False, {"reached": reached}


class SeededPointGoal(PointGoal):
    """Seeded once, in the constructor; ``reset(seed=)`` is ignored, as some benchmarks do."""

    def __init__(self, seed: int, task: str = "reach", success_radius: float = 0.1) -> None:
        super().__init__(task, success_radius)
        self._rng = np.random.default_rng(seed)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        return self._draw(self._rng)


gymnasium.register("WmTest/PointGoal-v0", entry_point=PointGoal, max_episode_steps=40)
gymnasium.register("WmTest/SeededPointGoal-v0", entry_point=SeededPointGoal, max_episode_steps=40)
