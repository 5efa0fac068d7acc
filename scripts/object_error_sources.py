"""Where a bundle's 16-step object error comes from, on windows where the object really moves.

    python scripts/object_error_sources.py BUNDLE PUSH_DATA [--run RUN] [--train]

Rolls out each window three ways: the model as the planner uses it (imagined arm), the same interaction
module moved by the true tool placement (forward kinematics of the recorded joints), and that with the
object's observed last motion as its starting velocity. Splits windows by whether the object was already
moving at the window's start. ``--run`` measures a training run's checkpoint instead of the bundle's
weights; ``--train`` uses training episodes instead of the held-out ones.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from wm_planner.data import EpisodeDataset
from wm_planner.data.episode import read_episode
from wm_planner.model.export import load_bundle_model
from wm_planner.model.interaction import heading_of
from wm_planner.model.train import load_checkpoint
from wm_planner.model_eval import held_out_episodes
from wm_planner.runtime import OnnxWorldModel

HORIZON, STRIDE, MOVING_M, MOVING_AT_START_M = 16, 5, 0.003, 0.001


def _velocity(before: np.ndarray, now: np.ndarray, cube: slice, quat: slice) -> torch.Tensor:
    """The object's last change ``[W, 3]`` (planar displacement, turn) between two observations."""
    shift = torch.from_numpy(now[:, cube][:, :2] - before[:, cube][:, :2])
    h0, h1 = heading_of(torch.from_numpy(before[:, quat])), heading_of(torch.from_numpy(now[:, quat]))
    turn = torch.atan2(h0[:, 0] * h1[:, 1] - h0[:, 1] * h1[:, 0], (h0 * h1).sum(-1))
    return torch.cat([shift, turn[:, None]], -1).float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("data")
    parser.add_argument("--run", help="measure this training run's checkpoint")
    parser.add_argument("--train", action="store_true", help="training episodes instead of held-out ones")
    args = parser.parse_args()
    onnx = OnnxWorldModel(args.bundle)
    paths, what = held_out_episodes(onnx, Path(args.data))
    if args.train:
        paths, _ = EpisodeDataset(args.data).split(
            val_fraction=onnx.meta.val_fraction, seed=onnx.meta.split_seed
        )
        what = "training episodes"
    model = load_checkpoint(args.run)[0] if args.run else load_bundle_model(args.bundle)
    layout = onnx.meta.observation_layout
    q, cube, quat = layout.slice("joint_pos"), layout.slice("cube_pos"), layout.slice("cube_quat")
    every, module = model.config.object_step, model.objects[0]
    rows = []
    for path in paths:
        episode = read_episode(path)
        obs, actions = episode.observations.astype(np.float32), episode.actions.astype(np.float32)
        starts = np.arange(every, len(actions) - HORIZON + 1, STRIDE)
        if not starts.size:
            continue
        true = obs[starts[:, None] + np.arange(HORIZON + 1)]
        with torch.no_grad():
            imagined, _ = model.imagine(
                torch.from_numpy(obs[starts]), torch.from_numpy(actions[starts[:, None] + np.arange(HORIZON)])
            )
            tool = model.tool_spheres(torch.from_numpy(true[:, ::every, q]))
            ends = []
            for velocity in (
                torch.zeros(len(starts), 3),
                _velocity(obs[starts - every], true[:, 0], cube, quat),
            ):
                position = torch.from_numpy(true[:, 0, cube])
                heading = heading_of(torch.from_numpy(true[:, 0, quat]))
                for j in range(HORIZON // every):
                    position, heading, velocity, _ = module.advance(
                        position, heading, velocity, tool[:, j], tool[:, j + 1] - tool[:, j]
                    )
                ends.append(position.numpy()[:, :2])
        final = true[:, HORIZON, cube][:, :2]
        moved = np.linalg.norm(true[:, 1:, cube][..., :2] - true[:, :1, cube][..., :2], axis=-1).max(1)
        at_start = np.linalg.norm(true[:, 0, cube][:, :2] - obs[starts - every][:, cube][:, :2], axis=-1)
        errors = [imagined.numpy()[:, HORIZON - 1, cube][:, :2], *ends]
        rows.append(np.stack([moved, at_start, *(np.linalg.norm(e - final, axis=-1) for e in errors)], 1))
    r = np.concatenate(rows)
    moving = r[:, 0] > MOVING_M
    print(f"{what}: {len(r)} windows of {HORIZON} steps, {moving.sum()} moving; median cube error (mm)")
    print(f"{'':34s}{'imagined':>10s}{'true tool':>11s}{'+ velocity':>12s}{'travel':>8s}")
    for name, mask in (
        ("moving", moving),
        ("moving, at rest at the start", moving & (r[:, 1] < MOVING_AT_START_M)),
        ("moving, moving at the start", moving & (r[:, 1] >= MOVING_AT_START_M)),
    ):
        med = 1000 * np.median(r[mask], axis=0)
        print(f"{name:28s} {mask.sum():5d}{med[2]:10.1f}{med[3]:11.1f}{med[4]:12.1f}{med[0]:8.1f}")


if __name__ == "__main__":
    main()
