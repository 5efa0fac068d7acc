"""System identification: fit the arm's joint parameters and command latency to logged runs.

Output-error least squares: the logged commands are replayed open loop in MuJoCo (:class:`Replayer`) and
the parameters are moved until the simulated joint positions and velocities match the measured ones.
Parameters are fitted as log-factors of the scene's values within a box (so they stay positive and every
one is on the same scale), the latency and the command filter's time constant in seconds. The Jacobian
is by finite differences, all columns in one batched ``mujoco.rollout``. Residuals are divided by each
channel's measurement noise, estimated from the data.

The residuals of a real arm are mostly model error sampled at 1 kHz, not white noise: neighbouring
samples err together, and intervals that assume independence are far too narrow (two command encodings of
one log gave latencies 0.05 ms [0.00, 0.23] and 6.24 ms [6.16, 6.32]). The covariance is therefore the
block-robust sandwich ``(JᵀJ)⁻¹ (Σ_k J_kᵀ r_k r_kᵀ J_k) (JᵀJ)⁻¹`` over blocks of ``block_s`` seconds of
each log, which holds for residuals correlated within a block (the analytic counterpart of a block
bootstrap), and parameter correlations are reported from it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.optimize import least_squares

from calibration.logs.joint_log import JointLog
from calibration.model.parameters import JOINT_PARAMETERS, ArmParameters
from calibration.model.replay import Replayer

__all__ = [
    "FitOptions",
    "FitResult",
    "fit_parameters",
    "noise_scale",
    "parameter_names",
    "tracking_rmse",
]

_Z95 = 1.96
_TIME_UNIT = 0.01
"""The latency and the command filter are searched in units of 10 ms, so that a unit step means as much as
one in a log-factor."""
_TIMES = ("latency", "command_filter")
"""The arm-wide entries that end the fitted vector, in seconds."""


@dataclass(frozen=True)
class FitOptions:
    """Search box, fixed parameters and stopping rule of :func:`fit_parameters`."""

    factor_bounds: tuple[float, float] = (0.1, 10.0)
    """Each joint parameter stays within these multiples of the scene's value."""
    parameter_bounds: tuple[tuple[str, float, float], ...] = ()
    """Factor bounds of single parameters or kinds, ``("kp", 0.5, 2.0)`` or ``("kv[joint3]", 0.8, 1.2)``,
    in place of ``factor_bounds``."""
    min_latency: float = 0.0
    """Lower bound of the command latency (s)."""
    max_latency: float = 0.1
    """Upper bound of the command latency (s)."""
    initial_latency: float = 0.01
    """Where the latency search starts (s)."""
    max_command_filter: float = 0.1
    """Upper bound of the command filter's time constant (s); fix ``command_filter`` to keep it zero."""
    initial_command_filter: float = 0.002
    """Where the command filter's search starts (s)."""
    fixed: tuple[str, ...] = ()
    """Parameters kept at the scene's value: ``kp`` (every joint) or ``armature[joint7]`` (one)."""
    max_iterations: int = 25
    tolerance: float = 1e-5
    """Stop when an iteration lowers the cost by less than this fraction."""
    floor: float = 1e-6
    """Smallest scene value a factor is taken of (a zero parameter could not move otherwise)."""
    at_bound_tolerance: float = 1e-3
    """A parameter within this (log-factor, or 10 ms of latency) of its bound is reported as at the bound."""
    poorly_determined: float = 0.1
    """A parameter whose 95% interval is wider than this fraction of its value (either side) is reported."""
    block_s: float = 0.25
    """Length of the residual blocks of the robust covariance (s): longer than the residuals' memory."""
    strong_correlation: float = 0.8
    """Parameter pairs correlated at least this much (in absolute value) are reported."""


