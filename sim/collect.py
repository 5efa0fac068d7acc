"""Parallel collection of episodes into a dataset (``wm-planner collect``): exploration, or the planner
acting on a trained bundle (``policy``) to gather the states it actually visits."""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mujoco
import numpy as np
from tqdm import tqdm

from sim.env import ACTION_KIND, ArmEnv, EnvOptions, action_layout
from sim.explore import ExplorationConfig, Explorer
from sim.planner_policy import PlannerPolicy
from sim.randomization import RandomizationConfig, load_randomization
from sim.robots import RobotFolder, add_robot_option
from sim.tasks import CUBE, TASKS
from wm_planner.config import RobotSpec, RuntimeConfig
from wm_planner.data import DatasetManifest, DatasetWriter, Episode
from wm_planner.data.hygiene import cut_unsound
from wm_planner.observation import CUBE_POS, observation_layout
from wm_planner.progress import progress_bar

__all__ = [
    "DEFAULT_EPISODE_STEPS",
    "CollectionSummary",
    "arm_manifest",
    "collect",
    "register_cli",
    "run_episode",
]

DEFAULT_EPISODE_STEPS = {"reach": 150, "push": 250}


@dataclass(frozen=True)
class CollectionSummary:
    out: Path
    episodes: int
    skipped: int
    transitions: int
    successes: int
    cube_moved: int
    cut: int
    """Episodes cut where the cube tipped over or fell (see :mod:`wm_planner.data.hygiene`)."""
    seconds: float

    def line(self, task: str) -> str:
        resumed = f", {self.skipped} already there" if self.skipped else ""
        return (
            f"collected {self.episodes} {task} episodes ({self.transitions} transitions, success in "
            f"{self.successes}, cube moved in {self.cube_moved}, cut at a tipped or fallen cube in "
            f"{self.cut}{resumed}) "
            f"in {self.seconds:.1f} s -> {self.out}"
        )


@dataclass(frozen=True)
class _Job:
    writer: DatasetWriter
    folder: RobotFolder
    options: EnvOptions
    exploration: ExplorationConfig
    seed: int
    policy: Path | None
    action_noise: float
    runtime: RuntimeConfig
    cut_unsound: bool


def episode_seed(seed: int, index: int) -> np.random.SeedSequence:
    """Seed of episode ``index``: independent of the worker that runs it, so datasets are reproducible."""
    return np.random.SeedSequence([seed, index])


def run_episode(env: ArmEnv, explorer: Explorer | PlannerPolicy, seed_seq: np.random.SeedSequence) -> Episode:
    """Run one episode with ``explorer`` choosing the actions, and record it."""
    env_seed, explore_seed = seed_seq.generate_state(2)
    obs = env.reset(seed=int(env_seed))
    behaviour = explorer.start(np.random.default_rng(explore_seed), obs)
    steps = env.options.episode_steps
    observations = np.empty((steps + 1, obs.size))
    actions = np.empty((steps, env.action_layout.size))
    observations[0] = obs
    success = False
    for t in range(steps):
        obs, _, reached, _, info = env.step(explorer.act(obs))
        observations[t + 1] = obs
        actions[t] = info["action"]
        success = success or reached
    cube_shift = float(np.linalg.norm(observations[-1, CUBE_POS] - observations[0, CUBE_POS]))
    return Episode(
        observations=observations,
        actions=actions,
        goal=env.goal.copy(),
        info={
            "task": env.task.name,
            "seed": int(env_seed),
            "behaviour": behaviour,
            "success": bool(success),
            "final_error": env.error(),
            "cube_displacement": cube_shift,
        },
    )


def _collect_one(job: _Job, index: int) -> tuple[int, int, bool, bool, bool]:
    manifest = job.writer.manifest
    env = ArmEnv(manifest.task, robot=manifest.robot, folder=job.folder, options=job.options)
    actor = (
        Explorer(env, job.exploration)
        if job.policy is None
        else PlannerPolicy(env, job.policy, runtime=job.runtime, action_noise=job.action_noise)
    )
    episode = run_episode(env, actor, episode_seed(job.seed, index))
    objects = manifest.objects if job.cut_unsound else ()
    episode, cut = cut_unsound(episode, manifest.observation_layout, objects)
    job.writer.write(index, episode)
    moved = episode.info["cube_displacement"] > 0.01
    return index, episode.num_transitions, episode.info["success"], moved, cut


def _collect_star(args: tuple[_Job, int]) -> tuple[int, int, bool, bool, bool]:
    return _collect_one(*args)


def arm_manifest(robot: RobotSpec, task: str, source: dict[str, Any]) -> DatasetManifest:
    """The manifest of the arm's episodes, however they were made: observations in the arm's
    :func:`~wm_planner.observation.observation_layout` with the cube, joint position deltas as actions,
    an end-effector goal."""
    return DatasetManifest(
        observation_layout=observation_layout(robot.dof),
        action_layout=action_layout(robot.dof),
        action_kind=ACTION_KIND,
        goal_size=3,
        robot=robot,
        task=task,
        objects=(CUBE,),
        source=source,
    )


