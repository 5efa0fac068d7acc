"""Export of a trained run to an ONNX bundle, refused unless ONNX Runtime reproduces torch.

See :mod:`wm_planner.runtime.bundle` for the graphs and their signatures.
"""

from __future__ import annotations

import io
import json
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from torch import Tensor, nn

import wm_planner
from wm_planner.model.checkpoint import Checkpoint
from wm_planner.model.train import load_checkpoint
from wm_planner.model.world import WorldModel
from wm_planner.runtime.bundle import (
    GRAPH_FILES,
    METADATA_NAME,
    TORCH_WEIGHTS,
    BundleError,
    BundleMetadata,
    Normalization,
    Parity,
    TrainingData,
    file_sha256,
    read_bundle_metadata,
)

__all__ = ["ExportError", "ExportResult", "export_bundle", "load_bundle_model"]

OPSET = 17


class ExportError(ValueError):
    """The exported graphs do not reproduce the torch model within tolerance; nothing was written."""


class EncoderGraph(nn.Module):
    def __init__(self, model: WorldModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, obs: Tensor) -> tuple[Tensor, Tensor]:
        return self.model.anchor(obs)


class DynamicsGraph(nn.Module):
    def __init__(self, model: WorldModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, z: Tensor, action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        z_next, disagreement = self.model.step(z, action)
        return z_next, self.model.decode(z_next), disagreement


class RolloutGraph(nn.Module):
    """``obs0 [O], actions [N, H, A], goal [F], weights [F], uncertainty_weight []``
    ``-> cost [N], features [N, H, F]``."""

    def __init__(self, model: WorldModel) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, obs0: Tensor, actions: Tensor, goal: Tensor, weights: Tensor, uncertainty_weight: Tensor
    ) -> tuple[Tensor, Tensor]:
        features, disagreement = self.model.imagine(obs0.unsqueeze(0), actions)
        cost = ((features - goal).pow(2) * weights).sum(dim=(1, 2)) + uncertainty_weight * disagreement.sum(
            dim=1
        )
        return cost, features


@dataclass(frozen=True)
class ExportResult:
    bundle: Path
    metadata: BundleMetadata


def _to_onnx(
    module: nn.Module, args: tuple[Tensor, ...], inputs: list[str], outputs: list[str], dynamic: dict
) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript exporter is deprecated in favour of the dynamo one, which needs onnxscript; both
        # produce the same plain graphs for these static MLP rollouts.
        warnings.simplefilter("ignore", DeprecationWarning)
        # Shapes and the layout of the state are fixed when tracing, by design (static H, constant chain).
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            module,
            args,
            buffer,  # type: ignore[arg-type]  # a file-like object is documented; the stub names paths only
            dynamo=False,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=dynamic or None,
            opset_version=OPSET,
            do_constant_folding=True,
        )
    return buffer.getvalue()


def _relative_error(onnx_out: np.ndarray, torch_out: Tensor) -> float:
    reference = torch_out.detach().numpy().astype(np.float64)
    scale = max(float(np.abs(reference).max()), 1e-12)
    return float(np.abs(onnx_out.astype(np.float64) - reference).max() / scale)