@dataclass(frozen=True)
class FitResult:
    """Fitted parameters and their 95% confidence intervals ``(low, high)`` in the same shapes; which
    parameters are at a bound of the search box or poorly determined by the data, and which were fixed
    (names like ``kv[joint3]`` or ``latency``); the weighted cost before and after."""

    parameters: ArmParameters
    low: ArmParameters
    high: ArmParameters
    at_bound: tuple[str, ...]
    poorly_determined: tuple[str, ...]
    fixed: tuple[str, ...]
    cost_before: float
    cost_after: float
    iterations: int
    correlations: tuple[tuple[str, str, float], ...] = ()
    """Pairs of free parameters whose estimates are strongly correlated, strongest first."""
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    """The search box of every free parameter, in its own unit."""


def parameter_names(joint_names: Sequence[str]) -> list[str]:
    """Names of the entries of the fitted vector: ``armature[joint1]``, ..., ``latency``,
    ``command_filter``."""
    return [f"{p}[{j}]" for p in JOINT_PARAMETERS for j in joint_names] + list(_TIMES)


def _fixed_mask(names: Sequence[str], fixed: Sequence[str]) -> np.ndarray:
    mask = np.zeros(len(names), dtype=bool)
    for entry in fixed:
        hits = [i for i, n in enumerate(names) if n == entry or n.split("[")[0] == entry]
        if not hits:
            raise ValueError(
                f"fixed parameter {entry!r} is not one of {[*JOINT_PARAMETERS, *_TIMES]} "
                f"or a name like {names[0]!r}"
            )
        mask[hits] = True
    return mask


def noise_scale(signal: np.ndarray, *, floor: float) -> np.ndarray:
    """Per-channel white-noise standard deviation of ``signal [T, J]``, estimated from its second
    differences (smooth motion contributes little to them; noise contributes ``sqrt(6) σ``), at least
    ``floor``: [J]."""
    second = np.diff(signal, n=2, axis=0)
    mad = np.median(np.abs(second - np.median(second, axis=0)), axis=0)
    return np.maximum(1.4826 * mad / np.sqrt(6.0), floor)


def tracking_rmse(log: JointLog, position: np.ndarray) -> np.ndarray:
    """Per-joint RMSE (rad) of simulated ``position [T, J]`` against the log's measurement: [J]."""
    return np.sqrt(np.mean((position - log.position) ** 2, axis=0))


