"""Data hygiene for objects: episodes are cut where an object tips over or falls off the table.

A fallen or tipped object is a different physical regime from the planar pushing a world model with
objects learns (and one fall of 0.7 m inflated the height statistics forty-fold), so such steps are
left out of training; collection cuts them before writing and ``data verify`` counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wm_planner.config import ObjectSpec
from wm_planner.data.episode import Episode
from wm_planner.data.layout import Layout

__all__ = ["ObjectLimits", "cut_unsound", "upright_steps"]


@dataclass(frozen=True)
class ObjectLimits:
    max_tilt_deg: float = 25.0
    """Largest angle between the object's vertical axis and the world's."""
    max_drop: float = 0.01
    """Largest fall (m) below the object's height at the episode's start."""


def upright_steps(
    observations: np.ndarray,
    layout: Layout,
    objects: tuple[ObjectSpec, ...],
    limits: ObjectLimits = ObjectLimits(),
) -> int:
    """How many leading observations of ``observations [T+1, O]`` have every object upright and on the
    table: the episode is sound up to there (``T + 1`` when it is sound throughout)."""
    sound = np.ones(len(observations), dtype=bool)
    cos_limit = np.cos(np.radians(limits.max_tilt_deg))
    for spec in objects:
        position = observations[:, layout.slice(spec.position)]
        _, x, y, _ = observations[:, layout.slice(spec.orientation)].T
        vertical = 1.0 - 2.0 * (x * x + y * y)  # z component of the object's z axis
        sound &= (vertical >= cos_limit) & (position[:, 2] >= position[0, 2] - limits.max_drop)
    bad = np.flatnonzero(~sound)
    return int(bad[0]) if bad.size else len(observations)


def cut_unsound(episode: Episode, layout: Layout, objects: tuple[ObjectSpec, ...]) -> tuple[Episode, bool]:
    """The episode up to where an object tipped over or fell, and whether it had to be cut."""
    keep = upright_steps(episode.observations, layout, objects)
    if keep == len(episode.observations):
        return episode, False
    keep = max(keep, 1)
    info = {**episode.info, "cut_at_step": keep - 1}
    return Episode(episode.observations[:keep], episode.actions[: keep - 1], episode.goal, info), True
