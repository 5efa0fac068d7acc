"""Training of the world model: multi-step loss, validation, checkpoints, resume, DistributedDataParallel.

Launched plainly it trains in one process; under ``torchrun`` (``WORLD_SIZE`` > 1) every process trains
on its own share of each batch and gradients are averaged by DistributedDataParallel (gloo on CPU, nccl
on CUDA). Rank 0 alone evaluates, reports progress and writes checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn

from wm_planner.config import ModelConfig, TrainConfig
from wm_planner.data import DatasetManifest, combined_hash, dataset_hash
from wm_planner.model.checkpoint import CHECKPOINT_NAME, Checkpoint
from wm_planner.model.interaction import heading_of, rotate
from wm_planner.model.windows import EpisodeArrays, ToolSpheres, contact_classes, load_split
from wm_planner.model.world import WorldModel, resolve_config
from wm_planner.progress import progress_bar

__all__ = ["TrainResult", "build_model", "load_checkpoint", "train", "train_apart", "validation_field"]
EE_FIELD = "ee_pos"


POSITION_ERROR_SCALE = 0.005
"""m: object position errors are scored in units of this."""
TURN_ERROR_SCALE = 0.05
"""rad: object orientation errors are scored in units of this."""


class MultiStepObjective(nn.Module):
    """Loss of one batch of windows.

    Robot: the robot part's own multi-step loss on the robot's blocks (see ``multi_step_loss`` of
    :class:`LatentDynamics` and :class:`JointDynamics`). Objects: each
    interaction head's error on the object's pose at every step of an open-loop rollout of the object
    (advanced by the ensemble mean) from the tool's true placement, over its own batch of windows (drawn
    balanced between moving, near-miss and free windows).

    ``forward(obs [B, H+1, O], actions [B, H, A], object_obs [B', H+1, O] | None)
    -> (loss, feature_loss, latent_loss, object_loss)``; a module so that DistributedDataParallel can
    hook its backward pass.
    """

    def __init__(self, model: WorldModel, latent_weight: float, object_weight: float) -> None:
        super().__init__()
        self.model = model
        self.latent_weight = latent_weight
        self.object_weight = object_weight

    def forward(
        self, obs: Tensor, actions: Tensor, object_obs: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        feature_loss, latent_loss = self.model.robot.multi_step_loss(self.model.robot_obs(obs), actions)
        object_loss = (
            self.object_loss(object_obs) if object_obs is not None else torch.zeros_like(feature_loss)
        )
        loss = feature_loss + self.latent_weight * latent_loss + self.object_weight * object_loss
        return loss, feature_loss, latent_loss, object_loss

    def object_loss(self, obs: Tensor) -> Tensor:
        """Mean over objects, steps and heads of the squared planar pose error in scaled units."""
        model = self.model
        # Interaction steps span object_step periods: observations at their boundaries only.
        obs = obs[:, :: model.config.object_step]
        tool = model.tool_spheres(model.robot_obs(obs)[..., model.tool_input])  # [B, steps + 1, M, 3]
        motion = tool[:, 1:] - tool[:, :-1]
        horizon = obs.shape[1] - 1
        total = torch.zeros((), device=obs.device)
        for module, truth in zip(model.interactions, model.object_states(obs), strict=True):
            true_heading = heading_of(truth[..., 3:7])
            position, heading = truth[:, 0, 0:3], true_heading[:, 0]
            velocity = torch.zeros_like(position)  # not observed: rollouts start it at rest
            for k in range(horizon):
                change, frame = module.changes(position, heading, velocity, tool[:, k], motion[:, k])
                each_position, each_heading, each_shift = module.move(position, heading, frame, change)
                position_error = (each_position[..., 0:2] - truth[:, k + 1, 0:2]).pow(2).sum(-1)
                # The chord between unit headings is the turn error in rad, for small errors.
                turn_error = (each_heading - true_heading[:, k + 1]).pow(2).sum(-1)
                total = (
                    total
                    + (position_error / POSITION_ERROR_SCALE**2 + turn_error / TURN_ERROR_SCALE**2).mean()
                )
                # The move by the mean change, from the heads' moves: position and shift are linear in
                # the change, so only the heading needs turning again.
                position, velocity = each_position.mean(0), each_shift.mean(0)
                heading = rotate(heading, change[..., 2].mean(0))
        return total / (horizon * len(model.objects))

    def one_step_object_loss(self, obs: Tensor) -> Tensor:
        """:meth:`object_loss` with every interaction step started from the true state (the object's
        pose and its true last change) instead of the rollout's: the steps of a window are independent,
        so they run as one batch, a fraction of a rollout's sequential steps."""
        model = self.model
        obs = obs[:, :: model.config.object_step]
        tool = model.tool_spheres(model.robot_obs(obs)[..., model.tool_input])  # [B, steps + 1, M, 3]
        now, motion = tool[:, :-1].flatten(0, 1), (tool[:, 1:] - tool[:, :-1]).flatten(0, 1)
        total = torch.zeros((), device=obs.device)
        for module, truth in zip(model.interactions, model.object_states(obs), strict=True):
            heading = heading_of(truth[..., 3:7])  # [B, steps + 1, 2]
            shift = truth[:, 1:, 0:2] - truth[:, :-1, 0:2]
            turn = torch.atan2(
                heading[:, :-1, 0] * heading[:, 1:, 1] - heading[:, :-1, 1] * heading[:, 1:, 0],
                (heading[:, :-1] * heading[:, 1:]).sum(-1),
            )
            change = torch.cat([shift, turn.unsqueeze(-1)], -1)
            # The change before each step; the first is not observed, as a rollout starts at rest.
            velocity = torch.cat([torch.zeros_like(change[:, :1]), change[:, :-1]], 1).flatten(0, 1)
            position, start = truth[:, :-1, 0:3].flatten(0, 1), heading[:, :-1].flatten(0, 1)
            predicted, frame = module.changes(position, start, velocity, now, motion)
            each_position, each_heading, _ = module.move(position, start, frame, predicted)
            position_error = (each_position[..., 0:2] - truth[:, 1:, 0:2].flatten(0, 1)).pow(2).sum(-1)
            turn_error = (each_heading - heading[:, 1:].flatten(0, 1)).pow(2).sum(-1)
            total = (
                total + (position_error / POSITION_ERROR_SCALE**2 + turn_error / TURN_ERROR_SCALE**2).mean()
            )
        return total / len(model.objects)


@dataclass(frozen=True)
class TrainResult:
    run: Path
    steps: int
    final_loss: float
    val_error: float | None
    """Median Euclidean error of ``val_field`` after ``horizon`` open-loop steps on validation windows."""
    val_field: str
    """``ee_pos`` (m) when the observation has the tool tip, else ``obs``: the whole observation."""
    seconds: float


def _distributed() -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def release_distributed() -> None:
    """Leave the process group :func:`train` joined under torchrun. Left to interpreter exit, gloo's
    threads can outlive it and abort the process ("terminate called without an active exception")."""
    if dist.is_initialized():
        dist.destroy_process_group()


def _pick_device(device: str | None, rank: int) -> torch.device:
    if device is None or device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and dist.is_initialized():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", rank)) % torch.cuda.device_count())
    return torch.device(device)


def build_model(manifest: DatasetManifest, config: ModelConfig) -> WorldModel:
    """An untrained world model for data described by ``manifest`` (objects resolved from it)."""
    return WorldModel(
        manifest.observation_layout,
        manifest.action_layout.size,
        resolve_model_config(manifest, config),
        manifest.robot.kinematics,
    )


def resolve_model_config(manifest: DatasetManifest, config: ModelConfig) -> ModelConfig:
    """``config`` with its open choices settled for data described by ``manifest``."""
    return resolve_config(
        config,
        layout=manifest.observation_layout,
        action_kind=manifest.action_kind,
        dataset_objects=manifest.objects,
        kinematics=manifest.robot.kinematics,
        dataset_tool=manifest.tool,
    )


def _fit_normalization(model: WorldModel, data: EpisodeArrays) -> None:
    obs, act = torch.from_numpy(data.observations), torch.from_numpy(data.actions)
    model.set_normalization(obs.mean(0), obs.std(0), act.mean(0), act.std(0))


def validation_field(manifest: DatasetManifest) -> tuple[str, slice]:
    """The observation block validation error is measured on: the tool tip when there is one (the
    quantity arm tasks are judged by), else the whole observation (any gymnasium environment)."""
    layout = manifest.observation_layout
    if EE_FIELD in layout.names:
        return EE_FIELD, layout.slice(EE_FIELD)
    return "obs", slice(0, layout.size)


@torch.no_grad()
def validation_error(
    model: WorldModel, data: EpisodeArrays, manifest: DatasetManifest, *, windows: int = 512
) -> float:
    """Median Euclidean error of the :func:`validation_field` after ``data.horizon`` open-loop steps, on
    evenly spaced validation windows."""
    picks = data.starts[np.linspace(0, data.starts.size - 1, min(windows, data.starts.size)).astype(int)]
    obs, act = data.gather(picks)
    device = next(model.parameters()).device
    features, _ = model.imagine(torch.from_numpy(obs[:, 0]).to(device), torch.from_numpy(act).to(device))
    _, block = validation_field(manifest)
    error = (features[:, -1, block].cpu().numpy() - obs[:, -1, block]).astype(np.float64)
    return float(np.median(np.linalg.norm(error, axis=-1)))


@contextlib.contextmanager
def _deferred_interrupt() -> Iterator[Callable[[], bool]]:
    """Turn Ctrl-C into a flag checked between optimiser steps, so the checkpoint written on interrupt
    holds a whole step (weights, optimiser and sampler state agree) and resuming matches a straight run."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    caught = threading.Event()
    previous = signal.signal(signal.SIGINT, lambda *_: caught.set())
    try:
        yield caught.is_set
    finally:
        signal.signal(signal.SIGINT, previous)


def _lr_factor(step: int, total: int) -> float:
    warmup = min(200, total // 10 + 1)
    if step < warmup:
        return (step + 1) / warmup
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


@dataclass(frozen=True)
class _Plan:
    """What a run trains, settled from the arguments, the checkpoint it resumes or the run it fine-tunes."""

    train_config: TrainConfig
    model_config: ModelConfig
    data: list[Path]
    data_hashes: tuple[tuple[str, str], ...]
    digest: str
    resumed: Checkpoint | None
    base: Checkpoint | None
    """The run being fine-tuned, from ``init``."""
    init: str | Path | None
    focus: frozenset[Path]
    """Datasets drawn with ``train_config.focus_share`` of every batch."""


def _settle(
    data: list[Path],
    run: Path,
    *,
    model_config: ModelConfig,
    train_config: TrainConfig,
    resume: bool,
    init: str | Path | None,
    focus: frozenset[Path],
) -> _Plan:
    unknown = sorted(str(f) for f in focus - set(data))
    if unknown:
        raise ValueError(f"focus datasets {unknown} are not among the training data")
    checkpoint = run / CHECKPOINT_NAME
    resumed = base = None
    if checkpoint.exists():
        if not resume:
            raise FileExistsError(f"{run}: already holds a training run; pass --resume to continue it")
        resumed = Checkpoint.read(checkpoint)
        train_config = resumed.train_config.model_copy(update={"steps": train_config.steps})
        model_config = resumed.model_config
    elif resume:
        raise FileNotFoundError(f"{run}: no {CHECKPOINT_NAME} to resume from")
    elif init is not None:
        if not (Path(init) / CHECKPOINT_NAME).exists():
            raise FileNotFoundError(f"--init {init}: no {CHECKPOINT_NAME}; give a training run directory")
        base = Checkpoint.read(Path(init) / CHECKPOINT_NAME)
        model_config = base.model_config
    data_hashes = tuple((str(d), dataset_hash(d)) for d in data)
    digest = combined_hash([h for _, h in data_hashes])
    if resumed is not None and resumed.data_hash != digest:
        raise ValueError(f"{run}: the datasets differ from the ones this run was trained on (hash mismatch)")
    return _Plan(train_config, model_config, data, data_hashes, digest, resumed, base, init, focus)


class _Trainer:
    """One run's model, objective, optimiser and batch sampler, and the named steps of training:
    :meth:`optimise` (one step), :meth:`record` (metrics and validation), :meth:`save` (a checkpoint)."""

    def __init__(self, plan: _Plan, run: Path, *, device: str | None, rank: int, world: int) -> None:
        cfg = self.cfg = plan.train_config
        self.plan, self.run, self.rank, self.world = plan, run, rank, world
        self.manifest, self.train_data, self.val_data = load_split(
            plan.data,
            horizon=cfg.horizon,
            val_fraction=cfg.val_fraction,
            seed=cfg.seed,
            cut_unsound=cfg.cut_unsound,
            focus=plan.focus,
            focus_share=cfg.focus_share,
        )
        torch.manual_seed(cfg.seed)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = _pick_device(device, rank)
        if plan.base is not None:
            _check_same_interface(plan.init, plan.base.manifest, self.manifest)
        self.model_config = resolve_model_config(self.manifest, plan.model_config)
        self.model = build_model(self.manifest, self.model_config)
        _fit_normalization(self.model, self.train_data)
        if plan.base is not None:
            self.model.load_state_dict(plan.base.model)
        self.model.to(self.device)
        self.classes = self._contact_classes()
        objective = MultiStepObjective(self.model, cfg.latent_weight, cfg.object_weight)
        self.ddp = nn.parallel.DistributedDataParallel(objective) if world > 1 else None
        self.objective: nn.Module = objective if self.ddp is None else self.ddp
        objective_of_updates = MultiStepObjective(self.model, cfg.latent_weight, cfg.object_weight)
        self.object_objective = (
            objective_of_updates.one_step_object_loss
            if cfg.object_update_loss == "one_step"
            else objective_of_updates.object_loss
        )
        self.optimizer = torch.optim.AdamW(
            self.model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay
        )
        self.rng = np.random.default_rng([cfg.seed, rank])
        self.per_rank = max(1, cfg.batch_size // world)
        self.step = 0
        if plan.resumed is not None:
            self._restore(plan.resumed)

    def _contact_classes(self) -> np.ndarray | None:
        """Each training window's contact class, when the model has objects to balance windows for."""
        if not self.model.objects:
            return None
        layout = self.manifest.observation_layout
        spheres = ToolSpheres.of(self.manifest.robot.kinematics, self.model_config.tool, layout)
        return contact_classes(self.train_data, layout, self.model_config.objects or (), spheres)

    def _restore(self, checkpoint: Checkpoint) -> None:
        self.model.load_state_dict(checkpoint.model)
        self.optimizer.load_state_dict(checkpoint.optimizer)
        if self.rank < len(checkpoint.rng):
            self.rng.bit_generator.state = checkpoint.rng[self.rank]
        self.step = checkpoint.step

    def _tensor(self, array: np.ndarray) -> Tensor:
        return torch.from_numpy(array).to(self.device)

    def _object_windows(self) -> np.ndarray:
        """Object training windows ``[B, object_horizon + 1, O]``, contact-balanced when configured."""
        assert self.classes is not None
        if self.cfg.balanced_contacts:
            windows, _ = self.train_data.sample_balanced(self.rng, self.per_rank, self.classes)
        else:
            windows, _ = self.train_data.sample(self.rng, self.per_rank)
        return windows[:, : self.cfg.object_horizon + 1]

    def _apply(self, loss: Tensor) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()

    def optimise(self) -> dict[str, float]:
        """One training step on a fresh batch, then the interaction modules' extra updates; the losses."""
        cfg = self.cfg
        for group in self.optimizer.param_groups:
            group["lr"] = cfg.learning_rate * _lr_factor(self.step, cfg.steps)
        obs, act = self.train_data.sample(self.rng, self.per_rank)
        object_obs = None if self.classes is None else self._tensor(self._object_windows())
        loss, feature_loss, latent_loss, object_loss = self.objective(
            self._tensor(obs), self._tensor(act), object_obs
        )
        self._apply(loss)
        for _ in range(cfg.object_updates if self.classes is not None else 0):
            self._object_update()
        self.step += 1
        return {
            "loss": loss.item(),
            "feature_loss": feature_loss.item(),
            "latent_loss": latent_loss.item(),
            "object_loss": object_loss.item(),
        }

    def _object_update(self) -> None:
        """The interaction modules' own extra step: their loss needs no robot rollout, so they get several
        updates for the price of a fraction of one (they underfit otherwise)."""
        extra = self.cfg.object_weight * self.object_objective(self._tensor(self._object_windows()))
        self.optimizer.zero_grad(set_to_none=True)
        # Outside DDP's forward its reducer must stay out of the backward pass: the gradients are
        # averaged over ranks by hand below.
        with self.ddp.no_sync() if self.ddp is not None else contextlib.nullcontext():
            extra.backward()
        if self.world > 1:
            for grad in (p.grad for p in self.model.objects.parameters() if p.grad is not None):
                dist.all_reduce(grad)
                grad /= self.world
        nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()

    def record(self, losses: dict[str, float]) -> float | None:
        """Append the step's losses and the validation error to ``metrics.jsonl``; the validation error."""
        record: dict[str, float] = {"step": self.step, **losses}
        val_error = None
        if self.val_data is not None:
            field, _ = validation_field(self.manifest)
            val_error = validation_error(self.model, self.val_data, self.manifest)
            record[f"val_{field}_error_{self.cfg.horizon}step"] = val_error
        with open(self.run / "metrics.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        return val_error

    def save(self) -> None:
        """Write the checkpoint (rank 0); under DDP every rank reaches the same step, so all join the
        gather of sampler states together."""
        rng_states: list[Any] = [self.rng.bit_generator.state]
        if self.world > 1:
            rng_states = [None] * self.world
            dist.all_gather_object(rng_states, self.rng.bit_generator.state)
        if self.rank != 0:
            return
        Checkpoint(
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            step=self.step,
            rng=tuple(rng_states),
            model_config=self.model_config,
            train_config=self.cfg,
            manifest=self.manifest,
            data_hash=self.plan.digest,
            data_hashes=self.plan.data_hashes,
        ).save(self.run / CHECKPOINT_NAME)


def train(
    data: list[Path],
    run: Path,
    *,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    resume: bool = False,
    init: str | Path | None = None,
    focus: Sequence[str | Path] = (),
    device: str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a world model on the datasets ``data`` and write checkpoints into ``run``.

    ``resume=True`` continues from ``run/checkpoint.pt``; the result is the same as an uninterrupted run.
    ``init``: fine-tune the model of that training run (its architecture, weights and normalisation) on
    ``data``, which must observe and act as its data did: real logs after simulation, say.
    ``focus``: datasets among ``data`` that make up ``train_config.focus_share`` of every batch, whatever
    their size (improve focuses on the planner's own episodes, a tenth of the data after a round).
    Ctrl-C (SIGINT) finishes the current step, writes a checkpoint and raises KeyboardInterrupt.
    """
    rank, world = _distributed()
    run = Path(run)
    plan = _settle(
        [Path(d) for d in data],
        run,
        model_config=model_config or ModelConfig(),
        train_config=train_config or TrainConfig(),
        resume=resume,
        init=init,
        focus=frozenset(Path(f) for f in focus),
    )
    trainer = _Trainer(plan, run, device=device, rank=rank, world=world)
    cfg = trainer.cfg
    run.mkdir(parents=True, exist_ok=True)
    field, _ = validation_field(trainer.manifest)
    start = time.perf_counter()
    loss, val_error = float("nan"), None
    bar = progress_bar(
        total=cfg.steps, initial=trainer.step, desc="train", unit="step", disable=not progress or rank != 0
    )
    with _deferred_interrupt() as interrupted, bar:
        while trainer.step < cfg.steps:
            losses = trainer.optimise()
            loss = losses["loss"]
            bar.update(1)
            last = trainer.step == cfg.steps
            if rank == 0 and (trainer.step % cfg.eval_every == 0 or last):
                val_error = trainer.record(losses)
                if val_error is not None:
                    bar.set_postfix(loss=f"{loss:.4f}", **{f"val_{field}": f"{val_error:.4f}"})
            if trainer.step % cfg.checkpoint_every == 0 or last:
                trainer.save()
            elif interrupted() and world == 1:
                trainer.save()
                raise KeyboardInterrupt
    return TrainResult(run, trainer.step, loss, val_error, field, time.perf_counter() - start)


def _check_same_interface(init: str | Path | None, base: DatasetManifest, manifest: DatasetManifest) -> None:
    """A model fine-tuned on new data must see and act on it as on its own."""
    for name in ("observation_layout", "action_layout", "action_kind", "objects"):
        if getattr(base, name) != getattr(manifest, name):
            raise ValueError(
                f"--init {init}: the data's {name} differs from the run's: {getattr(manifest, name)}"
            )
    if base.robot.joint_names != manifest.robot.joint_names or base.control_period != manifest.control_period:
        raise ValueError(f"--init {init}: the data's robot or control period differs from the run's")


def load_checkpoint(run: str | Path, *, device: str = "cpu") -> tuple[WorldModel, Checkpoint]:
    """The trained model (eval mode) and its checkpoint, from a run directory or a checkpoint file."""
    checkpoint = Checkpoint.read(run, device=device)
    model = build_model(checkpoint.manifest, checkpoint.model_config)
    model.load_state_dict(checkpoint.model)
    model.eval()
    return model, checkpoint


def train_apart(data: list[Path], run: Path, **options: Any) -> TrainResult:
    """:func:`train` (same arguments) in a spawned process of its own. A process that has trained plans
    slower afterwards (measured on the demo's bundle: plan p50 8.8 -> 12.3 ms, p99 14.6 -> 18.8 ms after
    30 training steps in it), so the pipelines that train and then measure plans (``demo``, ``improve``)
    train apart, and the latency they report is the robot's, whose planner never trained."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(train, data, run, **options).result()