class _Problem:
    """The least-squares problem over the free entries ``x`` of the full vector ``θ`` (log-factors of the
    scene's joint parameters, then the latency and the command filter in 10 ms units): residuals and
    their Jacobian."""

    def __init__(
        self, replayer: Replayer, logs: Sequence[JointLog], nominal: ArmParameters, options: FitOptions
    ) -> None:
        self.replayer, self.logs, self.options = replayer, list(logs), options
        self.names = parameter_names(self.logs[0].joint_names)
        self.base = np.maximum(nominal.vector(), options.floor)
        self.free = ~_fixed_mask(self.names, options.fixed)
        factors = _factor_bounds(self.names[: -len(_TIMES)], options)
        lower = np.r_[options.min_latency, 0.0] / _TIME_UNIT
        upper = np.r_[options.max_latency, options.max_command_filter] / _TIME_UNIT
        self.lower = np.r_[np.log(factors[:, 0]), lower][self.free]
        self.upper = np.r_[np.log(factors[:, 1]), upper][self.free]
        n = len(self.base)
        # 0.1% steps: larger ones blur the weak directions (armature behind a large link inertia) and
        # the fit crawled along them; the latency is piecewise linear between 2 ms grid points.
        self.steps = np.r_[np.full(n, 1e-3), 0.05, 0.05][self.free]
        self.theta0 = self.theta(nominal)
        self.weights = [
            (1.0 / noise_scale(log.position, floor=1e-5), 1.0 / noise_scale(log.velocity, floor=1e-3))
            for log in self.logs
        ]
        self._cache: dict[bytes, np.ndarray] = {}

    def bounds(self) -> dict[str, tuple[float, float]]:
        """The search box of each free parameter in its own unit."""
        names = [n for n, free in zip(self.names, self.free, strict=True) if free]
        low, high = self.parameters(self.lower), self.parameters(self.upper)
        values = dict(zip(self.names, np.c_[_full(low), _full(high)], strict=True))
        return {name: (float(values[name][0]), float(values[name][1])) for name in names}

    def blocks(self, count: int) -> np.ndarray:
        """The residual block of each of the ``count`` residual rows (see the module docstring)."""
        ids, start = [], 0
        for log in self.logs:
            per_block = max(1, round(self.options.block_s / log.dt))
            t = np.arange(1, len(log.time))
            block = start + t // per_block
            joints = len(log.joint_names)
            ids += [np.repeat(block, joints), np.repeat(block, joints)]  # positions, then velocities
            start = int(block.max()) + 1
        out = np.concatenate(ids)
        if len(out) != count:
            raise AssertionError(f"{len(out)} block ids for {count} residuals")
        return out

    def theta(self, parameters: ArmParameters) -> np.ndarray:
        factors = np.log(np.maximum(parameters.vector(), self.options.floor) / self.base)
        return np.r_[factors, parameters.latency / _TIME_UNIT, parameters.command_filter / _TIME_UNIT]

    def parameters(self, x: np.ndarray) -> ArmParameters:
        theta = self.theta0.copy()
        theta[self.free] = x
        latency, command_filter = theta[-2:] * _TIME_UNIT
        return ArmParameters.from_vector(self.base * np.exp(theta[:-2]), latency, command_filter)

    def _residuals(self, xs: np.ndarray) -> np.ndarray:
        """Weighted residuals ``[B, R]`` of free vectors ``xs [B, P]``."""
        parameters = [self.parameters(x) for x in xs]
        parts = []
        for log, (wq, wqd) in zip(self.logs, self.weights, strict=True):
            q, qd = self.replayer.replay(log, parameters)
            parts.append(((q[:, 1:] - log.position[1:]) * wq).reshape(len(xs), -1))
            parts.append(((qd[:, 1:] - log.velocity[1:]) * wqd).reshape(len(xs), -1))
        return np.concatenate(parts, axis=1)

    def residuals(self, x: np.ndarray) -> np.ndarray:
        key = x.tobytes()
        if key not in self._cache:
            self._cache = {key: self._residuals(x[None])[0]}
        return self._cache[key]

    def jacobian(self, x: np.ndarray) -> np.ndarray:
        """Forward differences, every column in one batched replay ``[R, P]``."""
        # Step inward at an upper bound so every column stays inside the box.
        steps = np.where(x + self.steps > self.upper, -self.steps, self.steps)
        xs = np.repeat(x[None], len(x) + 1, axis=0)
        xs[1:][np.diag_indices(len(x))] += steps
        r = self._residuals(xs)
        self._cache = {x.tobytes(): r[0]}
        return ((r[1:] - r[0]) / steps[:, None]).T


