"""The command filter: for any target sequence, every command is within the limits and continuous."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wm_planner.config import SafetyConfig, default_robot_spec
from wm_planner.safety import CommandFilter

ROBOT = default_robot_spec()
J = len(ROBOT.joint_names)
TOL = 1e-9

anything = st.floats(allow_nan=True, allow_infinity=True)
near = st.floats(min_value=-4.0, max_value=4.0)
targets = st.lists(
    st.lists(st.one_of(anything, near, near, near), min_size=J, max_size=J), min_size=1, max_size=60
)
unit = st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=J, max_size=J)


def start_filter(fraction: list[float], config: SafetyConfig | None = None) -> CommandFilter:
    f = CommandFilter(ROBOT, config)
    f.reset(f.lower + np.asarray(fraction) * (f.upper - f.lower))
    return f


@settings(max_examples=300, deadline=None)
@given(start=unit, sequence=targets, speed=st.floats(min_value=0.1, max_value=1.0))
def test_every_command_is_within_limits_and_continuous(start, sequence, speed) -> None:
    f = start_filter(start, SafetyConfig(speed_scale=speed, position_margin=0.05))
    previous_position, previous_step = f.position, np.zeros(J)
    for target in sequence:
        command = f.filter(np.asarray(target))
        step = command.position - previous_position
        assert np.all(np.isfinite(command.position)) and np.all(np.isfinite(command.velocity))
        assert np.all(command.position >= f.lower - TOL) and np.all(command.position <= f.upper + TOL)
        assert np.all(np.abs(step) <= f.max_step + TOL)
        assert np.all(np.abs(step - previous_step) <= f.acc_step + TOL)
        np.testing.assert_allclose(command.velocity * f.dt, step, atol=1e-12)
        assert "position" not in command.limited  # the braking room always keeps it off the limits
        previous_position, previous_step = command.position, step


@settings(max_examples=100, deadline=None)
@given(start=unit, far=st.lists(st.floats(min_value=-1.0, max_value=1.0), min_size=J, max_size=J))
def test_direction_is_kept_from_rest(start, far) -> None:
    """From rest, away from the limits, a far target is approached along the straight line to it."""
    f = start_filter([0.4 + 0.2 * s for s in start])
    direction = np.asarray(far)
    if np.linalg.norm(direction) < 1e-3:
        return
    command = f.filter(f.position + 100.0 * direction)
    assert {"velocity", "acceleration"} & set(command.limited)
    moved = command.velocity / np.linalg.norm(command.velocity)
    np.testing.assert_allclose(moved, direction / np.linalg.norm(direction), atol=1e-9)


def test_a_reachable_target_passes_unchanged() -> None:
    f = start_filter([0.5] * J)
    target = f.position + 0.2 * f.acc_step
    command = f.filter(target)
    np.testing.assert_array_equal(command.position, target)
    assert command.limited == ()


def test_non_finite_targets_bring_a_moving_arm_smoothly_to_rest() -> None:
    f = start_filter([0.5] * J)
    for _ in range(40):
        f.filter(f.position + f.max_step)  # full speed in every joint
    speeds = []
    for _ in range(200):
        command = f.filter(np.full(J, np.nan))
        assert "non_finite" in command.limited
        speeds.append(np.abs(command.velocity).max())
    assert np.all(np.diff(speeds) <= 1e-12) and speeds[-1] == 0.0


def test_reset_from_a_moving_arm_still_respects_position_and_speed() -> None:
    f = CommandFilter(ROBOT)
    f.reset(np.asarray(ROBOT.position_upper), velocity=np.full(J, 100.0))
    command = f.filter(np.full(J, 1e300))
    assert np.all(command.position <= f.upper) and np.all(np.abs(command.velocity) * f.dt <= f.max_step + TOL)


def test_bad_shapes_and_margins_are_refused() -> None:
    f = CommandFilter(ROBOT)
    with pytest.raises(ValueError, match="command must have 7 joints"):
        f.filter(np.zeros(6))
    with pytest.raises(ValueError, match="reset position must be 7 finite values"):
        f.reset(np.full(J, np.nan))
    with pytest.raises(ValueError, match=r"position_margin 2\.0 rad leaves no room"):
        CommandFilter(ROBOT, SafetyConfig(position_margin=2.0))


def test_a_fork_previews_commands_without_moving_the_filter_it_came_from() -> None:
    f = start_filter([0.5] * J)
    f.filter(f.position + 0.01)
    before = f.position
    preview = f.fork()
    for _ in range(20):
        preview.filter(preview.position + 1.0)
    assert np.array_equal(f.position, before), "the preview moved the original filter"
    # The original continues exactly as a filter that never forked.
    twin = start_filter([0.5] * J)
    twin.filter(twin.position + 0.01)
    np.testing.assert_array_equal(
        f.filter(f.position + 0.5).position, twin.filter(twin.position + 0.5).position
    )
    # And the preview went its own way from the shared state.
    assert not np.array_equal(preview.position, before)
