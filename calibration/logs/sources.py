"""Where logged runs come from: rosbag2 bags, and the project's episode files and datasets.

An episode (``sim.collect``, or any dataset with joint position deltas as actions) becomes a
:class:`JointLog` the way :class:`sim.ArmEnv` ran it: the commanded target starts at the first measured
position, moves by each action over its control period in a linear ramp, and the servo sees the ramp's
value at the end of each physics step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.logs.bags import read_joint_log
from calibration.logs.joint_log import BadLogError, JointLog
from wm_planner.data import EpisodeDataset
from wm_planner.data.dataset import DatasetManifest, read_manifest
from wm_planner.data.episode import read_episode

__all__ = ["LogReading", "episode_log", "read_logs"]

_ACTION_KIND = "joint_position_delta"


def episode_log(
    name: str, observations: np.ndarray, actions: np.ndarray, manifest: DatasetManifest, *, dt: float
) -> JointLog:
    """An episode (``observations [T+1, O]``, ``actions [T, J]``) on a grid of step ``dt``."""
    if manifest.action_kind != _ACTION_KIND:
        raise BadLogError(f"{name}: actions are {manifest.action_kind!r}, not {_ACTION_KIND!r}")
    layout = manifest.observation_layout
    missing = {"joint_pos", "joint_vel"} - set(layout.names)
    if missing:
        raise BadLogError(f"{name}: observations lack {sorted(missing)}")
    period = manifest.robot.control_period
    stride = round(period / dt)
    if stride < 1 or abs(stride * dt - period) > 1e-9:
        raise BadLogError(f"{name}: control period {period} s is not a whole number of {dt} s steps")
    q = observations[:, layout.slice("joint_pos")].astype(np.float64)
    qd = observations[:, layout.slice("joint_vel")].astype(np.float64)
    knots = q[0] + np.concatenate([np.zeros((1, q.shape[1])), np.cumsum(actions, axis=0, dtype=np.float64)])
    knot_times = np.arange(len(knots)) * period
    time = np.arange(len(actions) * stride + 1) * dt

    def on_grid(values: np.ndarray, at: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(at, knot_times, values[:, j]) for j in range(values.shape[1])], axis=1)

    # The servo's target during step k is the ramp's value at the step's end.
    command = on_grid(knots, time + dt)
    return JointLog(name, manifest.robot.joint_names, time, command, on_grid(q, time), on_grid(qd, time))


def _manifest_above(path: Path) -> tuple[Path, DatasetManifest]:
    for parent in path.parents[:3]:
        if (parent / "manifest.json").exists():
            return parent, read_manifest(parent)
    raise BadLogError(f"{path}: no dataset manifest.json above this episode file")


@dataclass(frozen=True)
class LogReading:
    """How to read bags of a robot that does things its own way: the command topic (default: the one
    with messages), its kind (default: from its type and name), and logged joint name -> robot joint name
    (default: the robot's names, or them behind a shared prefix)."""

    command_topic: str | None = None
    command_kind: str | None = None
    joint_map: Mapping[str, str] = field(default_factory=dict)


def read_logs(
    paths: Sequence[str | Path], joint_names: Sequence[str], *, dt: float, reading: LogReading | None = None
) -> list[JointLog]:
    """Every run at ``paths``: a bag directory (read as ``reading`` says), an episode file (``.npz``
    inside a dataset) or a dataset directory (all its episodes)."""
    reading = reading or LogReading()
    logs: list[JointLog] = []
    for path in map(Path, paths):
        if path.is_file() and path.suffix == ".npz":
            _, manifest = _manifest_above(path)
            episode = read_episode(path)
            logs.append(episode_log(path.name, episode.observations, episode.actions, manifest, dt=dt))
        elif (path / "manifest.json").exists():
            dataset = EpisodeDataset(path)
            logs += [
                episode_log(p.name, e.observations, e.actions, dataset.manifest, dt=dt)
                for p, e in dataset.iter_episodes()
            ]
        else:
            logs.append(
                read_joint_log(
                    path,
                    joint_names,
                    dt=dt,
                    command_topic=reading.command_topic,
                    command_kind=reading.command_kind,
                    joint_map=reading.joint_map,
                )
            )
    for log in logs:
        if tuple(log.joint_names) != tuple(joint_names):
            raise BadLogError(
                f"{log.name}: joints {list(log.joint_names)} are not the robot's {list(joint_names)}"
            )
    return logs
