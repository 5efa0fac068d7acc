"""Costs for goal-conditioned environments, made afresh for every episode.

A cost factory is called at every reset with the first observation and ``info`` and returns that
episode's cost, so a goal that changes every episode (read from the observation, as a
``desired_goal``, or from ``info``) reaches the cost without a side channel::

    factory(obs [O], info, *, layout, **cost_kwargs) -> cost(features [N, H, O], actions [N, H, A]) -> [N]

``wm-planner gym-eval --cost MODULE:FACTORY --cost-kwargs JSON`` loads one by name. A cost may also
offer ``error(obs [O]) -> float`` (plotted per step and reported) and ``success_radius`` (success when
the environment reports none). The ready factories here, on named features:

- :func:`reach_goal`: distance of a feature to a goal read at reset (a feature, or a key of ``info``);
- :func:`reach_point`: distance of a feature to a fixed point;
- :func:`push_goal`: an object pushed to a goal in the table plane by a tool that comes at it from behind.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wm_planner.data.layout import Layout
from wm_planner.planning import CostFn

__all__ = [
    "READY_COSTS",
    "CostFactory",
    "FeatureDistance",
    "PlanarPush",
    "check_cost_kwargs",
    "feature_slice",
    "load_cost_factory",
    "push_goal",
    "reach_goal",
    "reach_point",
]

CostFactory = Callable[..., CostFn]
"""``factory(obs [O], info, *, layout, **cost_kwargs) -> cost`` (see the module docstring)."""


@dataclass(frozen=True)
class FeatureDistance:
    """Euclidean distance of ``feature`` to ``target [K]``, summed over the imagined steps, plus
    ``action_weight`` times the summed squared actions; success within ``success_radius``."""

    feature: slice
    target: np.ndarray = field(repr=False)
    success_radius: float
    action_weight: float = 0.0

    def __call__(self, features: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """features: [N, H, O], actions: [N, H, A] -> [N]."""
        distance = np.linalg.norm(features[..., self.feature] - self.target, axis=-1).sum(axis=1)
        if self.action_weight:
            distance = distance + self.action_weight * (actions**2).sum(axis=(1, 2))
        return distance

    def error(self, obs: np.ndarray) -> float:
        """The observed distance ``obs [O]`` -> scalar."""
        return float(np.linalg.norm(np.asarray(obs)[self.feature] - self.target))


def feature_slice(layout: Layout, name: str) -> slice:
    """Where ``name`` sits in ``layout``: a block's name, or ``"start:stop"`` indices."""
    if name in layout.names:
        return layout.slice(name)
    start, sep, stop = name.partition(":")
    if sep and start.strip().isdigit() and stop.strip().isdigit():
        index = slice(int(start), int(stop))
        if not 0 <= index.start < index.stop <= layout.size:
            raise ValueError(f"feature {name!r} is outside the {layout.size} observation entries")
        return index
    raise ValueError(f"no feature {name!r}: the observation has {list(layout.names)} (or give 'start:stop')")


def _goal(obs: np.ndarray, info: dict[str, Any], layout: Layout, goal: str) -> np.ndarray:
    """The goal named ``goal``: a feature of ``obs``, or ``info.KEY`` for the reset ``info[KEY]``."""
    if goal.startswith("info."):
        key = goal.removeprefix("info.")
        if key not in info:
            raise ValueError(f"goal {goal!r}: the reset info has no {key!r} (it has {sorted(info)})")
        return np.asarray(info[key], dtype=np.float64).ravel()
    return np.asarray(obs, dtype=np.float64)[feature_slice(layout, goal)]


def _radius(radius: float) -> float:
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    return float(radius)


def reach_goal(
    obs: np.ndarray,
    info: dict[str, Any],
    *,
    layout: Layout,
    feature: str,
    goal: str,
    radius: float,
    action_weight: float = 0.0,
) -> FeatureDistance:
    """Bring ``feature`` to the episode's goal: the ``goal`` feature of the first observation, or with
    ``goal="info.KEY"`` the reset ``info[KEY]``."""
    where = feature_slice(layout, feature)
    target = _goal(obs, info, layout, goal)
    if target.size != where.stop - where.start:
        raise ValueError(
            f"goal {goal!r} has {target.size} entries, feature {feature!r} {where.stop - where.start}"
        )
    return FeatureDistance(where, target, _radius(radius), action_weight)


