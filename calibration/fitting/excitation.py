"""Excitation trajectories for system identification.

Each joint follows its own sum of sines (a multisine, the usual choice for robot identification since
Swevers et al. 1997): several harmonics of a slow base frequency with random phases, so every joint moves
at many speeds and reverses often, and the joints are uncorrelated. A smooth window brings the motion in
from rest and back to rest at the start pose. Amplitudes are scaled down until positions, velocities and
accelerations are within the limits given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wm_planner.config import RobotSpec
from wm_planner.control import Trajectory

__all__ = ["ExcitationOptions", "excitation_trajectory"]


@dataclass(frozen=True)
class ExcitationOptions:
    """Shape of an excitation run."""

    duration: float = 10.0
    """Length (s), including the ramps in and out."""
    amplitude: float = 0.35
    """Largest swing of a joint about the start pose (rad), before scaling to the limits."""
    base_frequency: float = 0.2
    """Lowest harmonic (Hz)."""
    harmonics: int = 5
    speed_fraction: float = 0.5
    """Peak joint speed as a fraction of the velocity limit."""
    accel_fraction: float = 0.5
    """Peak joint acceleration as a fraction of the acceleration limit."""
    margin: float = 0.1
    """Distance (rad) kept from the position limits."""
    ramp: float = 1.0
    """Duration (s) of the smooth window at each end."""

    def __post_init__(self) -> None:
        if self.duration <= 2 * self.ramp:
            raise ValueError(f"duration {self.duration} s must exceed twice the ramp ({self.ramp} s)")
        for name in ("amplitude", "base_frequency", "speed_fraction", "accel_fraction", "ramp"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.harmonics < 1:
            raise ValueError(f"harmonics must be at least 1, got {self.harmonics}")


def _window(t: np.ndarray, duration: float, ramp: float) -> np.ndarray:
    """1 in the middle, rising and falling as ``sin²`` over ``ramp`` seconds at each end: [T]."""
    rise = np.clip(t / ramp, 0.0, 1.0)
    fall = np.clip((duration - t) / ramp, 0.0, 1.0)
    return np.sin(0.5 * np.pi * rise) ** 2 * np.sin(0.5 * np.pi * fall) ** 2


def excitation_trajectory(
    robot: RobotSpec, start: np.ndarray, *, options: ExcitationOptions | None = None, seed: int = 0
) -> Trajectory:
    """A multisine excitation from ``start [J]`` back to it, knots every control period.

    Returns a :class:`~wm_planner.control.Trajectory` (positions and velocities ``[K, J]`` at
    ``dt, 2 dt, ..., K dt``) ready to be sent as one JointTrajectory.
    """
    options = options or ExcitationOptions()
    start = np.asarray(start, dtype=np.float64)
    lower, upper = robot.lower() + options.margin, robot.upper() - options.margin
    if np.any(start < lower) or np.any(start > upper):
        raise ValueError(f"start pose {start.tolist()} is not {options.margin} rad inside the joint limits")
    rng = np.random.default_rng(seed)
    dt = robot.control_period
    # A fine grid for the limit checks; the knots are every control period.
    t = np.arange(0.0, options.duration + 1e-9, dt / 10.0)
    harmonics = np.arange(1, options.harmonics + 1) * options.base_frequency
    phases = rng.uniform(0.0, 2 * np.pi, (robot.dof, options.harmonics))
    # Amplitudes fall with frequency so that speed and acceleration are spread over the harmonics.
    weights = 1.0 / np.arange(1, options.harmonics + 1)
    waves = np.sin(2 * np.pi * harmonics[None, None, :] * t[:, None, None] + phases[None])
    shape = (waves * weights).sum(axis=-1) * _window(t, options.duration, options.ramp)[:, None]
    shape /= np.max(np.abs(shape), axis=0)
    offsets = shape * options.amplitude
    offsets = _within_limits(offsets, start, lower, upper, t, robot, options)
    positions = start + offsets
    velocities = np.gradient(positions, t, axis=0)
    knots = np.arange(10, len(t), 10)
    velocities[-1] = 0.0
    return Trajectory(positions[knots], velocities[knots], dt)


def _within_limits(
    offsets: np.ndarray,
    start: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    t: np.ndarray,
    robot: RobotSpec,
    options: ExcitationOptions,
) -> np.ndarray:
    """``offsets [T, J]`` scaled per joint so that start + offsets, their speed and acceleration are
    within the limits."""
    room = np.minimum(upper - start, start - lower)
    scale = np.minimum(1.0, room / np.max(np.abs(offsets), axis=0))
    speed = np.max(np.abs(np.gradient(offsets, t, axis=0)), axis=0)
    accel = np.max(np.abs(np.gradient(np.gradient(offsets, t, axis=0), t, axis=0)), axis=0)
    scale = np.minimum(scale, options.speed_fraction * np.asarray(robot.velocity_limits) / speed)
    scale = np.minimum(scale, options.accel_fraction * np.asarray(robot.acceleration_limits) / accel)
    return offsets * np.minimum(scale, 1.0)
