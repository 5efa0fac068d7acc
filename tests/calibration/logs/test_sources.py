"""Episodes of the project's own format are logs too: replayed in the scene they were collected in, the
arm follows the same path."""

from pathlib import Path

import numpy as np
import pytest

from calibration.fitting.sysid import tracking_rmse
from calibration.logs.joint_log import BadLogError
from calibration.logs.sources import read_logs
from calibration.model.parameters import read_parameters
from calibration.model.replay import Replayer
from sim.collect import collect
from sim.scene import SceneHandles, load_scene
from wm_planner.config import default_robot_spec

ROBOT = default_robot_spec()


def test_collected_episodes_replay_in_the_scene_they_came_from(tmp_path: Path):
    collect("reach", 2, tmp_path / "data", seed=2, episode_steps=40, progress=False)
    model = load_scene()
    dt = model.opt.timestep
    logs = read_logs([tmp_path / "data"], ROBOT.joint_names, dt=dt)
    single = read_logs([sorted((tmp_path / "data").rglob("*.npz"))[0]], ROBOT.joint_names, dt=dt)
    assert len(logs) == 2 and len(single) == 1
    np.testing.assert_array_equal(single[0].command, logs[0].command)
    assert logs[0].duration == pytest.approx(40 * ROBOT.control_period)
    nominal = read_parameters(model, SceneHandles.of(model, ROBOT.joint_names))
    replayer = Replayer(model, ROBOT, threads=1)
    for log in logs:
        q = replayer.replay(log, [nominal])[0][0]
        # At the recorded observations (every control period) the replay is the episode, up to its
        # float32 storage; between them the log interpolates.
        every_period = slice(None, None, round(ROBOT.control_period / dt))
        np.testing.assert_allclose(q[every_period], log.position[every_period], atol=2e-5)
        softer = replayer.replay(log, [nominal.scaled({"kp": 0.5})])[0][0]
        assert np.max(tracking_rmse(log, softer)) > 5 * np.max(tracking_rmse(log, q))


def test_an_episode_outside_a_dataset_is_refused(tmp_path: Path):
    stray = tmp_path / "a" / "b" / "c" / "d" / "episode_000000.npz"
    stray.parent.mkdir(parents=True)
    np.savez(stray, observations=np.zeros((2, 24)), actions=np.zeros((1, 7)), goal=np.zeros(3))
    with pytest.raises(BadLogError, match="no dataset manifest"):
        read_logs([stray], ROBOT.joint_names, dt=0.002)
