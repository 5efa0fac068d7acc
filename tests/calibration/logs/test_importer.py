"""``wm-planner data import``: logged runs as a dataset that trains, and fine-tuning on them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from calibration.fitting.excitation import ExcitationOptions, excitation_trajectory
from calibration.ground_truth.synthetic import SensorNoise, SyntheticRun, simulate_run, write_run_bag
from calibration.logs.joint_log import CommandMessage, MeasuredStates
from calibration.model.parameters import read_parameters
from sim.scene import HOME_QPOS, SceneHandles, load_scene
from tests.conftest import run_cli
from wm_planner.config import default_robot_spec
from wm_planner.data import EpisodeDataset
from wm_planner.observation import DEFAULT_OBJECT_POSE, OBSERVATION_LAYOUT

ROBOT = default_robot_spec()
TRAJECTORY_TOPIC = "/joint_trajectory_controller/joint_trajectory"


def _velocity_run(seconds: float = 3.0) -> SyntheticRun:
    """Joint j moves at 0.1 + 0.01 j rad/s from 0.1 s, commanded so every 2 ms, measured exactly."""
    stamps = np.round(np.arange(0.0, seconds, 0.002), 9)
    speed = 0.1 + 0.01 * np.arange(7)
    moving = np.clip(stamps - 0.1, 0.0, None)[:, None]
    position = HOME_QPOS[None] + speed[None] * moving
    velocity = np.where(stamps[:, None] >= 0.1, speed[None], 0.0)
    states = MeasuredStates(stamps, position, velocity, np.zeros_like(position))
    commands = [CommandMessage(float(t), speed[None]) for t in stamps[stamps >= 0.1]]
    return SyntheticRun(states, commands, "velocity")


def test_a_bag_becomes_episodes_on_the_control_grid(tmp_path: Path):
    cube = np.array([0.45, 0.05, 0.025, 1.0, 0.0, 0.0, 0.0])
    bag = write_run_bag(
        _velocity_run(),
        tmp_path / "run",
        tuple(f"fr3_{n}" for n in ROBOT.joint_names),
        command_topic="/forward_velocity_controller/commands",
        origin_ns=1_700_000_000_000_000_000,
        gripper=("fr3_finger_joint1",),
        object_pose=cube,
    )
    out = tmp_path / "data"
    done = run_cli("data", "import", str(bag), "--out", str(out), "--episode-steps", "50")
    assert done.returncode == 0, done.stderr
    assert (
        "imported 1 logs as 3 episodes (144 transitions); skipped 150 /joint_states.without_arm_joints"
        in done.stdout
    )
    dataset = EpisodeDataset(out)
    assert dataset.manifest.action_kind == "joint_position_delta" and dataset.manifest.objects
    episodes = [dataset.read(p) for p in dataset.episode_paths()]
    assert [e.num_transitions for e in episodes] == [50, 50, 44]
    # Actions: the commanded velocity integrated over each 20 ms period.
    speed = 0.1 + 0.01 * np.arange(7)
    np.testing.assert_allclose(episodes[1].actions, np.tile(0.02 * speed, (50, 1)), atol=1e-6)
    q = OBSERVATION_LAYOUT.slice("joint_pos")
    np.testing.assert_allclose(
        np.diff(episodes[1].observations[:, q], axis=0), np.tile(0.02 * speed, (50, 1)), atol=1e-5
    )
    cube_at = slice(OBSERVATION_LAYOUT.slice("cube_pos").start, OBSERVATION_LAYOUT.slice("cube_quat").stop)
    np.testing.assert_allclose(episodes[0].observations[:, cube_at], np.tile(cube, (51, 1)), atol=1e-6)


def _perturbed_bags(out: Path, runs: int) -> list[Path]:
    """Excitation runs of a scene whose servos are half as stiff and 30 ms late, the cube at rest."""
    model = load_scene()
    truth = read_parameters(model, SceneHandles.of(model, ROBOT.joint_names)).scaled(
        {"kp": 0.5, "kv": 0.6}, latency=0.03
    )
    bags = []
    for k in range(runs):
        trajectory = excitation_trajectory(
            ROBOT, HOME_QPOS, options=ExcitationOptions(duration=6.0), seed=100 + k
        )
        run = simulate_run(model, ROBOT, truth, trajectory, HOME_QPOS, noise=SensorNoise(), seed=k)
        bags.append(
            write_run_bag(
                run,
                out / f"run_{k}",
                ROBOT.joint_names,
                command_topic=TRAJECTORY_TOPIC,
                object_pose=DEFAULT_OBJECT_POSE,
            )
        )
    return bags


@pytest.mark.slow
def test_fine_tuning_on_imported_logs_lowers_the_10_step_error_on_held_out_logs(
    tmp_path: Path, tiny_run: Path, tiny_config: Path
):
    bags = _perturbed_bags(tmp_path / "bags", 5)
    for name, part in (("fit", bags[:4]), ("held_out", bags[4:])):
        done = run_cli("data", "import", *map(str, part), "--out", str(tmp_path / name))
        assert done.returncode == 0, done.stderr
    tuned = tmp_path / "tuned"
    done = run_cli(
        "train",
        "--data",
        str(tmp_path / "fit"),
        "--out",
        str(tuned),
        "--init",
        str(tiny_run),
        "--config",
        str(tiny_config),
    )
    assert done.returncode == 0, done.stderr
    errors = {}
    for name, run in (("before", tiny_run), ("after", tuned)):
        bundle = tmp_path / f"bundle_{name}"
        assert (
            run_cli(
                "export", "--run", str(run), "--out", str(bundle), "--samples", "32", "--horizon", "6"
            ).returncode
            == 0
        )
        report = tmp_path / f"{name}.json"
        done = run_cli(
            "model-eval", "--model", str(bundle), "--data", str(tmp_path / "held_out"), "--json", str(report)
        )
        assert done.returncode == 0, done.stderr
        errors[name] = json.loads(report.read_text())["k"]["10"]["ee_pos_m"]["median"]
    assert errors["after"] < 0.8 * errors["before"], errors
    # sim2real shows both on the held-out bag, the calibrated scene fitted to the other four.
    profile = tmp_path / "profile" / "profile.yaml"
    done = run_cli("sysid", "--log", *map(str, bags), "--held-out", "1", "--out", str(profile), timeout=300)
    assert done.returncode == 0, done.stderr
    args = ["sim2real", "--real", str(bags[4]), "--profile", str(profile), "--out", str(tmp_path / "s2r")]
    done = run_cli(
        *args, "--model", str(tmp_path / "bundle_before"), "--model", str(tmp_path / "bundle_after")
    )
    assert done.returncode == 0, done.stderr
    assert "bundle_before 10-step EE error" in done.stdout and "bundle_after 10-step EE error" in done.stdout
    metrics = json.loads((tmp_path / "s2r" / "metrics.json").read_text())
    before, after = (m["k"]["10"]["ee_pos_m"]["median"] for m in metrics["world_models"])
    assert after < before


def test_fine_tuning_refuses_data_that_the_model_does_not_see_alike(tmp_path: Path, tiny_run: Path):
    from sim.gymnasium_env import collect_gym

    pytest.importorskip("gymnasium")
    data = collect_gym("Reacher-v5", 2, tmp_path / "reacher", progress=False)
    done = run_cli("train", "--data", str(data), "--out", str(tmp_path / "run"), "--init", str(tiny_run))
    assert done.returncode == 2 and "--init" in done.stderr and "observation_layout differs" in done.stderr
