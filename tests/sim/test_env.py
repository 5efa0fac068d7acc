import numpy as np
import pytest

from sim import ACTION_LAYOUT, OBSERVATION_LAYOUT, ArmEnv, EnvOptions
from wm_planner.config import default_robot_spec

Q, QD, EE, CUBE = (OBSERVATION_LAYOUT.slice(n) for n in ("joint_pos", "joint_vel", "ee_pos", "cube_pos"))


@pytest.fixture(scope="module")
def reach_env() -> ArmEnv:
    return ArmEnv("reach")


def test_observation_layout_and_shapes(reach_env: ArmEnv) -> None:
    obs = reach_env.reset(seed=0)
    assert OBSERVATION_LAYOUT.names == ("joint_pos", "joint_vel", "ee_pos", "cube_pos", "cube_quat")
    assert obs.shape == (OBSERVATION_LAYOUT.size,) == (24,)
    assert ACTION_LAYOUT.size == 7
    obs, reward, _, _, info = reach_env.step(np.zeros(7))
    assert obs.shape == (24,) and info["action"].shape == (7,)
    assert reward == pytest.approx(-info["error"])
    np.testing.assert_allclose(np.linalg.norm(obs[20:24]), 1.0, atol=1e-6)


def test_reset_is_reproducible(reach_env: ArmEnv) -> None:
    a, goal_a = reach_env.reset(seed=7), reach_env.goal.copy()
    b, goal_b = reach_env.reset(seed=7), reach_env.goal.copy()
    c = reach_env.reset(seed=8)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(goal_a, goal_b)
    assert not np.allclose(a, c)


def test_actions_are_clipped_to_velocity_limits(reach_env: ArmEnv) -> None:
    reach_env.reset(seed=0)
    limit = default_robot_spec().max_step()
    _, _, _, _, info = reach_env.step(np.full(7, 10.0))
    np.testing.assert_allclose(np.abs(info["action"]), limit)
    with pytest.raises(ValueError, match="action must be finite"):
        reach_env.step(np.full(7, np.nan))


def test_commands_never_leave_the_joint_limits(reach_env: ArmEnv) -> None:
    reach_env.reset(seed=1)
    spec = default_robot_spec()
    for t in range(200):
        obs, *_ = reach_env.step(np.full(7, 1.0 if t < 100 else -1.0))
        assert np.all(reach_env.command <= spec.upper()) and np.all(reach_env.command >= spec.lower())
        assert np.all(obs[Q] <= spec.upper() + 1e-3) and np.all(obs[Q] >= spec.lower() - 1e-3)


def test_arm_follows_commands(reach_env: ArmEnv) -> None:
    q0 = reach_env.reset(seed=2)[Q]
    delta = np.array([0.02, -0.01, 0.0, 0.015, 0.0, -0.02, 0.01])
    for _ in range(25):
        obs, *_ = reach_env.step(delta)
    for _ in range(25):
        obs, *_ = reach_env.step(np.zeros(7))
    np.testing.assert_allclose(obs[Q] - q0, 25 * delta, atol=5e-3)
    np.testing.assert_allclose(obs[QD], 0.0, atol=0.05)


def test_reach_succeeds_when_driven_to_the_goal(reach_env: ArmEnv) -> None:
    obs = reach_env.reset(seed=3)
    for _ in range(150):
        error = reach_env.goal - obs[EE]
        jac = reach_env.ee_jacobian()
        obs, _, terminated, _, info = reach_env.step(np.linalg.pinv(jac) @ (0.3 * error))
        if terminated:
            break
    assert terminated and info["error"] <= 0.02


def test_push_goal_is_on_the_table_and_away_from_the_cube() -> None:
    env = ArmEnv("push")
    for seed in range(20):
        obs = env.reset(seed=seed)
        distance = np.linalg.norm(env.goal[:2] - obs[CUBE][:2])
        assert 0.08 <= distance <= 0.18 and env.goal[2] == 0.0
        assert env.error() == pytest.approx(distance)


def test_control_period_must_divide_into_physics_steps() -> None:
    with pytest.raises(ValueError, match="not a whole number of physics steps"):
        ArmEnv(robot=default_robot_spec(control_period=0.003))
    env = ArmEnv(robot=default_robot_spec(control_period=0.01), options=EnvOptions(timestep=0.001))
    assert env.substeps == 10
