"""``wm-planner data import``: logged runs of the arm become a dataset ``wm-planner train`` accepts.

Each bag is read as the calibration tools read it (:func:`calibration.logs.bags.read_joint_log`, with the
same topic, kind and joint-name options) and resampled on the control grid: observations from the
measured joints (and the object's logged pose) every control period, and as actions the change of the
commanded path over each period, which is what the arm's world model is trained to take. Long runs are
cut into episodes of ``episode_steps`` periods so that training can hold some out for validation. Each
episode's goal is the last end-effector goal sent before it ended (else where the tool ended up).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibration.logs.bags import read_goals, read_poses
from calibration.logs.episodes import log_episode
from calibration.logs.joint_log import BadLogError, JointLog
from calibration.logs.sources import LogReading, read_logs
from sim.collect import arm_manifest
from wm_planner.config import RobotSpec
from wm_planner.data import DatasetWriter, Episode
from wm_planner.observation import EE_POS, ObservationBuilder
from wm_planner.progress import progress_bar

__all__ = ["ImportSummary", "import_logs", "log_episodes"]

OBJECT_TOPIC = "/object_pose"
GOAL_TOPIC = "/planner_node/goal"


@dataclass(frozen=True)
class ImportSummary:
    out: Path
    logs: int
    episodes: int
    transitions: int
    skipped: dict[str, int]

    def line(self) -> str:
        skipped = "".join(f"; skipped {n} {topic} messages" for topic, n in self.skipped.items())
        return (
            f"imported {self.logs} logs as {self.episodes} episodes ({self.transitions} transitions)"
            f"{skipped} -> {self.out}"
        )


def _on_grid(stamps_ns: np.ndarray, values: np.ndarray, log: JointLog) -> np.ndarray:
    """The latest of ``values [M, K]`` at each of the log's grid times (the first before they start)."""
    times = log.start_ns + np.round(log.time * 1e9).astype(np.int64)
    latest = np.clip(np.searchsorted(stamps_ns, times, side="right") - 1, 0, len(values) - 1)
    return values[latest]


def log_episodes(
    log: JointLog,
    robot: RobotSpec,
    *,
    object_poses: np.ndarray | None,
    goals: Sequence[tuple[float, np.ndarray]] = (),
    episode_steps: int,
) -> list[Episode]:
    """``log`` on ``robot``'s control grid, cut into episodes of at most ``episode_steps`` periods
    (``object_poses [T, 7]`` on the log's grid, or the resting default; ``goals``: ``(time, xyz)`` on
    the log's clock)."""
    observations, actions = log_episode(log, robot.control_period, ObservationBuilder(robot), object_poses)
    episodes = []
    for start in range(0, len(actions), episode_steps):
        stop = min(start + episode_steps, len(actions))
        if stop - start < 2:
            break
        end_time = stop * robot.control_period
        sent = [xyz for t, xyz in goals if t <= end_time]
        goal = np.asarray(sent[-1] if sent else observations[stop, EE_POS], dtype=np.float32)
        episodes.append(
            Episode(
                observations=observations[start : stop + 1],
                actions=actions[start:stop],
                goal=goal,
                info={
                    "log": log.name,
                    "start_s": start * robot.control_period,
                    "command_kind": log.command_kind,
                },
            )
        )
    return episodes


def import_logs(
    bags: Sequence[str | Path],
    out: str | Path,
    robot: RobotSpec,
    *,
    reading: LogReading | None = None,
    object_topic: str = OBJECT_TOPIC,
    goal_topic: str = GOAL_TOPIC,
    physics_step: float,
    episode_steps: int = 150,
    progress: bool = True,
) -> ImportSummary:
    """Write the runs in ``bags`` as a dataset at ``out`` (see the module docstring), read on a grid of
    the twin's ``physics_step`` (s). A bag without ``object_topic`` gets the object resting where the
    scene puts it."""
    if episode_steps < 2:
        raise ValueError(f"episode_steps must be at least 2, got {episode_steps}")
    manifest = arm_manifest(
        robot, "imported", {"generator": "calibration.logs.importer", "logs": [str(b) for b in bags]}
    )
    writer = DatasetWriter(out, manifest)
    index, transitions = 0, 0
    skipped: dict[str, int] = {}
    for bag in progress_bar([Path(b) for b in bags], desc="import", unit="log", disable=not progress):
        (log,) = read_logs([bag], robot.joint_names, dt=physics_step, reading=reading)
        pose_stamps, poses = read_poses(bag, object_topic)
        start = log.start_ns * 1e-9
        goals = [(goal.time - start, goal.value) for goal in read_goals(bag) if goal.topic == goal_topic]
        object_poses = _on_grid(pose_stamps, poses, log) if len(poses) else None
        episodes = log_episodes(
            log, robot, object_poses=object_poses, goals=goals, episode_steps=episode_steps
        )
        for episode in episodes:
            writer.write(index, episode)
            index += 1
            transitions += episode.num_transitions
        for key, count in log.skipped.items():
            skipped[key] = skipped.get(key, 0) + count
    if index == 0:
        raise BadLogError(f"no episode of at least 2 control periods in {[str(b) for b in bags]}")
    return ImportSummary(Path(out), len(bags), index, transitions, skipped)