def collect(
    task: str,
    episodes: int,
    out: str | Path,
    *,
    workers: int = 1,
    seed: int = 0,
    episode_steps: int | None = None,
    folder: RobotFolder | None = None,
    robot: RobotSpec | None = None,
    exploration: ExplorationConfig | None = None,
    policy: str | Path | None = None,
    action_noise: float = 0.05,
    randomization: RandomizationConfig | None = None,
    calibration: str | Path | None = None,
    cut_unsound: bool = True,
    resume: bool = False,
    progress: bool = True,
) -> CollectionSummary:
    """Collect ``episodes`` episodes of ``task`` into the dataset directory ``out``: exploration, or with
    ``policy`` (an ONNX bundle) the planner acting on that model, its steps perturbed by Gaussian noise of
    std ``action_noise`` (a fraction of the per-step limit).

    Episode ``i`` depends only on ``(seed, i)``, so any worker count gives the same dataset, and
    ``resume=True`` completes an interrupted run by writing only the missing episodes. With
    ``randomization``, the scene's parameters are drawn afresh for every episode (domain randomization);
    with a ``calibration`` profile, the episodes run its calibrated twin (:mod:`sim.actuation`).
    Episodes are cut where the cube tips over or falls (``cut_unsound=False`` keeps them whole, to study
    what that does to a model). ``folder`` is the robot (default: the shipped arm); ``robot`` overrides its
    spec.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {sorted(TASKS)}")
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    folder = folder or RobotFolder.shipped()
    robot = robot or folder.spec
    options = EnvOptions(
        episode_steps=episode_steps or DEFAULT_EPISODE_STEPS[task],
        randomization=randomization,
        calibration=None if calibration is None else str(calibration),
    )
    exploration = exploration or ExplorationConfig()
    manifest = arm_manifest(
        robot,
        task,
        {
            "generator": "sim.collect",
            "robot_folder": None if folder.path is None else str(folder.path),
            "seed": seed,
            "episode_steps": options.episode_steps,
            "exploration": asdict(exploration),
            "policy": None if policy is None else str(policy),
            "randomization": None if randomization is None else randomization.model_dump(mode="json"),
            "calibration": options.calibration,
            "cut_unsound": cut_unsound,
            "mujoco": mujoco.__version__,
        }
        | ({} if policy is None else {"action_noise": action_noise}),
    )
    out = Path(out)
    writer = DatasetWriter(out, manifest, resume=resume)
    todo = [i for i in range(episodes) if not writer.has(i)]
    job = _Job(
        writer=writer,
        folder=folder,
        options=options,
        exploration=exploration,
        seed=seed,
        policy=None if policy is None else Path(policy),
        action_noise=action_noise,
        # Parallel workers already fill the cores; each plans on one thread.
        runtime=RuntimeConfig(cpu_shards=1, intra_op_threads=1) if workers > 1 else RuntimeConfig(),
        cut_unsound=cut_unsound,
    )
    start = time.perf_counter()
    bar = progress_bar(total=len(todo), desc=f"collect {task}", unit="ep", disable=not progress)
    with bar:
        if workers == 1 or len(todo) <= 1:
            transitions, successes, moved, cut = _tally((_collect_one(job, i) for i in todo), bar)
        else:
            with mp.get_context("spawn").Pool(min(workers, len(todo))) as pool:
                results = pool.imap_unordered(_collect_star, [(job, i) for i in todo])
                transitions, successes, moved, cut = _tally(results, bar)
    return CollectionSummary(
        out=out,
        episodes=len(todo),
        skipped=episodes - len(todo),
        transitions=transitions,
        successes=successes,
        cube_moved=moved,
        cut=cut,
        seconds=time.perf_counter() - start,
    )


def _tally(results, bar: tqdm) -> tuple[int, int, int, int]:
    transitions = successes = moved = cut = 0
    for _, n, success, cube_moved, was_cut in results:
        transitions += n
        successes += success
        moved += cube_moved
        cut += was_cut
        bar.update(1)
    return transitions, successes, moved, cut


def _cmd_collect(args: argparse.Namespace) -> int:
    summary = collect(
        args.task,
        args.episodes,
        args.out,
        workers=args.workers,
        seed=args.seed,
        episode_steps=args.steps,
        folder=RobotFolder.of(args.robot, control_period=args.control_period),
        policy=args.policy,
        action_noise=args.action_noise,
        randomization=None if args.randomize is None else load_randomization(args.randomize),
        calibration=args.calibration,
        resume=args.resume,
        cut_unsound=not args.keep_unsound,
    )
    print(summary.line(args.task))
    return 0


def register_cli(sub: argparse._SubParsersAction) -> None:
    """Add ``collect`` to the ``wm-planner`` command line."""
    p = sub.add_parser("collect", help="collect episodes on the simulated arm (exploration or planner)")
    p.add_argument("--task", choices=sorted(TASKS), required=True)
    p.add_argument("--episodes", type=int, required=True, help="number of episodes")
    p.add_argument("--out", required=True, help="dataset directory to create")
    p.add_argument("--workers", type=int, default=max(1, (mp.cpu_count() or 1)), help="parallel processes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None, help="control steps per episode (default: per task)")
    add_robot_option(p)
    p.add_argument("--control-period", type=float, default=None, help="seconds per action (default 0.02)")
    p.add_argument(
        "--policy",
        default=None,
        help="ONNX bundle: act with the planner on this model instead of exploring (on-policy data)",
    )
    p.add_argument(
        "--action-noise",
        type=float,
        default=0.05,
        help="with --policy: std of the noise on each executed step, as a fraction of its limit",
    )
    p.add_argument(
        "--randomize", default=None, help="domain randomization YAML: scene parameters drawn per episode"
    )
    p.add_argument(
        "--calibration",
        default=None,
        help="calibration profile (wm-planner sysid): run its twin (scene, latency, filter, actuator net)",
    )
    p.add_argument("--resume", action="store_true", help="complete an interrupted collection in --out")
    p.add_argument(
        "--keep-unsound",
        action="store_true",
        help="keep episodes whole where the cube tips over or falls (default: cut there)",
    )
    p.set_defaults(func=_cmd_collect)
