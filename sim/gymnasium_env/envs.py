"""Building a gymnasium environment as a user names it on the command line, and seeding it either way.

A :class:`GymEnvSpec` says what to build: the id, the modules to import first (those that register the
id), the constructor's keyword arguments and, for environments that take their seed in the constructor
rather than in ``reset(seed=)``, the keyword that carries it. :class:`GymEnv` builds it, flattens a
``Dict`` observation (a goal-conditioned task's ``observation`` / ``achieved_goal`` / ``desired_goal``)
into one vector whose :class:`Layout` names each part, and gives the same episode for the same seed in
both seeding styles.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wm_planner.config import ObjectSpec, ToolSpec
from wm_planner.data.layout import Layout

__all__ = ["GymEnv", "GymEnvSpec", "parse_layout"]


@dataclass(frozen=True)
class GymEnvSpec:
    """What to build: ``gymnasium.make(env_id, **kwargs)`` after importing ``imports``.

    ``seed_kwarg``: the constructor keyword that seeds the environment (None: it is seeded by
    ``reset(seed=)``). ``layout`` names the blocks of a flat observation (default: one block per key of
    a ``Dict`` observation, else one ``obs`` block). ``dt``: the control period when the environment
    does not say (its ``dt``, else ``1 / metadata["render_fps"]``). ``objects`` and ``tool`` declare
    which blocks are objects (a 3-value position and a 4-value quaternion) and which is the tool's
    position, so the world model carries the objects explicitly (see :class:`~wm_planner.config.ObjectSpec`).
    """

    env_id: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    imports: tuple[str, ...] = ()
    seed_kwarg: str | None = None
    layout: Layout | None = None
    dt: float | None = None
    objects: tuple[ObjectSpec, ...] = ()
    tool: ToolSpec | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "env_id": self.env_id,
            "env_kwargs": dict(self.kwargs),
            "imports": list(self.imports),
            "seed_kwarg": self.seed_kwarg,
        }


class GymEnv:
    """The environment of a :class:`GymEnvSpec`: ``reset(seed) -> (obs [O], info)``, ``step(action [A])``
    in the gymnasium convention, with a flat float observation described by :attr:`layout`."""

    def __init__(self, spec: GymEnvSpec, *, render_mode: str | None = None) -> None:
        self.spec = spec
        self.render_mode = render_mode
        _import_all(spec.imports)
        self._env = self._build(seed=0 if spec.seed_kwarg else None)
        self.layout = _layout(self._env, spec)
        _check_declared(spec, self.layout)
        self.action_low = np.asarray(self._env.action_space.low, dtype=np.float64)
        self.action_high = np.asarray(self._env.action_space.high, dtype=np.float64)
        self.dt = spec.dt or _period(self._env)
        gym_spec = self._env.spec
        self.max_steps: int | None = gym_spec.max_episode_steps if gym_spec is not None else None

    def reset(self, seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        """Start the episode of ``seed``: by ``reset(seed=)``, or by a fresh environment built with
        ``seed`` in its constructor (``spec.seed_kwarg``)."""
        if self.spec.seed_kwarg is None:
            obs, info = self._env.reset(seed=seed)
        else:
            self._env.close()
            self._env = self._build(seed=seed)
            obs, info = self._env.reset()
        return _flat(obs), dict(info)

    def honours_seed(self, seed: int = 0) -> bool:
        """Whether two resets with ``seed`` start the same episode, found by doing it: an environment that
        ignores ``reset(seed=)`` starts each episode from its own random state."""
        first, _ = self.reset(seed)
        again, _ = self.reset(seed)
        return bool(np.array_equal(first, again))

    def seeding_warning(self) -> str | None:
        """None when seeds reproduce episodes, else what to tell the user (see :meth:`honours_seed`)."""
        if self.honours_seed():
            return None
        return (
            f"{self.spec.env_id} ignores reset(seed=): two resets with one seed started different episodes, "
            "so --seed does not reproduce them and the report lists no seeds; give the constructor "
            "keyword that seeds it with --seed-kwarg"
        )

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self._env.step(np.asarray(action, dtype=np.float32))
        return _flat(obs), float(reward), bool(terminated), bool(truncated), dict(info)

    def render(self) -> np.ndarray:
        """The current frame ``[H, W, 3]`` (needs ``render_mode="rgb_array"``)."""
        return np.asarray(self._env.render())

    def close(self) -> None:
        self._env.close()

    def __enter__(self) -> GymEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build(self, *, seed: int | None) -> Any:
        import gymnasium

        spec = self.spec
        kwargs = dict(spec.kwargs)
        if spec.seed_kwarg is not None:
            kwargs[spec.seed_kwarg] = seed
        if self.render_mode is not None:
            kwargs["render_mode"] = self.render_mode
        try:
            env = gymnasium.make(spec.env_id, **kwargs)
        except gymnasium.error.UnregisteredEnv as error:
            raise ValueError(
                f"{spec.env_id}: {error}; import the module that registers it first (--import MODULE)"
            ) from None
        except TypeError as error:
            raise ValueError(
                f"{spec.env_id} cannot be built with keyword arguments {kwargs}: {error}; "
                "give its constructor's arguments with --env-kwargs"
            ) from None
        if isinstance(env.observation_space, gymnasium.spaces.Dict):
            env = gymnasium.wrappers.FlattenObservation(env)
        _check_spaces(env, spec.env_id)
        return env


def _flat(obs: Any) -> np.ndarray:
    return np.asarray(obs, dtype=np.float64)


def _import_all(modules: tuple[str, ...]) -> None:
    if importlib.util.find_spec("gymnasium") is None:
        raise ImportError("the gymnasium adapter needs gymnasium: pip install 'wm-planner[gym]'")
    for name in modules:
        # Importing is what registers: gymnasium_robotics, for one, registers its ids on import.
        try:
            importlib.import_module(name)
        except ImportError as error:
            raise ValueError(f"--import {name}: {error}") from None


def _check_spaces(env: Any, env_id: str) -> None:
    import gymnasium

    for name, space in (("observation", env.observation_space), ("action", env.action_space)):
        if not isinstance(space, gymnasium.spaces.Box) or len(space.shape) != 1:
            env.close()
            raise ValueError(f"{env_id}: {name} space must be a flat Box (or a Dict of them), got {space}")
    if not np.all(np.isfinite(env.action_space.low) & np.isfinite(env.action_space.high)):
        env.close()
        raise ValueError(f"{env_id}: action space must be bounded, got {env.action_space}")


def _layout(env: Any, spec: GymEnvSpec) -> Layout:
    """``spec.layout``, else a block per key of a flattened ``Dict`` observation, else one ``obs``."""
    import gymnasium

    size = int(env.observation_space.shape[0])
    if spec.layout is not None:
        layout = spec.layout
    elif isinstance(env, gymnasium.wrappers.FlattenObservation):
        inner = env.env.observation_space
        assert isinstance(inner, gymnasium.spaces.Dict)
        parts = inner.spaces
        layout = Layout.of(*((key, gymnasium.spaces.flatdim(sub), "") for key, sub in parts.items()))
    else:
        layout = Layout.of(("obs", size, ""))
    if layout.size != size:
        raise ValueError(f"layout has {layout.size} entries but {spec.env_id} observes {size}")
    return layout


def _check_declared(spec: GymEnvSpec, layout: Layout) -> None:
    """The declared objects and tool name blocks of the right sizes in ``layout``."""
    if spec.objects and spec.tool is None:
        raise ValueError("--objects need --tool: the block of the tool's position, which moves them")
    wanted = [(f"tool {spec.tool.block!r}", spec.tool.block, 3)] if spec.tool is not None else []
    for o in spec.objects:
        wanted += [
            (f"object {o.name!r} position", o.position, 3),
            (f"object {o.name!r} orientation", o.orientation, 4),
        ]
    for what, block, size in wanted:
        if block not in layout.names:
            raise ValueError(f"{what}: no block {block!r} in the observation ({layout.describe()})")
        found = layout.slice(block).stop - layout.slice(block).start
        if found != size:
            raise ValueError(f"{what}: block {block!r} has {found} values, not {size}")


def parse_objects(text: str | None) -> tuple[ObjectSpec, ...]:
    """``--objects``: a JSON or YAML mapping (inline or a file) of object name to its blocks and shape,
    ``{puck: {position: puck_pos, orientation: puck_quat, half_extents: [0.03, 0.03, 0.02]}}``."""
    from wm_planner.config import parse_mapping

    declared = parse_mapping(text, option="--objects")
    try:
        return tuple(ObjectSpec(name=name, **fields) for name, fields in declared.items())
    except (TypeError, ValueError) as error:
        raise ValueError(f"--objects: {error}") from None


def _period(env: Any) -> float:
    dt = getattr(env.unwrapped, "dt", None)
    if dt is not None:
        return float(dt)
    fps = env.metadata.get("render_fps")
    if fps:
        return 1.0 / float(fps)
    raise ValueError(f"{env.spec.id if env.spec else env}: no dt and no render_fps; give the period (--dt)")


def parse_layout(text: str | None) -> Layout | None:
    """``"name:size,name:size"`` as a :class:`Layout` (None for None)."""
    if not text:
        return None
    try:
        blocks = [
            (name.strip(), int(size), "") for name, size in (part.split(":") for part in text.split(","))
        ]
    except ValueError:
        raise ValueError(f"--layout: expected 'name:size,name:size', got {text!r}") from None
    return Layout.of(*blocks)