def _random_inputs(
    model: WorldModel, samples: int, horizon: int, max_step: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    obs_mean, obs_std = model.obs_mean.numpy(), model.obs_std.numpy()
    batch = 64
    features = obs_mean.size
    obs_batch = (obs_mean + obs_std * rng.standard_normal((batch, features))).astype(np.float32)
    obs0 = (obs_mean + obs_std * rng.standard_normal(features)).astype(np.float32)
    if model.objects:
        # Objects under the tool, so that the compared rollouts go through contact, not only free motion.
        obs_batch, obs0 = _touching(model, obs_batch, rng), _touching(model, obs0[None], rng)[0]
    return {
        "obs_batch": obs_batch,
        "action_batch": rng.uniform(-max_step, max_step, (batch, max_step.size)).astype(np.float32),
        "obs0": obs0,
        "actions": rng.uniform(-max_step, max_step, (samples, horizon, max_step.size)).astype(np.float32),
        "goal": (obs_mean + obs_std * rng.standard_normal(features)).astype(np.float32),
        "weights": rng.uniform(0.0, 1.0, features).astype(np.float32),
        "uncertainty_weight": np.array(0.5, dtype=np.float32),
    }


def _touching(model: WorldModel, obs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``obs [B, O]`` with every object moved beside the tool's first sphere, just touching it (from a
    random side: right above the centre, the choice of the object's frame is a tie)."""
    obs = obs.copy()
    with torch.no_grad():
        q = model.robot_obs(torch.from_numpy(obs))[:, model.tool_input]
        first = model.tool_spheres(q)[:, 0].numpy()
    radius = float(model.chain.radii[0]) if model.chain is not None else 0.0
    for spec in model.config.objects or ():
        side = rng.uniform(-np.pi, np.pi, len(obs))
        reach = spec.half_extents[0] + radius - 0.002
        at = model.layout.slice(spec.position)
        obs[:, at] = first + reach * np.stack([np.cos(side), np.sin(side), np.zeros_like(side)], -1)
    return obs


def export_bundle(
    run: str | Path,
    out: str | Path,
    *,
    samples: int = 128,
    horizon: int = 16,
    tolerance: float = 1e-4,
    overwrite: bool = False,
    seed: int = 0,
) -> ExportResult:
    """Export the model in ``run`` to the bundle directory ``out``; see :mod:`wm_planner.runtime.bundle`.

    The bundle is assembled in a temporary directory and moved into place only after every graph matches
    torch within ``tolerance`` (max |onnx - torch| / max |torch|), so a failed export leaves nothing behind.
    """
    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: already exists; pass --force to replace it")
    model, checkpoint = load_checkpoint(Path(run))
    manifest = checkpoint.manifest
    model = model.float().eval()
    torch.manual_seed(seed)
    x = _random_inputs(model, samples, horizon, manifest.robot.max_step(), np.random.default_rng(seed))
    t = {k: torch.from_numpy(v) for k, v in x.items()}
    graphs = {
        "encoder.onnx": _to_onnx(
            EncoderGraph(model),
            (t["obs_batch"],),
            ["obs"],
            ["z", "offset"],
            {name: {0: "batch"} for name in ("obs", "z", "offset")},
        ),
        "dynamics.onnx": _to_onnx(
            DynamicsGraph(model),
            (model.encode(t["obs_batch"]).detach(), t["action_batch"]),
            ["z", "action"],
            ["z_next", "features", "disagreement"],
            {name: {0: "batch"} for name in ("z", "action", "z_next", "features", "disagreement")},
        ),
        "rollout.onnx": _to_onnx(
            RolloutGraph(model),
            (t["obs0"], t["actions"], t["goal"], t["weights"], t["uncertainty_weight"]),
            ["obs0", "actions", "goal", "weights", "uncertainty_weight"],
            ["cost", "features"],
            # A symbolic sample axis lets the CPU runtime split the samples over cores; H stays static.
            {"actions": {0: "samples"}, "cost": {0: "samples"}, "features": {0: "samples"}},
        ),
    }
    parity = _measure_parity(model, graphs, t, tolerance)
    if parity.worst > tolerance:
        raise ExportError(
            f"ONNX Runtime differs from torch by {parity.worst:.3g} (relative), "
            f"above the tolerance {tolerance:g}: "
            f"{parity.model_dump()}; no bundle written"
        )
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, blob in graphs.items():
        (staging / name).write_bytes(blob)
    torch.save(model.state_dict(), staging / TORCH_WEIGHTS)
    metadata = _metadata(model, checkpoint, samples, horizon, parity, staging)
    (staging / METADATA_NAME).write_text(json.dumps(metadata.model_dump(mode="json"), indent=2) + "\n")
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)
    return ExportResult(out, metadata)


def _measure_parity(
    model: WorldModel, graphs: dict[str, bytes], t: dict[str, Tensor], tolerance: float
) -> Parity:
    def session(name: str) -> ort.InferenceSession:
        return ort.InferenceSession(graphs[name], providers=["CPUExecutionProvider"])

    with torch.no_grad():
        z_ref, offset_ref = model.anchor(t["obs_batch"])
        z_onnx, offset_onnx = session("encoder.onnx").run(None, {"obs": t["obs_batch"].numpy()})
        dyn_ref = DynamicsGraph(model)(z_ref, t["action_batch"])
        dyn_onnx = session("dynamics.onnx").run(
            None, {"z": z_ref.numpy(), "action": t["action_batch"].numpy()}
        )
        names = ["obs0", "actions", "goal", "weights", "uncertainty_weight"]
        roll_ref = RolloutGraph(model)(*(t[n] for n in names))
        roll_onnx = session("rollout.onnx").run(None, {n: t[n].numpy() for n in names})
    return Parity(
        encoder=max(_relative_error(z_onnx, z_ref), _relative_error(offset_onnx, offset_ref)),
        dynamics=max(_relative_error(a, b) for a, b in zip(dyn_onnx[:2], dyn_ref[:2], strict=True)),
        rollout_cost=_relative_error(roll_onnx[0], roll_ref[0]),
        rollout_features=_relative_error(roll_onnx[1], roll_ref[1]),
        tolerance=tolerance,
    )


def _metadata(
    model: WorldModel, checkpoint: Checkpoint, samples: int, horizon: int, parity: Parity, staging: Path
) -> BundleMetadata:
    manifest, train_config = checkpoint.manifest, checkpoint.train_config
    return BundleMetadata(
        observation_layout=manifest.observation_layout,
        action_layout=manifest.action_layout,
        feature_layout=manifest.observation_layout,
        action_kind=manifest.action_kind,
        robot=manifest.robot,
        samples=samples,
        horizon=horizon,
        latent_size=model.state_size,
        ensemble=model.config.ensemble,
        model=model.config,
        normalization=Normalization(
            obs_mean=tuple(model.obs_mean.tolist()),
            obs_std=tuple(model.obs_std.tolist()),
            action_mean=tuple(model.robot.action_mean.tolist()),
            action_std=tuple(model.robot.action_std.tolist()),
        ),
        training_data=tuple(TrainingData(path=p, sha256=h) for p, h in checkpoint.data_hashes),
        data_hash=checkpoint.data_hash,
        val_fraction=train_config.val_fraction,
        split_seed=train_config.seed,
        parity=parity,
        files={name: file_sha256(staging / name) for name in (*GRAPH_FILES, TORCH_WEIGHTS)},
        opset=OPSET,
        producer={
            "wm_planner": wm_planner.__version__,
            "torch": torch.__version__,
            "onnxruntime": ort.__version__,
        },
    )


def load_bundle_model(bundle: str | Path) -> WorldModel:
    """The torch model a bundle was exported from, rebuilt from its weights (checksum verified)."""
    root = Path(bundle)
    meta = read_bundle_metadata(root)
    weights = root / TORCH_WEIGHTS
    if not weights.is_file() or file_sha256(weights) != meta.files.get(TORCH_WEIGHTS):
        raise BundleError(f"{weights}: missing or its checksum differs from {METADATA_NAME}")
    model = WorldModel(meta.observation_layout, meta.action_layout.size, meta.model, meta.robot.kinematics)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return model.float().eval()
