"""The shaped delay: a servo model class that contains the pure delay.

The arm is taken to follow its command exactly, after the command was delayed by ``latency`` and passed,
per joint, through ``order`` first-order low-pass sections (time constants ``[order, J]``, s). A velocity
command is shaped as a velocity and then integrated, as a drive's velocity loop follows a filtered
setpoint; a position command is shaped as a position. With every time constant zero this is exactly the
delay baseline (:func:`calibration.logs.commands.reference_path`), and the fit starts there, so on the runs
it is fitted to a shaped delay never tracks worse than the best pure delay.

It has no physics: it describes what a stiff drive with an internal controller does with its command, the
class a real arm's tracking often falls in when the MuJoCo servo's does not (a cascaded velocity loop
behind a command filter). :func:`calibration.fitting.identify.identify` fits it beside the MuJoCo servo
and keeps whichever tracks the held-out runs better.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.signal import lfilter

from calibration.logs.commands import delayed, integrated
from calibration.logs.joint_log import JointLog

__all__ = ["ShapedDelay", "fit_shaped_delay", "low_pass"]


def low_pass(signal: np.ndarray, time_constants: np.ndarray, dt: float) -> np.ndarray:
    """``signal [T, J]`` through one first-order section per joint (``time_constants [J]``, s; zero
    passes the joint through), sampled exactly at ``dt`` and starting at rest on ``signal[0]``."""
    out = signal.copy()
    for j, tau in enumerate(time_constants):
        if tau <= 0.0:
            continue
        keep = float(np.exp(-dt / tau))
        # y_k = keep * y_(k-1) + (1 - keep) * u_k, with y_(-1) = u_0 so a constant input stays put.
        out[:, j], _ = lfilter([1.0 - keep], [1.0, -keep], signal[:, j], zi=[keep * signal[0, j]])
    return out


@dataclass(frozen=True)
class ShapedDelay:
    """``latency`` (s) and ``time_constants [order, J]`` (s) of the shaped delay (see the module)."""

    latency: float
    time_constants: np.ndarray

    @property
    def order(self) -> int:
        return int(self.time_constants.shape[0])

    @property
    def name(self) -> str:
        return f"shaped_delay_{self.order}"

    def path(self, log: JointLog) -> np.ndarray:
        """Where this model puts the arm along ``log``: positions ``[T, J]``, ``[0]`` the logged start."""
        shaped = delayed(log.time, log.command, self.latency)
        for section in self.time_constants:
            shaped = low_pass(shaped, section, log.dt)
        if log.command_kind == "velocity":
            return integrated(shaped, log.position[0], log.dt)
        return shaped


def _residuals(model: ShapedDelay, logs: Sequence[JointLog]) -> np.ndarray:
    return np.concatenate([(model.path(log)[1:] - log.position[1:]).ravel() for log in logs])


def fit_shaped_delay(
    logs: Sequence[JointLog],
    *,
    order: int,
    start_latency: float,
    max_latency: float,
    max_time_constant: float = 0.25,
    start: ShapedDelay | None = None,
) -> ShapedDelay:
    """The shaped delay of ``order`` sections that tracks ``logs`` best (position least squares, rad).

    The search starts from ``start`` (a lower order's fit, extended by sections of zero) or from the pure
    delay ``start_latency``, and from the same lag spread over the delay and the sections; the better of
    the two fits is kept, so the result never tracks ``logs`` worse than the start.
    """
    if order < 1:
        raise ValueError(f"order must be at least 1, got {order}")
    joints = logs[0].command.shape[1]
    lower = np.zeros(1 + order * joints)
    upper = np.r_[max_latency, np.full(order * joints, max_time_constant)]

    def unpack(x: np.ndarray) -> ShapedDelay:
        return ShapedDelay(float(x[0]), x[1:].reshape(order, joints).copy())

    def cost(x: np.ndarray) -> np.ndarray:
        return _residuals(unpack(x), logs)

    taus = np.zeros((order, joints))
    if start is not None:
        taus[: start.order] = start.time_constants
    latency = start.latency if start is not None else start_latency
    # The start itself (so the fit never ends worse than it), and the same total lag spread evenly over
    # the delay and every section: a point from which each section has a direction to move in.
    lag = latency + taus.sum(axis=0)
    spread = np.r_[lag.mean() / (order + 1), np.tile(lag / (order + 1), order)]
    candidates = [np.r_[latency, taus.ravel()], spread]
    best, best_cost = candidates[0], float(np.sum(cost(candidates[0]) ** 2))
    for x0 in candidates:
        x0 = np.clip(x0, lower, upper)
        solution = least_squares(cost, x0, bounds=(lower, upper), method="trf", x_scale=0.01, max_nfev=60)
        value = float(np.sum(solution.fun**2))
        if value < best_cost:
            best, best_cost = solution.x, value
    return unpack(best)
