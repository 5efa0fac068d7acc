"""The arm parameters that system identification fits, read from and written into a MuJoCo model.

Per joint: rotor ``armature`` (kg·m²), dry ``frictionloss`` (N·m) and the position servo's gains, stiffness
``kp`` (N·m/rad) and velocity gain ``kv`` (N·m·s/rad); for the whole arm, a command ``latency`` (s) and
the time constant of a first-order ``command_filter`` (s) the drive passes the late command through
(zero: none). The two are what a scene cannot hold: the replay applies them to the command.

Viscous joint damping is a torque ``-c·q̇`` exactly like the servo's ``-kv·q̇``: joint data can only tell
their sum, so the sum is fitted as ``kv`` and the scene's joint damping is left as it is. (The default
scene's damping is 1 N·m·s/rad against a kv of 40-250, so no fit could resolve it on its own anyway.)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import mujoco
import numpy as np

from sim.scene import SceneHandles

__all__ = ["JOINT_PARAMETERS", "UNITS", "ArmParameters", "apply_parameters", "read_parameters"]

JOINT_PARAMETERS = ("armature", "frictionloss", "kp", "kv")
UNITS = {
    "armature": "kg·m²",
    "frictionloss": "N·m",
    "kp": "N·m/rad",
    "kv": "N·m·s/rad",
    "latency": "s",
    "command_filter": "s",
}


@dataclass(frozen=True)
class ArmParameters:
    """Joint parameters ``{name: [J]}`` (see :data:`JOINT_PARAMETERS`), the command latency and the
    command filter's time constant (s)."""

    joints: dict[str, np.ndarray] = field(default_factory=dict)
    latency: float = 0.0
    command_filter: float = 0.0

    def __post_init__(self) -> None:
        missing = set(JOINT_PARAMETERS) - set(self.joints)
        if missing:
            raise ValueError(f"arm parameters lack {sorted(missing)}")
        for name, values in self.joints.items():
            values = np.asarray(values, dtype=np.float64)
            if not np.all(np.isfinite(values)) or np.any(values < 0):
                raise ValueError(f"{name} must be finite and non-negative, got {values.tolist()}")
        for name in ("latency", "command_filter"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be finite and non-negative, got {value}")

    def vector(self) -> np.ndarray:
        """All joint parameters, parameter-major, ``[P*J]``."""
        return np.concatenate([np.asarray(self.joints[name], np.float64) for name in JOINT_PARAMETERS])

    @classmethod
    def from_vector(cls, vector: np.ndarray, latency: float, command_filter: float = 0.0) -> ArmParameters:
        parts = np.split(np.asarray(vector, dtype=np.float64), len(JOINT_PARAMETERS))
        return cls(dict(zip(JOINT_PARAMETERS, parts, strict=True)), float(latency), float(command_filter))

    def scaled(
        self, factors: dict[str, np.ndarray | float], *, latency: float | None = None
    ) -> ArmParameters:
        """These parameters with some multiplied by ``factors`` (per parameter, scalar or ``[J]``)."""
        joints = {name: self.joints[name] * np.asarray(factors.get(name, 1.0)) for name in JOINT_PARAMETERS}
        return replace(self, joints=joints, latency=self.latency if latency is None else latency)


def read_parameters(model: mujoco.MjModel, handles: SceneHandles) -> ArmParameters:
    """The arm's parameters as ``model`` has them (no latency or command filter: a scene has neither)."""
    dof, act = handles.arm_dof, handles.actuators
    return ArmParameters(
        {
            "armature": model.dof_armature[dof].copy(),
            "frictionloss": model.dof_frictionloss[dof].copy(),
            "kp": model.actuator_gainprm[act, 0].copy(),
            "kv": -model.actuator_biasprm[act, 2].copy(),
        }
    )


def apply_parameters(model: mujoco.MjModel, handles: SceneHandles, parameters: ArmParameters) -> None:
    """Write ``parameters`` into ``model`` in place. A position servo's force is
    ``gain * ctrl + bias1 * q + bias2 * qd`` with ``gain = kp``, ``bias1 = -kp`` and ``bias2 = -kv``."""
    dof, act = handles.arm_dof, handles.actuators
    model.dof_armature[dof] = parameters.joints["armature"]
    model.dof_frictionloss[dof] = parameters.joints["frictionloss"]
    model.actuator_gainprm[act, 0] = parameters.joints["kp"]
    model.actuator_biasprm[act, 1] = -parameters.joints["kp"]
    model.actuator_biasprm[act, 2] = -parameters.joints["kv"]
