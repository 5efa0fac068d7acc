"""How commands reach the servos of a calibrated twin, physics step by physics step: the calibration's
latency (linearly interpolated between steps, as replay delays logged commands), its first-order command
filter, and, where the calibration kept it, the actuator net's correction torque.

``wm-planner sysid`` writes what the simulator needs beside the profile, as a :class:`TwinFile`
(``<profile>.twin.yaml``), and ``collect --calibration`` and ``eval --calibration`` drive the calibrated
scene through :class:`Actuation`: data collected and success measured in the twin come from the arm that
replays the logs. The net is run here, with numpy; it is fitted in
:mod:`calibration.model.actuator_net`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from wm_planner.config import StrictModel, load_yaml_model

__all__ = ["Actuation", "ActuationModel", "ActuatorNet", "TwinFile", "load_twin", "twin_file_path"]

TWIN_SUFFIX = ".twin.yaml"


def twin_file_path(profile: str | Path) -> Path:
    """Where the twin file of the calibration profile ``profile`` lies: beside it."""
    return Path(profile).with_suffix(TWIN_SUFFIX)


class TwinFile(StrictModel):
    """What the simulator runs of a calibration: the calibrated ``scene`` (MJCF), the ``latency`` and
    ``command_filter`` (s) of the commands, and the ``actuator_net`` (``.npz``) where it was kept; paths
    relative to the file."""

    scene: str
    latency: float = Field(ge=0.0)
    command_filter: float = Field(default=0.0, ge=0.0)
    actuator_net: str | None = None


def load_twin(profile: str | Path) -> tuple[Path, TwinFile]:
    """The twin file of the calibration ``profile``: its path and contents (an error names a missing
    one: profiles from before twin files need ``wm-planner sysid`` again)."""
    path = twin_file_path(profile)
    if not path.exists():
        raise FileNotFoundError(f"calibration {profile}: no twin file {path} beside it; run wm-planner sysid")
    return path, load_yaml_model(path, TwinFile)


@dataclass(frozen=True)
class ActuatorNet:
    """The actuator net: from a short history of each joint's servo error (the servos' input less the
    position) and velocity, the torque the fitted servo misses (``tanh`` hidden layers, numpy weights).
    The command is in the servos' input already, so a net fitted on velocity commands serves an arm
    commanded by positions too.

    ``input_scale [2 L]``: of the lagged servo errors and velocities; ``torque_scale [J]`` and
    ``limit [J]`` (N·m): the output's scale and the largest correction applied (1.5 x the largest target).
    """

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    input_scale: np.ndarray
    torque_scale: np.ndarray
    limit: np.ndarray
    lags: tuple[int, ...]

    def inputs(self, error: np.ndarray, velocity: np.ndarray) -> np.ndarray:
        """Network inputs ``[..., J, 2 L + J]`` from histories ``[..., L, J]`` (lag-major): the scaled
        signals and each joint's one-hot, so one net serves every joint."""
        history = np.concatenate([error, velocity], axis=-2)
        signals = np.swapaxes(history, -1, -2) / self.input_scale
        joints = signals.shape[-2]
        one_hot = np.broadcast_to(np.eye(joints), (*signals.shape[:-1], joints))
        return np.concatenate([signals, one_hot], axis=-1)

    def torque(self, inputs: np.ndarray) -> np.ndarray:
        """The correction ``[..., J]`` (N·m) for ``inputs [..., J, F]``, within ``limit``."""
        h = inputs
        for w, b in zip(self.weights[:-1], self.biases[:-1], strict=True):
            h = np.tanh(h @ w + b)
        raw = (h @ self.weights[-1] + self.biases[-1])[..., 0] * self.torque_scale
        return np.clip(raw, -self.limit, self.limit)

    def save(self, path: str | Path) -> Path:
        """Write the net to ``path`` (``.npz``) for :meth:`load`."""
        arrays: dict[str, Any] = {f"w{i}": w for i, w in enumerate(self.weights)}
        arrays |= {f"b{i}": b for i, b in enumerate(self.biases)}
        arrays |= {"input_scale": self.input_scale, "torque_scale": self.torque_scale, "limit": self.limit}
        np.savez(path, lags=np.array(self.lags), **arrays)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> ActuatorNet:
        with np.load(path) as f:
            layers = sum(1 for name in f.files if name.startswith("w"))
            return cls(
                weights=tuple(f[f"w{i}"] for i in range(layers)),
                biases=tuple(f[f"b{i}"] for i in range(layers)),
                input_scale=f["input_scale"],
                torque_scale=f["torque_scale"],
                limit=f["limit"],
                lags=tuple(int(k) for k in f["lags"]),
            )


