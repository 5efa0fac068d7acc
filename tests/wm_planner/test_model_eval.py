"""Contact metrics on hand-made windows whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from sim.tasks import CUBE, OBSERVATION_LAYOUT
from wm_planner.model_eval import contact_summary

CUBE_AT = OBSERVATION_LAYOUT.slice("cube_pos")


def _windows(
    real_paths: list[float], imagined_paths: list[float], horizon: int = 4
) -> tuple[np.ndarray, ...]:
    """Windows where the cube slides along x to the given final distance, linearly over the horizon."""
    ramp = np.linspace(0.0, 1.0, horizon + 1)
    true = np.zeros((len(real_paths), horizon + 1, OBSERVATION_LAYOUT.size))
    predicted = np.zeros((len(real_paths), horizon, OBSERVATION_LAYOUT.size))
    for i, (real, imagined) in enumerate(zip(real_paths, imagined_paths, strict=True)):
        true[i, :, CUBE_AT.start] = 0.5 + real * ramp
        predicted[i, :, CUBE_AT.start] = 0.5 + imagined * ramp[1:]
    return predicted, true


def test_false_and_missed_motion_and_the_moving_error_are_counted_as_defined() -> None:
    # still windows: one imagined to slide 2 cm (false), one 5 mm (not false), two exact
    # moving windows: 2 cm imagined 1 mm (missed), 3 cm imagined 2.5 cm (5 mm off), 4 mm imagined 4 mm
    real = [0.0, 0.001, 0.0, 0.002, 0.02, 0.03, 0.004]
    imagined = [0.02, 0.006, 0.0, 0.002, 0.001, 0.025, 0.004]
    result = contact_summary(*_windows(real, imagined), OBSERVATION_LAYOUT, (CUBE,))
    assert result["windows"] == 7
    assert result["still_windows"] == 4 and result["moving_windows"] == 3
    assert result["false_motion_rate"] == pytest.approx(1 / 4)
    assert result["missed_motion_rate"] == pytest.approx(1 / 2)  # of the two windows moving > 1 cm
    assert result["object_error_moving_m"] == pytest.approx(0.005)  # median of 19 mm, 5 mm, 0 mm
    assert result["object_error_still_m"] == pytest.approx(0.0025)  # median of 20, 5, 0, 0 mm


def test_without_moving_windows_the_moving_figures_are_absent_not_zero() -> None:
    result = contact_summary(*_windows([0.0, 0.001], [0.0, 0.0]), OBSERVATION_LAYOUT, (CUBE,))
    assert result["false_motion_rate"] == 0.0
    assert result["missed_motion_rate"] is None
    assert result["object_error_moving_m"] is None
