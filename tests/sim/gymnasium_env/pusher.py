"""A small goal-conditioned pushing task with real contact, registered on import as
``WmTest/Push-v0``: a spherical tool slides over a table by velocity actions and pushes a square puck (a
free MuJoCo body with friction) to a goal drawn at every reset, 10-20 cm away. ``WmTest/FarPush-v0``
starts the tool 30-45 cm from the puck and draws the goal 15-25 cm away; ``WmTest/RemotePush-v0`` starts
it 50-70 cm away, beyond where coloured-noise actions wander in an episode.

The observation is a ``Dict``: ``tool`` (its centre, 3), ``puck_pos`` (3), ``puck_quat`` (w x y z, 4) and
``goal`` (3). Success (``info["success"]``) is the puck's centre within 2 cm of the goal in the table plane.
The tool collides with the puck only, so it glides over the table.
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium
import mujoco
import numpy as np
from gymnasium import spaces

SPEED = 0.3
"""m/s of the tool at full action."""
HALF = 0.03
"""m: the puck's half side."""
TOOL_RADIUS = 0.02
SUCCESS_RADIUS = 0.02

SCENE = f"""
<mujoco>
  <option timestep="0.002"/>
  <worldbody>
    <geom name="table" type="plane" size="1 1 0.1" contype="1" conaffinity="1" friction="0.6 0.005 0.0001"/>
    <body name="tool" pos="0 0 {HALF}">
      <joint name="tool_x" type="slide" axis="1 0 0" damping="0"/>
      <joint name="tool_y" type="slide" axis="0 1 0" damping="0"/>
      <geom type="sphere" size="{TOOL_RADIUS}" mass="1" contype="2" conaffinity="0"/>
    </body>
    <body name="puck" pos="0 0 {HALF}">
      <freejoint/>
      <geom type="box" size="{HALF} {HALF} {HALF}" mass="0.2" contype="1" conaffinity="3"
            friction="0.6 0.005 0.0001"/>
    </body>
  </worldbody>
  <actuator>
    <velocity joint="tool_x" kv="60" ctrlrange="-{SPEED} {SPEED}"/>
    <velocity joint="tool_y" kv="60" ctrlrange="-{SPEED} {SPEED}"/>
  </actuator>
</mujoco>
"""


class Push(gymnasium.Env):
    metadata: ClassVar[dict[str, Any]] = {"render_modes": [], "render_fps": 20}
    dt = 0.05

    def __init__(
        self,
        start_distance: tuple[float, float] = (0.12, 0.2),
        goal_distance: tuple[float, float] = (0.1, 0.2),
    ) -> None:
        self.start_distance, self.goal_distance = start_distance, goal_distance
        self.model = mujoco.MjModel.from_xml_string(SCENE)
        self.data = mujoco.MjData(self.model)
        self.substeps = round(self.dt / self.model.opt.timestep)
        box = spaces.Box(-np.inf, np.inf, dtype=np.float64, shape=(3,))
        self.observation_space = spaces.Dict(
            {
                "tool": box,
                "puck_pos": box,
                "puck_quat": spaces.Box(-1.0, 1.0, (4,), dtype=np.float64),
                "goal": box,
            }
        )
        self.action_space = spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        self.goal = np.zeros(3)

    def _obs(self) -> dict[str, np.ndarray]:
        return {
            "tool": self.data.xpos[1].copy(),
            "puck_pos": self.data.qpos[2:5].copy(),
            "puck_quat": self.data.qpos[5:9].copy(),
            "goal": self.goal.copy(),
        }

    def _error(self) -> float:
        return float(np.linalg.norm(self.data.qpos[2:4] - self.goal[:2]))

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        super().reset(seed=seed)
        rng = self.np_random
        mujoco.mj_resetData(self.model, self.data)
        puck = rng.uniform(-0.1, 0.1, 2)
        # The tool starts away from the puck, on any side, and the goal lies a long push away: random
        # actions seldom touch the puck, and never push it there.
        side, heading = rng.uniform(-np.pi, np.pi, 2)
        tool = puck + rng.uniform(*self.start_distance) * np.array([np.cos(side), np.sin(side)])
        goal = puck + rng.uniform(*self.goal_distance) * np.array([np.cos(heading), np.sin(heading)])
        self.goal = np.array([*goal, HALF])
        self.data.qpos[0:2] = tool
        self.data.qpos[2:5] = [*puck, HALF]
        turn = rng.uniform(-np.pi, np.pi) / 2
        self.data.qpos[5:9] = [np.cos(turn), 0.0, 0.0, np.sin(turn)]
        mujoco.mj_forward(self.model, self.data)
        return self._obs(), {}

    def step(self, action: np.ndarray) -> tuple[dict, float, bool, bool, dict]:
        self.data.ctrl[:] = SPEED * np.clip(action, -1.0, 1.0)
        mujoco.mj_step(self.model, self.data, nstep=self.substeps)
        error = self._error()
        return self._obs(), -error, False, False, {"success": error < SUCCESS_RADIUS}


gymnasium.register("WmTest/Push-v0", entry_point=Push, max_episode_steps=80)
gymnasium.register(
    "WmTest/FarPush-v0",
    entry_point=Push,
    max_episode_steps=100,
    kwargs={"start_distance": (0.3, 0.45), "goal_distance": (0.15, 0.25)},
)
"""The tool starts 30-45 cm from the puck, which random actions seldom reach in 5 s."""
gymnasium.register(
    "WmTest/RemotePush-v0",
    entry_point=Push,
    max_episode_steps=100,
    kwargs={"start_distance": (0.5, 0.7), "goal_distance": (0.15, 0.25)},
)
"""The tool starts 50-70 cm from the puck: coloured-noise actions touched it in none of 400 episodes, so
random data alone can hardly teach a model what a push does."""