def fit_parameters(
    replayer: Replayer,
    logs: Sequence[JointLog],
    nominal: ArmParameters,
    *,
    options: FitOptions | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> FitResult:
    """Fit joint parameters and latency to ``logs``, starting from ``nominal`` (the scene's values).
    ``progress(iteration, cost)`` is called once per Jacobian."""
    if not logs:
        raise ValueError("no logs to fit")
    options = options or FitOptions()
    problem = _Problem(replayer, logs, nominal, options)
    # The trust-region method takes vanishing steps from a point on a bound, so start inside the box;
    # the latency search starts at a typical driver latency rather than at its bound, zero.
    start = replace(nominal, latency=options.initial_latency, command_filter=options.initial_command_filter)
    x0 = problem.theta(start)[problem.free]
    inset = 1e-2 * (problem.upper - problem.lower)
    x0 = np.clip(x0, problem.lower + inset, problem.upper - inset)
    iterations = 0

    def jacobian(x: np.ndarray) -> np.ndarray:
        nonlocal iterations
        iterations += 1
        jac = problem.jacobian(x)
        if progress is not None:
            progress(iterations, float(0.5 * np.sum(problem.residuals(x) ** 2)))
        return jac

    cost_before = float(0.5 * np.sum(problem.residuals(problem.theta0[problem.free]) ** 2))
    solution = least_squares(
        problem.residuals,
        x0,
        jac=jacobian,
        bounds=(problem.lower, problem.upper),
        method="trf",
        ftol=options.tolerance,
        max_nfev=options.max_iterations,
    )
    x = solution.x
    low, high, covariance = _confidence(problem, solution)
    names = [n for n, free in zip(problem.names, problem.free, strict=True) if free]
    tol = options.at_bound_tolerance
    at_bound = [
        n
        for n, v, lo, hi in zip(names, x, problem.lower, problem.upper, strict=True)
        if v - lo < tol or hi - v < tol
    ]
    width = np.maximum(x - low, high - x)
    # Log-factors: a half-width w means a factor exp(w); times are judged against their own value.
    is_time = np.isin(np.array(names), _TIMES)
    relative = np.where(is_time, width / np.maximum(np.abs(x), 1e-9), np.expm1(width))
    return FitResult(
        parameters=problem.parameters(x),
        low=problem.parameters(low),
        high=problem.parameters(high),
        at_bound=tuple(at_bound),
        poorly_determined=tuple(
            n for n, r in zip(names, relative, strict=True) if r > options.poorly_determined
        ),
        fixed=tuple(str(n) for n in np.array(problem.names)[~problem.free]),
        cost_before=cost_before,
        cost_after=float(solution.cost),
        iterations=iterations,
        correlations=_strong_correlations(names, covariance, options.strong_correlation),
        bounds=problem.bounds(),
    )


def _full(parameters: ArmParameters) -> np.ndarray:
    """Every entry of the fitted vector in its own unit, fixed ones included: ``[P*J + 2]``."""
    return np.r_[parameters.vector(), parameters.latency, parameters.command_filter]


def _factor_bounds(names: Sequence[str], options: FitOptions) -> np.ndarray:
    """``[P, 2]`` factor bounds of the joint parameters ``names``: a single parameter's entry wins over
    its kind's, which wins over ``options.factor_bounds``."""
    bounds = np.tile(np.asarray(options.factor_bounds, dtype=np.float64), (len(names), 1))
    kinds = {entry: (lo, hi) for entry, lo, hi in options.parameter_bounds if "[" not in entry}
    singles = {entry: (lo, hi) for entry, lo, hi in options.parameter_bounds if "[" in entry}
    unknown = [e for e in [*kinds, *singles] if e not in JOINT_PARAMETERS and e not in names]
    if unknown:
        raise ValueError(
            f"bounds for {unknown}: not one of {list(JOINT_PARAMETERS)} or a name like {names[0]!r}"
        )
    for i, name in enumerate(names):
        kind = name.split("[")[0]
        bounds[i] = singles.get(name, kinds.get(kind, bounds[i]))
    if np.any(bounds[:, 0] <= 0) or np.any(bounds[:, 0] >= bounds[:, 1]):
        given = options.parameter_bounds or options.factor_bounds
        raise ValueError(f"factor bounds must satisfy 0 < low < high, got {given}")
    return bounds


def _confidence(problem: _Problem, solution) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """95% intervals of the parameter vector from the block-robust sandwich covariance (see the module
    docstring), and the covariance."""
    jac, residuals = solution.jac, solution.fun
    blocks = problem.blocks(len(residuals))
    scores = np.zeros((int(blocks.max()) + 1, jac.shape[1]))
    np.add.at(scores, blocks, jac * residuals[:, None])
    bread = np.linalg.pinv(jac.T @ jac)
    covariance = bread @ (scores.T @ scores) @ bread
    half = _Z95 * np.sqrt(np.maximum(np.diag(covariance), 0.0))
    low = np.maximum(solution.x - half, problem.lower)
    return low, np.minimum(solution.x + half, problem.upper), covariance


def _strong_correlations(
    names: Sequence[str], covariance: np.ndarray, threshold: float
) -> tuple[tuple[str, str, float], ...]:
    sd = np.sqrt(np.maximum(np.diag(covariance), 1e-300))
    corr = covariance / np.outer(sd, sd)
    pairs = [
        (names[i], names[j], float(corr[i, j]))
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if abs(corr[i, j]) >= threshold
    ]
    return tuple(sorted(pairs, key=lambda p: -abs(p[2])))
