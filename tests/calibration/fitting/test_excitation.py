import numpy as np

from calibration.fitting.excitation import ExcitationOptions, excitation_trajectory
from sim.scene import HOME_QPOS
from wm_planner.config import default_robot_spec

ROBOT = default_robot_spec()


def test_excitation_stays_within_limits_and_returns_to_rest_at_the_start():
    options = ExcitationOptions(duration=12.0)
    traj = excitation_trajectory(ROBOT, HOME_QPOS, options=options, seed=3)
    q, qd = traj.positions, traj.velocities
    assert len(q) == round(12.0 / ROBOT.control_period)
    assert np.all(q >= ROBOT.lower() + options.margin) and np.all(q <= ROBOT.upper() - options.margin)
    assert np.all(np.abs(qd) <= options.speed_fraction * np.asarray(ROBOT.velocity_limits) + 1e-6)
    accel = np.diff(qd, axis=0) / traj.dt
    assert np.all(np.abs(accel) <= options.accel_fraction * np.asarray(ROBOT.acceleration_limits) * 1.05)
    np.testing.assert_allclose(q[-1], HOME_QPOS, atol=1e-9)
    np.testing.assert_allclose(q[0], HOME_QPOS, atol=1e-3)
    assert np.all(qd[-1] == 0.0)


def test_every_joint_sweeps_at_varying_speeds_with_reversals():
    traj = excitation_trajectory(ROBOT, HOME_QPOS, seed=0)
    qd = traj.velocities
    reversals = np.sum(np.diff(np.sign(qd[np.abs(qd).max(axis=1) > 0]), axis=0) != 0, axis=0)
    assert np.all(reversals >= 4)
    assert np.all(np.ptp(traj.positions, axis=0) > 0.2)
    assert np.all(np.std(np.abs(qd), axis=0) > 0.1 * np.abs(qd).max(axis=0))


def test_seeds_give_different_runs_and_the_same_seed_the_same():
    a, b = (excitation_trajectory(ROBOT, HOME_QPOS, seed=s) for s in (0, 1))
    np.testing.assert_array_equal(a.positions, excitation_trajectory(ROBOT, HOME_QPOS, seed=0).positions)
    assert np.max(np.abs(a.positions - b.positions)) > 0.1
