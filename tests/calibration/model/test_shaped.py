"""The shaped delay: the pure delay is in its class, its filter is a first-order lag, and a fit recovers
the delay and time constants of an arm that is one."""

from __future__ import annotations

import numpy as np
import pytest

from calibration.logs.commands import reference_path
from calibration.logs.joint_log import JointLog
from calibration.model.shaped import ShapedDelay, fit_shaped_delay, low_pass

DT = 0.002
JOINTS = 3


def _commands(seed: int, seconds: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """A time grid ``[T]`` and smooth velocity commands ``[T, J]`` (a few sines per joint, from rest)."""
    rng = np.random.default_rng(seed)
    time = np.arange(round(seconds / DT)) * DT
    frequencies, phases = rng.uniform(0.3, 2.0, (3, JOINTS)), rng.uniform(0, 2 * np.pi, (3, JOINTS))
    ramp = np.clip(time / 0.5, 0.0, 1.0)[:, None]
    waves = np.sin(2 * np.pi * frequencies[:, None] * time[None, :, None] + phases[:, None]).sum(0)
    return time, ramp * 0.2 * waves


def _log(time: np.ndarray, command: np.ndarray, position: np.ndarray, kind: str, name: str) -> JointLog:
    return JointLog(
        name,
        tuple(f"j{k}" for k in range(JOINTS)),
        time,
        command,
        position,
        np.zeros_like(position),
        command_kind=kind,
    )


def test_a_first_order_section_lags_a_step_by_its_time_constant() -> None:
    step = np.r_[np.zeros(10), np.ones(990)][:, None]
    out = low_pass(step, np.array([0.05]), DT)
    # 63% of the way after one time constant (25 steps of 2 ms), and a constant input stays put.
    assert out[10 + 25 - 1, 0] == pytest.approx(1 - np.exp(-1), abs=0.02)
    assert np.all(out[:10] == 0.0)


@pytest.mark.parametrize("kind", ["velocity", "position"])
def test_with_no_filter_it_is_the_delay_baseline(kind: str) -> None:
    time, command = _commands(seed=0)
    log = _log(time, command, np.zeros_like(command), kind, "run")
    model = ShapedDelay(0.013, np.zeros((2, JOINTS)))
    np.testing.assert_allclose(model.path(log), reference_path(log, 0.013), atol=1e-12)


def test_a_fit_recovers_the_delay_and_time_constants_of_a_shaped_arm() -> None:
    truth = ShapedDelay(0.011, np.array([[0.02, 0.035, 0.008]]))
    rng = np.random.default_rng(3)
    logs = []
    for seed in range(2):
        time, command = _commands(seed)
        blank = _log(time, command, np.zeros_like(command), "velocity", f"run{seed}")
        measured = truth.path(blank) + rng.normal(0.0, 2e-5, command.shape)
        logs.append(_log(time, command, measured, "velocity", f"run{seed}"))
    fitted = fit_shaped_delay(logs, order=1, start_latency=0.03, max_latency=0.1)
    assert fitted.latency == pytest.approx(truth.latency, abs=5e-4)
    np.testing.assert_allclose(fitted.time_constants, truth.time_constants, atol=1e-3)
    # A second section has nothing to add: the fit may not end worse than its start.
    second = fit_shaped_delay(logs, order=2, start_latency=0.03, max_latency=0.1, start=fitted)
    error = [np.sqrt(np.mean((m.path(logs[0]) - logs[0].position) ** 2)) for m in (fitted, second)]
    assert error[1] <= error[0] * (1 + 1e-9)
