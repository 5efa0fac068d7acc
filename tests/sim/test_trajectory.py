from __future__ import annotations

import numpy as np

from sim.trajectory import TrajectoryFollower


def test_cubic_segments_pass_through_knots_with_their_velocities() -> None:
    follower = TrajectoryFollower(np.zeros(2))
    times = np.array([0.1, 0.2])
    positions = np.array([[0.1, -0.1], [0.3, -0.2]])
    velocities = np.array([[2.0, -1.0], [0.0, 0.0]])
    follower.follow(
        1.0, times, positions, velocities, now=1.0, current=np.zeros(2), current_velocity=np.zeros(2)
    )
    for t, p, v in zip(1.0 + times, positions, velocities, strict=True):
        position, velocity = follower.sample(t - 1e-9)
        assert np.allclose(position, p, atol=1e-6) and np.allclose(velocity, v, atol=1e-5)
    assert np.allclose(follower.sample(5.0)[0], positions[-1])
    assert np.allclose(follower.sample(5.0)[1], 0.0)
    assert np.allclose(follower.sample(1.0)[0], 0.0)


def test_positions_only_interpolate_linearly_from_the_current_setpoint() -> None:
    follower = TrajectoryFollower(np.array([1.0]))
    follower.follow(
        0.0,
        np.array([0.5]),
        np.array([[2.0]]),
        None,
        now=0.0,
        current=np.array([1.0]),
        current_velocity=np.zeros(1),
    )
    position, velocity = follower.sample(0.25)
    assert np.allclose(position, 1.5) and np.allclose(velocity, 2.0)


def test_points_already_past_are_dropped_and_a_late_trajectory_holds_its_end() -> None:
    follower = TrajectoryFollower(np.zeros(1))
    follower.follow(
        0.0,
        np.array([0.1, 0.2]),
        np.array([[1.0], [2.0]]),
        None,
        now=0.15,
        current=np.zeros(1),
        current_velocity=np.zeros(1),
    )
    assert np.allclose(follower.sample(0.2)[0], 2.0)
    follower.follow(
        0.0,
        np.array([0.1]),
        np.array([[3.0]]),
        None,
        now=1.0,
        current=np.zeros(1),
        current_velocity=np.zeros(1),
    )
    assert np.allclose(follower.sample(1.0)[0], 3.0)
