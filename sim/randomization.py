"""Domain randomization: scene parameters drawn afresh at every reset, from a config.

A config is a list of terms, each naming a parameter, the elements it applies to, how a draw changes the
scene's value (``set`` it, ``scale`` it, ``add`` to it) and the distribution of the draw::

    randomization:
      - {parameter: joint.damping, operation: scale, distribution: loguniform, range: [0.5, 2.0]}
      - {parameter: actuator.kp, targets: [joint1, joint2], operation: scale, distribution: gaussian,
         range: [1.0, 0.05]}            # gaussian: [mean, std]
      - {parameter: body.mass, targets: [cube], operation: add, distribution: uniform, range: [-0.02, 0.05]}

Every draw starts from the scene's own values, so draws never accumulate; each element of a term gets
its own draw.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal

import mujoco
import numpy as np
from pydantic import Field, model_validator

from wm_planner.config import StrictModel, load_yaml_model

__all__ = ["PARAMETERS", "RandomizationConfig", "RandomizationTerm", "Randomizer", "load_randomization"]


def _kp(model: mujoco.MjModel) -> np.ndarray:
    return model.actuator_gainprm[:, 0]


def _set_kp(model: mujoco.MjModel, index: np.ndarray, values: np.ndarray) -> None:
    model.actuator_gainprm[index, 0] = values
    model.actuator_biasprm[index, 1] = -values


def _set_kv(model: mujoco.MjModel, index: np.ndarray, values: np.ndarray) -> None:
    model.actuator_biasprm[index, 2] = -values


def _field(name: str) -> tuple[Callable, Callable]:
    def read(model: mujoco.MjModel) -> np.ndarray:
        return getattr(model, name)

    def write(model: mujoco.MjModel, index: np.ndarray, values: np.ndarray) -> None:
        getattr(model, name)[index] = values

    return read, write


def _column(name: str, column: int) -> tuple[Callable, Callable]:
    def read(model: mujoco.MjModel) -> np.ndarray:
        return getattr(model, name)[:, column]

    def write(model: mujoco.MjModel, index: np.ndarray, values: np.ndarray) -> None:
        getattr(model, name)[index, column] = values

    return read, write


PARAMETERS: dict[str, tuple[str, Callable, Callable]] = {
    # name: (what the targets name, read all values, write values at indices)
    "joint.armature": ("joint", *_field("dof_armature")),
    "joint.damping": ("joint", *_field("dof_damping")),
    "joint.frictionloss": ("joint", *_field("dof_frictionloss")),
    "actuator.kp": ("joint", _kp, _set_kp),
    "actuator.kv": ("joint", lambda m: -m.actuator_biasprm[:, 2], _set_kv),
    "body.mass": ("body", *_field("body_mass")),
    "geom.friction": ("geom", *_column("geom_friction", 0)),
}
"""Parameters a term can randomize. Joint and actuator terms name joints (an actuator by the joint it
drives) and default to the arm's joints; body and geom terms must name their targets."""


class RandomizationTerm(StrictModel):
    parameter: Literal[tuple(PARAMETERS)]  # type: ignore[valid-type]
    targets: tuple[str, ...] | None = None
    operation: Literal["set", "scale", "add"] = "scale"
    distribution: Literal["uniform", "loguniform", "gaussian"] = "uniform"
    range: tuple[float, float]
    """uniform and loguniform: ``[low, high]``; gaussian: ``[mean, std]``."""

    @model_validator(mode="after")
    def _check(self) -> RandomizationTerm:
        a, b = self.range
        if self.distribution == "gaussian" and b < 0:
            raise ValueError(f"{self.parameter}: gaussian std must be non-negative, got {b}")
        if self.distribution != "gaussian" and a > b:
            raise ValueError(f"{self.parameter}: range low {a} is above high {b}")
        if self.distribution == "loguniform" and a <= 0:
            raise ValueError(f"{self.parameter}: loguniform range must be positive, got {list(self.range)}")
        if PARAMETERS[self.parameter][0] != "joint" and not self.targets:
            raise ValueError(f"{self.parameter}: name its targets")
        return self

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        a, b = self.range
        if self.distribution == "uniform":
            return rng.uniform(a, b, size)
        if self.distribution == "loguniform":
            return np.exp(rng.uniform(np.log(a), np.log(b), size))
        return rng.normal(a, b, size)


class RandomizationConfig(StrictModel):
    randomization: list[RandomizationTerm] = Field(default_factory=list)


def load_randomization(path: str | Path) -> RandomizationConfig:
    return load_yaml_model(path, RandomizationConfig)


_KINDS = {
    "joint": mujoco.mjtObj.mjOBJ_JOINT,
    "body": mujoco.mjtObj.mjOBJ_BODY,
    "geom": mujoco.mjtObj.mjOBJ_GEOM,
}


class Randomizer:
    """Applies ``config`` to ``model`` (in place) at every :meth:`apply`; ``arm_joints`` are the default
    targets of joint and actuator terms."""

    def __init__(
        self, model: mujoco.MjModel, config: RandomizationConfig, arm_joints: tuple[str, ...]
    ) -> None:
        self.model, self.config = model, config
        self._terms = []
        for term in config.randomization:
            index = self._indices(term, arm_joints)
            self._terms.append((term, index, PARAMETERS[term.parameter][1](model)[index].copy()))

    def _indices(self, term: RandomizationTerm, arm_joints: tuple[str, ...]) -> np.ndarray:
        kind = PARAMETERS[term.parameter][0]
        names = term.targets or arm_joints
        ids = []
        for name in names:
            index = mujoco.mj_name2id(self.model, _KINDS[kind], name)
            if index < 0:
                raise ValueError(f"randomization of {term.parameter}: the scene has no {kind} named {name!r}")
            ids.append(index)
        found = np.array(ids)
        if term.parameter.startswith("joint."):
            return np.asarray(self.model.jnt_dofadr[found])
        if term.parameter.startswith("actuator."):
            by_joint = {int(self.model.actuator_trnid[a, 0]): a for a in range(self.model.nu)}
            missing = [n for n, j in zip(names, found, strict=True) if int(j) not in by_joint]
            if missing:
                raise ValueError(f"randomization of {term.parameter}: no actuator drives {missing}")
            return np.array([by_joint[int(j)] for j in found])
        return found

    def apply(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Restore the scene's values, then draw every term; returns the values set, per parameter."""
        for term, index, nominal in reversed(self._terms):
            PARAMETERS[term.parameter][2](self.model, index, nominal)
        drawn = {}
        for term, index, _ in self._terms:
            _, read, write = PARAMETERS[term.parameter]
            base = read(self.model)[index].copy()
            sample = term.draw(rng, len(index))
            values = {"set": sample, "scale": base * sample, "add": base + sample}[term.operation]
            write(self.model, index, values)
            drawn[term.parameter] = values
        return drawn
