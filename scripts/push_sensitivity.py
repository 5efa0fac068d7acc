"""The physics' own sensitivity: how far apart two pushes end after 16 steps when the cube starts a
fraction of a millimetre apart, with the same actions (a floor for any model's 16-step error).

    python scripts/push_sensitivity.py [--episodes 40]
"""

from __future__ import annotations

import argparse

import mujoco
import numpy as np

from sim.env import ArmEnv, EnvOptions
from sim.explore import Explorer
from wm_planner.observation import OBSERVATION_LAYOUT

HORIZON, STEPS, STRIDE, MOVING_M = 16, 200, 5, 0.003
CUBE = OBSERVATION_LAYOUT.slice("cube_pos")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=40)
    parser.add_argument("--shifts-mm", type=float, nargs="+", default=[0.5, 1.0])
    args = parser.parse_args()
    env = ArmEnv("push", options=EnvOptions(episode_steps=STEPS))
    rng = np.random.default_rng(0)
    divergence: dict[float, list[float]] = {shift: [] for shift in args.shifts_mm}
    moving_windows = 0
    for episode in range(args.episodes):
        obs = env.reset(seed=1000 + episode)
        explorer = Explorer(env)
        explorer.start(np.random.default_rng(episode), obs)
        states, actions, observations = [], [], [obs]
        for _ in range(STEPS):
            states.append((env.get_state(), env.command.copy()))
            action = env.clip_action(explorer.act(obs))
            actions.append(action)
            obs, *_ = env.step(action)
            observations.append(obs)
        path = np.array(observations)[:, CUBE][:, :2]
        for start in range(0, STEPS - HORIZON, STRIDE):
            if np.linalg.norm(path[start + 1 : start + HORIZON + 1] - path[start], axis=-1).max() < MOVING_M:
                continue
            moving_windows += 1
            for shift in args.shifts_mm:
                state, command = states[start]
                mujoco.mj_setState(env.model, env.data, state.physics, mujoco.mjtState.mjSTATE_FULLPHYSICS)
                env.data.qacc_warmstart[:] = state.warmstart
                env.data.ctrl[:] = state.ctrl
                env.command = command.copy()
                angle = rng.uniform(-np.pi, np.pi)
                at = env.handles.cube_qpos
                env.data.qpos[at : at + 2] += 1e-3 * shift * np.array([np.cos(angle), np.sin(angle)])
                mujoco.mj_forward(env.model, env.data)
                for k in range(HORIZON):
                    end, *_ = env.step(actions[start + k])
                divergence[shift].append(float(np.linalg.norm(end[CUBE][:2] - path[start + HORIZON])))
    print(
        f"{moving_windows} windows of {HORIZON} steps where the cube moves, "
        f"{args.episodes} exploration episodes"
    )
    for shift, values in divergence.items():
        v = 1000 * np.array(values)
        print(
            f"cube moved {shift} mm at the start: "
            f"median {np.median(v):.2f} mm, p90 {np.percentile(v, 90):.2f} mm"
        )


if __name__ == "__main__":
    main()