def reach_point(
    obs: np.ndarray,
    info: dict[str, Any],
    *,
    layout: Layout,
    feature: str,
    point: Sequence[float],
    radius: float,
    action_weight: float = 0.0,
) -> FeatureDistance:
    """Bring ``feature`` to the fixed ``point``."""
    del obs, info
    where = feature_slice(layout, feature)
    target = np.asarray(point, dtype=np.float64)
    if target.size != where.stop - where.start:
        raise ValueError(f"point has {target.size} entries, feature {feature!r} {where.stop - where.start}")
    return FeatureDistance(where, target, _radius(radius), action_weight)


@dataclass(frozen=True)
class PlanarPush:
    """The ``object``'s distance to ``target [2]`` in the table plane, plus ``tool_weight`` times the
    ``tool``'s planar distance to the pushing point ``standoff`` behind the object as seen from the
    target, at every imagined step (``terminal_weight`` more at the last); success within
    ``success_radius`` of the target.

    Without the tool's term the cost is flat until the tool touches the object, and a sampling planner
    has nothing to follow toward it."""

    object: slice
    tool: slice
    target: np.ndarray = field(repr=False)
    success_radius: float
    standoff: float
    tool_weight: float = 0.5
    terminal_weight: float = 4.0

    def __call__(self, features: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """features: [N, H, O], actions: [N, H, A] -> [N]."""
        position = features[..., self.object][..., :2]
        to_target = self.target - position
        distance = np.sqrt((to_target**2).sum(-1) + 1e-12)
        behind = position - self.standoff * to_target / distance[..., None]
        off = np.sqrt(((features[..., self.tool][..., :2] - behind) ** 2).sum(-1) + 1e-12)
        per_step = distance + self.tool_weight * off
        weights = np.ones(per_step.shape[-1])
        weights[-1] += self.terminal_weight
        return np.asarray(per_step @ weights)

    def error(self, obs: np.ndarray) -> float:
        """The observed planar distance of the object to the target, ``obs [O]`` -> scalar."""
        return float(np.linalg.norm(np.asarray(obs)[self.object][:2] - self.target))


def push_goal(
    obs: np.ndarray,
    info: dict[str, Any],
    *,
    layout: Layout,
    object: str,
    tool: str,
    goal: str,
    radius: float,
    standoff: float,
    tool_weight: float = 0.5,
) -> PlanarPush:
    """Push the ``object`` feature to the episode's goal in the table plane (its first two entries): the
    ``goal`` feature of the first observation, or with ``goal="info.KEY"`` the reset ``info[KEY]``;
    ``standoff`` (m) is the tool's distance behind the object's centre when it pushes."""
    target = _goal(obs, info, layout, goal)[:2]
    return PlanarPush(
        feature_slice(layout, object),
        feature_slice(layout, tool),
        target,
        _radius(radius),
        standoff,
        tool_weight,
    )


READY_COSTS: dict[str, CostFactory] = {
    "reach_goal": reach_goal,
    "reach_point": reach_point,
    "push_goal": push_goal,
}
"""The factories ``--cost`` takes by bare name."""


def load_cost_factory(name: str) -> CostFactory:
    """``"MODULE:FACTORY"`` imported, or the name of a ready cost (:data:`READY_COSTS`)."""
    if name in READY_COSTS:
        return READY_COSTS[name]
    module_name, sep, attribute = name.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"--cost {name!r}: expected MODULE:FACTORY or one of {sorted(READY_COSTS)}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"--cost {name!r}: {error}") from None
    factory = getattr(module, attribute, None)
    if not callable(factory):
        raise ValueError(f"--cost {name!r}: {module_name} has no callable {attribute!r}")
    return factory


def check_cost_kwargs(factory: CostFactory, kwargs: Mapping[str, Any]) -> None:
    """Refuse ``kwargs`` that ``factory`` cannot be called with (an unknown key, a missing required one)
    before any episode runs, with a message that names the keys it takes."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to check against
        return
    try:
        signature.bind(None, {}, layout=None, **kwargs)
    except TypeError as error:
        options = [
            name if p.default is inspect.Parameter.empty else f"{name}={p.default!r}"
            for name, p in signature.parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "layout"
        ]
        name = getattr(factory, "__name__", repr(factory))
        raise ValueError(
            f"--cost-kwargs {dict(kwargs)}: {error}; {name} takes {', '.join(options) or 'no keywords'}"
        ) from None
