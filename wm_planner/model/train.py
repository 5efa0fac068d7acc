"""Training of the world model: multi-step loss, validation, checkpoints, resume, DistributedDataParallel.

Launched plainly it trains in one process; under ``torchrun`` (``WORLD_SIZE`` > 1) every process trains
on its own share of each batch and gradients are averaged by DistributedDataParallel (gloo on CPU, nccl
on CUDA). Rank 0 alone evaluates, reports progress and writes checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import Tensor, nn
from tqdm import tqdm

from wm_planner.config import ModelConfig, TrainConfig
from wm_planner.data import DatasetManifest, combined_hash, dataset_hash
from wm_planner.model.interaction import heading_of
from wm_planner.model.windows import EpisodeArrays, contact_classes, load_split
from wm_planner.model.world import WorldModel, resolve_config

__all__ = ["CHECKPOINT_NAME", "TrainResult", "build_model", "load_checkpoint", "train", "validation_field"]

CHECKPOINT_NAME = "checkpoint.pt"
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
        tool = model.tool_spheres(model.robot_obs(obs)[..., model.joints])  # [B, steps + 1, M, 3]
        motion = tool[:, 1:] - tool[:, :-1]
        horizon = obs.shape[1] - 1
        total = torch.zeros((), device=obs.device)
        for module, truth in zip(model.objects, model.object_states(obs), strict=True):
            true_heading = heading_of(truth[..., 3:7])
            position, heading = truth[:, 0, 0:3], true_heading[:, 0]
            velocity = torch.zeros_like(position)  # not observed: rollouts start it at rest
            for k in range(horizon):
                change, frame = module.changes(position, heading, velocity, tool[:, k], motion[:, k])
                each_position, each_heading, _ = module.move(position, heading, frame, change)
                position_error = (each_position[..., 0:2] - truth[:, k + 1, 0:2]).pow(2).sum(-1)
                # The chord between unit headings is the turn error in rad, for small errors.
                turn_error = (each_heading - true_heading[:, k + 1]).pow(2).sum(-1)
                total = (
                    total
                    + (position_error / POSITION_ERROR_SCALE**2 + turn_error / TURN_ERROR_SCALE**2).mean()
                )
                position, heading, velocity = module.move(position, heading, frame, change.mean(0))
        return total / (horizon * len(model.objects))


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


def train(
    data: list[Path],
    run: Path,
    *,
    model_config: ModelConfig | None = None,
    train_config: TrainConfig | None = None,
    resume: bool = False,
    init: str | Path | None = None,
    device: str | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train a world model on the datasets ``data`` and write checkpoints into ``run``.

    ``resume=True`` continues from ``run/checkpoint.pt``; the result is the same as an uninterrupted run.
    ``init``: fine-tune the model of that training run (its architecture, weights and normalisation) on
    ``data``, which must observe and act as its data did: real logs after simulation, say.
    Ctrl-C (SIGINT) finishes the current step, writes a checkpoint and raises KeyboardInterrupt.
    """
    rank, world = _distributed()
    run = Path(run)
    cfg = train_config or TrainConfig()
    mcfg = model_config or ModelConfig()
    checkpoint = run / CHECKPOINT_NAME
    state: dict[str, Any] | None = None
    if checkpoint.exists():
        if not resume:
            raise FileExistsError(f"{run}: already holds a training run; pass --resume to continue it")
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
        cfg = TrainConfig.model_validate({**state["train_config"], "steps": cfg.steps})
        mcfg = ModelConfig.model_validate(state["model_config"])
    elif resume:
        raise FileNotFoundError(f"{run}: no {CHECKPOINT_NAME} to resume from")
    base = _base_run(init) if state is None and init is not None else None
    if base is not None:
        mcfg = ModelConfig.model_validate(base["model_config"])
    data = [Path(d) for d in data]
    data_hashes = [(str(d), dataset_hash(d)) for d in data]
    digest = combined_hash([h for _, h in data_hashes])
    if state is not None and state["data_hash"] != digest:
        raise ValueError(f"{run}: the datasets differ from the ones this run was trained on (hash mismatch)")

    manifest, train_data, val_data = load_split(
        data, horizon=cfg.horizon, val_fraction=cfg.val_fraction, seed=cfg.seed, cut_unsound=cfg.cut_unsound
    )
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    dev = _pick_device(device, rank)
    if base is not None:
        _check_same_interface(init, DatasetManifest.model_validate(base["manifest"]), manifest)
    mcfg = resolve_model_config(manifest, mcfg)
    model = build_model(manifest, mcfg)
    _fit_normalization(model, train_data)
    if base is not None:
        model.load_state_dict(base["model"])
    model.to(dev)
    classes = (
        contact_classes(
            train_data, manifest.observation_layout, mcfg.objects or (), manifest.robot.kinematics
        )
        if model.objects and manifest.robot.kinematics is not None
        else None
    )
    objective: nn.Module = MultiStepObjective(model, cfg.latent_weight, cfg.object_weight)
    if world > 1:
        objective = nn.parallel.DistributedDataParallel(objective)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate, weight_decay=cfg.weight_decay)
    rng = np.random.default_rng([cfg.seed, rank])
    step = 0
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if rank < len(state["rng"]):
            rng.bit_generator.state = state["rng"][rank]
        step = state["step"]

    def save() -> None:
        # Under DDP every rank reaches the same step, so all join the gather of sampler states together.
        rng_states: list[Any] = [rng.bit_generator.state]
        if world > 1:
            rng_states = [None] * world
            dist.all_gather_object(rng_states, rng.bit_generator.state)
        if rank == 0:
            _save_checkpoint(
                checkpoint, model, optimizer, step, rng_states, mcfg, cfg, manifest, digest, data_hashes
            )

    def object_windows() -> np.ndarray:
        """Object training windows ``[B, object_horizon + 1, O]``, contact-balanced when configured."""
        assert classes is not None
        if cfg.balanced_contacts:
            windows, _ = train_data.sample_balanced(rng, per_rank, classes)
        else:
            windows, _ = train_data.sample(rng, per_rank)
        return windows[:, : cfg.object_horizon + 1]

    object_objective = MultiStepObjective(model, cfg.latent_weight, cfg.object_weight).object_loss
    run.mkdir(parents=True, exist_ok=True)
    metrics_path = run / "metrics.jsonl"
    field, _ = validation_field(manifest)
    per_rank = max(1, cfg.batch_size // world)
    start = time.perf_counter()
    loss_value, val_error = float("nan"), None
    bar = tqdm(total=cfg.steps, initial=step, desc="train", unit="step", disable=not progress or rank != 0)
    with _deferred_interrupt() as interrupted:
        while step < cfg.steps:
            for group in optimizer.param_groups:
                group["lr"] = cfg.learning_rate * _lr_factor(step, cfg.steps)
            obs, act = train_data.sample(rng, per_rank)
            object_obs = None if classes is None else object_windows()
            loss, feature_loss, latent_loss, object_loss = objective(
                torch.from_numpy(obs).to(dev),
                torch.from_numpy(act).to(dev),
                None if object_obs is None else torch.from_numpy(object_obs).to(dev),
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            for _ in range(cfg.object_updates if classes is not None else 0):
                # The interaction modules' own extra steps: their loss needs no robot rollout, so they
                # get several updates for the price of a fraction of one (they underfit otherwise).
                extra = cfg.object_weight * object_objective(torch.from_numpy(object_windows()).to(dev))
                optimizer.zero_grad(set_to_none=True)
                # Outside DDP's forward its reducer must stay out of the backward pass: the gradients
                # are averaged over ranks by hand below.
                with objective.no_sync() if world > 1 else contextlib.nullcontext():
                    extra.backward()
                if world > 1:
                    for grad in (p.grad for p in model.objects.parameters() if p.grad is not None):
                        dist.all_reduce(grad)
                        grad /= world
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
            step += 1
            loss_value = loss.item()
            bar.update(1)
            if rank == 0 and (step % cfg.eval_every == 0 or step == cfg.steps):
                record = {
                    "step": step,
                    "loss": loss_value,
                    "feature_loss": feature_loss.item(),
                    "latent_loss": latent_loss.item(),
                    "object_loss": object_loss.item(),
                }
                if val_data is not None:
                    val_error = validation_error(model, val_data, manifest)
                    record[f"val_{field}_error_{cfg.horizon}step"] = val_error
                    bar.set_postfix(loss=f"{loss_value:.4f}", **{f"val_{field}": f"{val_error:.4f}"})
                with open(metrics_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                save()
            elif interrupted() and world == 1:
                save()
                bar.close()
                raise KeyboardInterrupt
    bar.close()
    return TrainResult(run, step, loss_value, val_error, field, time.perf_counter() - start)


def _base_run(init: str | Path) -> dict[str, Any]:
    path = Path(init) / CHECKPOINT_NAME
    if not path.exists():
        raise FileNotFoundError(f"--init {init}: no {CHECKPOINT_NAME}; give a training run directory")
    return torch.load(path, map_location="cpu", weights_only=False)


def _check_same_interface(init: str | Path | None, base: DatasetManifest, manifest: DatasetManifest) -> None:
    """A model fine-tuned on new data must see and act on it as on its own."""
    for name in ("observation_layout", "action_layout", "action_kind", "objects"):
        if getattr(base, name) != getattr(manifest, name):
            raise ValueError(
                f"--init {init}: the data's {name} differs from the run's: {getattr(manifest, name)}"
            )
    if base.robot.joint_names != manifest.robot.joint_names or base.control_period != manifest.control_period:
        raise ValueError(f"--init {init}: the data's robot or control period differs from the run's")


def _save_checkpoint(
    path: Path,
    model: WorldModel,
    optimizer: torch.optim.Optimizer,
    step: int,
    rng_states: list[Any],
    mcfg: ModelConfig,
    cfg: TrainConfig,
    manifest: DatasetManifest,
    digest: str,
    data_hashes: list[tuple[str, str]],
) -> None:
    state = {
        "format": "wm_planner.checkpoint/1",
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "rng": rng_states,
        "model_config": mcfg.model_dump(mode="json"),
        "train_config": cfg.model_dump(mode="json"),
        "manifest": manifest.model_dump(mode="json"),
        "data_hash": digest,
        "data_hashes": data_hashes,
    }
    tmp = path.with_name(path.name + ".partial")
    torch.save(state, tmp)
    os.replace(tmp, path)
    summary = {k: state[k] for k in ("step", "model_config", "train_config", "data_hash", "data_hashes")}
    (path.parent / "config.json").write_text(json.dumps(summary, indent=2) + "\n")


def load_checkpoint(run: Path, *, device: str = "cpu") -> tuple[WorldModel, dict[str, Any]]:
    """The trained model (eval mode) and the checkpoint's metadata from a run directory or file."""
    path = Path(run)
    path = path / CHECKPOINT_NAME if path.is_dir() else path
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no checkpoint (train first with wm-planner train)") from None
    except Exception as error:  # torch raises assorted types for damaged archives
        raise ValueError(f"{path}: unreadable checkpoint: {error}") from None
    manifest = DatasetManifest.model_validate(state["manifest"])
    model = build_model(manifest, ModelConfig.model_validate(state["model_config"]))
    model.load_state_dict(state["model"])
    model.eval()
    return model, {**state, "manifest": manifest}