@dataclass(frozen=True)
class ActuationModel:
    """The fitted path from command to servo: ``latency`` and ``command_filter`` (s), the physics
    ``timestep`` (s), and the ``net`` correcting the servo (None: the servo alone)."""

    latency: float
    command_filter: float
    timestep: float
    net: ActuatorNet | None = None

    @classmethod
    def of_twin(cls, twin: TwinFile, root: Path, timestep: float) -> ActuationModel:
        """The actuation of ``twin`` (its paths relative to ``root``) at the physics ``timestep``."""
        net = None if twin.actuator_net is None else ActuatorNet.load(root / twin.actuator_net)
        return cls(twin.latency, twin.command_filter, timestep, net)

    @property
    def depth(self) -> int:
        """Physics steps of command history the latency needs (its whole part plus two)."""
        return int(np.floor(self.latency / self.timestep + 1e-9)) + 2


class Actuation:
    """One arm's actuation state: the recent commands, the filter's output and the net's history of servo
    errors and velocities. ``step`` turns this physics step's joint target into the servos' input and
    the net's torque."""

    def __init__(self, model: ActuationModel, joints: int) -> None:
        self.model = model
        self.joints = joints
        lags = model.net.lags if model.net is not None else (0,)
        self._lags = np.array(lags)
        self._keep = (
            float(np.exp(-model.timestep / model.command_filter)) if model.command_filter > 0 else 0.0
        )
        self._fraction = model.latency / model.timestep - (model.depth - 2)
        self._commands = np.zeros((model.depth, joints))
        self._filtered = np.zeros(joints)
        self._errors = np.zeros((max(lags) + 1, joints))
        self._velocities = np.zeros_like(self._errors)
        self._no_correction = np.zeros(joints)
        self._torque = self._no_torque if model.net is None else self._net_torque

    def reset(self, position: np.ndarray) -> None:
        """At rest at ``position [J]``, commanded to stay there."""
        self._commands[:] = position
        self._filtered[:] = position
        self._errors[:] = 0.0
        self._velocities[:] = 0.0

    def step(self, target: np.ndarray, q: np.ndarray, qd: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The servos' input ``[J]`` and the net's torque ``[J]`` (N·m) for this physics step's joint
        ``target [J]``, with the arm at ``q``, ``qd [J]``."""
        self._commands = np.roll(self._commands, -1, axis=0)
        self._commands[-1] = target
        # The command ``latency`` ago lies between the two oldest buffered steps.
        late, later = self._commands[1], self._commands[0]
        arrived = late + (later - late) * self._fraction
        self._filtered = self._keep * self._filtered + (1.0 - self._keep) * arrived
        return self._filtered, self._torque(q, qd)

    def _no_torque(self, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        return self._no_correction

    def _net_torque(self, q: np.ndarray, qd: np.ndarray) -> np.ndarray:
        net = self.model.net
        assert net is not None
        self._errors = np.roll(self._errors, 1, axis=0)
        self._velocities = np.roll(self._velocities, 1, axis=0)
        self._errors[0], self._velocities[0] = self._filtered - q, qd
        return net.torque(net.inputs(self._errors[self._lags], self._velocities[self._lags]))
