"""Training windows: fixed-length slices of episodes, sampled uniformly or balanced by contact, and
reproducibly; optionally with a set share of every batch from a focus (the planner's own experience)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wm_planner.config import Kinematics, ObjectSpec, ToolSpec
from wm_planner.data import DatasetManifest, EpisodeDataset, Layout
from wm_planner.data.hygiene import cut_unsound as cut_unsound_steps
from wm_planner.kinematics import ForwardKinematics

__all__ = [
    "CONTACT_CLASSES",
    "EpisodeArrays",
    "ToolSpheres",
    "contact_classes",
    "load_split",
]

CONTACT_CLASSES = ("moving", "near_miss", "free")
MOVING_DISTANCE = 0.003
"""m: an object that moves more than this within a window is moving (the contact metrics' threshold)."""
NEAR_DISTANCE = 0.03
"""m: a still object whose clearance to the tool falls below this within a window is a near miss."""


@dataclass(frozen=True)
class EpisodeArrays:
    """Episodes concatenated for fast window gathering.

    observations: [sum(T_i + 1), O]; actions: [sum(T_i + 1), A] (each episode's last row is padding, never
    inside a window); starts: [W] row index of every window start, for windows of ``horizon`` actions;
    weights: [W] each window's chance of being drawn (summing to 1), or None for uniform draws.
    """

    observations: np.ndarray
    actions: np.ndarray
    starts: np.ndarray
    horizon: int
    episodes: int
    weights: np.ndarray | None = None

    @classmethod
    def build(
        cls, episodes: list, horizon: int, *, focus: list[bool] | None = None, focus_share: float = 0.0
    ) -> EpisodeArrays:
        """The windows of ``episodes``; with ``focus`` (one flag per episode) and a ``focus_share`` in
        (0, 1), the flagged episodes' windows make up that share of every draw, the rest the remainder."""
        obs, act, starts, flags, offset = [], [], [], [], 0
        for i, ep in enumerate(episodes):
            steps = ep.num_transitions
            obs.append(ep.observations)
            act.append(np.vstack([ep.actions, np.zeros((1, ep.actions.shape[1]), ep.actions.dtype)]))
            if steps >= horizon:
                starts.append(offset + np.arange(steps - horizon + 1))
                flags.append(np.full(steps - horizon + 1, bool(focus and focus[i])))
            offset += steps + 1
        if not starts:
            raise ValueError(f"no episode is long enough for windows of {horizon} steps")
        return cls(
            observations=np.concatenate(obs).astype(np.float32),
            actions=np.concatenate(act).astype(np.float32),
            starts=np.concatenate(starts),
            horizon=horizon,
            episodes=len(episodes),
            weights=_focus_weights(np.concatenate(flags), focus_share),
        )

    def gather(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Windows at ``starts: [B]``: observations ``[B, H+1, O]`` and actions ``[B, H, A]``."""
        offsets = starts[:, None] + np.arange(self.horizon + 1)
        return self.observations[offsets], self.actions[offsets[:, :-1]]

    def sample(self, rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
        return self.gather(self.starts[self._draw(rng, np.arange(self.starts.size), batch)])

    def sample_balanced(
        self, rng: np.random.Generator, batch: int, classes: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Windows drawn in equal shares from each non-empty class of ``classes [W]`` (one per window)."""
        groups = [np.flatnonzero(classes == c) for c in range(len(CONTACT_CLASSES))]
        groups = [g for g in groups if g.size]
        share = rng.integers(0, len(groups), size=batch)
        if self.weights is None:
            picks = np.array([groups[g][rng.integers(0, groups[g].size)] for g in share])
        else:
            picks = np.empty(batch, dtype=np.int64)
            for g, group in enumerate(groups):
                picks[share == g] = self._draw(rng, group, int(np.sum(share == g)))
        return self.gather(self.starts[picks])

    def _draw(self, rng: np.random.Generator, windows: np.ndarray, count: int) -> np.ndarray:
        """``count`` of ``windows [W']`` (indices), uniformly or by their weights."""
        if self.weights is None:
            return windows[rng.integers(0, windows.size, size=count)]
        cumulative = np.cumsum(self.weights[windows])
        picks = np.searchsorted(cumulative, rng.random(count) * cumulative[-1], side="right")
        return windows[np.minimum(picks, windows.size - 1)]


def _focus_weights(flags: np.ndarray, share: float) -> np.ndarray | None:
    """Window weights ``[W]`` that give the flagged windows ``share`` of the draws (None: uniform, also
    when either side has no windows)."""
    focused = int(flags.sum())
    if not 0.0 < share < 1.0 or focused in (0, flags.size):
        return None
    return np.where(flags, share / focused, (1.0 - share) / (flags.size - focused))


@dataclass(frozen=True)
class ToolSpheres:
    """The tool's spheres in observations, in numpy: by forward kinematics of an arm's joint positions, or
    at a declared tool point. ``__call__(observations [T, O]) -> centres [T, M, 3]``; ``radii [M]``."""

    kinematics: ForwardKinematics | None
    point: slice | None
    radii: np.ndarray
    joints: slice | None

    @classmethod
    def of(cls, kinematics: Kinematics | None, tool: ToolSpec | None, layout: Layout) -> ToolSpheres:
        if kinematics is not None:
            fk = ForwardKinematics(kinematics)
            return cls(fk, None, fk.radii, layout.slice("joint_pos"))
        if tool is None:
            raise ValueError("objects need the robot's kinematics or a declared tool point to place the tool")
        return cls(None, layout.slice(tool.block), np.array([tool.radius]), None)

    def __call__(self, observations: np.ndarray) -> np.ndarray:
        if self.kinematics is not None:
            assert self.joints is not None
            centres: np.ndarray = self.kinematics.tool_points(observations[:, self.joints])
            return centres
        assert self.point is not None
        return observations[:, None, self.point]


def contact_classes(
    data: EpisodeArrays, layout: Layout, objects: tuple[ObjectSpec, ...], tool: ToolSpheres
) -> np.ndarray:
    """Class of every window ``[W]``: 0 an object moves more than 3 mm from its start, 1 a near miss
    (still, but the tool comes within 3 cm), 2 free motion."""
    spheres = tool(data.observations)
    offsets = data.starts[:, None] + np.arange(data.horizon + 1)
    moving = np.zeros(data.starts.size, dtype=bool)
    near = np.zeros(data.starts.size, dtype=bool)
    for spec in objects:
        position = data.observations[:, layout.slice(spec.position)]
        shift = np.linalg.norm(position[offsets, :2] - position[data.starts, None, :2], axis=-1)
        moving |= shift.max(axis=1) > MOVING_DISTANCE
        gap = np.linalg.norm(spheres - position[:, None, :], axis=-1) - tool.radii
        clearance = gap.min(axis=1) - min(spec.half_extents)
        near |= clearance[offsets].min(axis=1) < NEAR_DISTANCE
    return np.where(moving, 0, np.where(near, 1, 2))


def load_split(
    roots: list[Path],
    *,
    horizon: int,
    val_fraction: float,
    seed: int,
    cut_unsound: bool = True,
    focus: frozenset[Path] = frozenset(),
    focus_share: float = 0.0,
) -> tuple[DatasetManifest, EpisodeArrays, EpisodeArrays | None]:
    """Train and validation windows from one or more datasets with the same layouts and robot; the
    training windows of the ``focus`` datasets (among ``roots``) make up ``focus_share`` of every draw.

    Corrupt episode files stop training with an error naming them: silently training on part of the
    data would make runs irreproducible.
    """
    manifest: DatasetManifest | None = None
    train, val, flags = [], [], []
    for root in roots:
        ds = EpisodeDataset(root)
        if manifest is None:
            manifest = ds.manifest
        else:
            _check_compatible(manifest, ds.manifest, root)
        train_paths, val_paths = ds.split(val_fraction=val_fraction, seed=seed)
        objects = ds.manifest.objects if cut_unsound else ()
        layout = ds.manifest.observation_layout
        train += [cut_unsound_steps(ep, layout, objects)[0] for _, ep in ds.iter_episodes(train_paths)]
        val += [cut_unsound_steps(ep, layout, objects)[0] for _, ep in ds.iter_episodes(val_paths)]
        flags += [root in focus] * len(train_paths)
    if manifest is None:
        raise ValueError("no dataset given")
    windows = EpisodeArrays.build(train, horizon, focus=flags, focus_share=focus_share)
    return manifest, windows, (EpisodeArrays.build(val, horizon) if val else None)


def _check_compatible(first: DatasetManifest, other: DatasetManifest, root: Path) -> None:
    for field in ("observation_layout", "action_layout", "action_kind", "robot", "objects"):
        if getattr(first, field) != getattr(other, field):
            raise ValueError(
                f"{root}: {field} differs from the first dataset's; they cannot be trained together"
            )
