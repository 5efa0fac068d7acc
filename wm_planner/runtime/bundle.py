"""The ONNX bundle on disk: three graphs plus ``metadata.json``, and the checks made before loading it.

- ``encoder.onnx``: ``obs [B, O] -> z [B, L], offset [B, F]``
- ``dynamics.onnx``: ``z [B, L], action [B, A] -> z_next [B, L], features [B, F], disagreement [B]``
  (features decoded from ``z_next``; add the start's ``offset`` to anchor them as the rollout does)
- ``rollout.onnx``: ``obs0 [O], actions [N, H, A], goal [F], weights [F], uncertainty_weight [] ->
  cost [N], features [N, H, F]`` with a static H and a symbolic N (``metadata.samples`` is the N it
  was exported and checked at), one call per planner iteration.

The cost is ``sum_h sum_f weights[f] * (features[n, h, f] - goal[f])**2 + uncertainty_weight *
sum_h disagreement[n, h]``: goals and weights are inputs, so a new goal needs no re-export.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import Field

from wm_planner.config import ModelConfig, RobotSpec, StrictModel, load_versioned_json
from wm_planner.data.layout import Layout

__all__ = [
    "BUNDLE_SCHEMA_VERSION",
    "GRAPH_FILES",
    "TORCH_WEIGHTS",
    "BundleError",
    "BundleMetadata",
    "Normalization",
    "Parity",
    "check_compatible",
    "file_sha256",
    "read_bundle_metadata",
]

BUNDLE_SCHEMA_VERSION = 3
METADATA_NAME = "metadata.json"
GRAPH_FILES = ("encoder.onnx", "dynamics.onnx", "rollout.onnx")
TORCH_WEIGHTS = "torch_weights.pt"
"""The torch state dict the graphs were exported from: provenance, and the same dynamics for torch
baselines; the robot never reads it."""


class BundleError(ValueError):
    """A bundle is missing, damaged or does not fit the robot; the message says which file and what."""


class Normalization(StrictModel):
    obs_mean: tuple[float, ...]
    obs_std: tuple[float, ...]
    action_mean: tuple[float, ...]
    action_std: tuple[float, ...]


class Parity(StrictModel):
    """max |onnx - torch| / max |torch| per graph output, measured at export on random inputs."""

    encoder: float
    dynamics: float
    rollout_cost: float
    rollout_features: float
    tolerance: float

    @property
    def worst(self) -> float:
        return max(self.encoder, self.dynamics, self.rollout_cost, self.rollout_features)


class TrainingData(StrictModel):
    path: str
    sha256: str


class BundleMetadata(StrictModel):
    schema_version: int = BUNDLE_SCHEMA_VERSION
    observation_layout: Layout
    action_layout: Layout
    feature_layout: Layout
    action_kind: str
    robot: RobotSpec
    samples: int = Field(gt=0)
    horizon: int = Field(gt=0)
    latent_size: int = Field(gt=0)
    ensemble: int = Field(ge=1)
    model: ModelConfig
    normalization: Normalization
    training_data: tuple[TrainingData, ...]
    data_hash: str
    val_fraction: float
    split_seed: int
    parity: Parity
    files: dict[str, str] = Field(description="sha256 of each graph file and of the torch weights")
    opset: int
    producer: dict[str, str] = Field(default_factory=dict)

    @property
    def control_period(self) -> float:
        return self.robot.control_period


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_bundle_metadata(bundle: str | Path, *, check_files: bool = True) -> BundleMetadata:
    """Read and validate ``metadata.json`` and, with ``check_files``, every graph file's checksum."""
    root = Path(bundle)
    if not root.exists():
        raise BundleError(f"{root}: no such model bundle")
    if not root.is_dir():
        raise BundleError(
            f"{root}: a model bundle is a directory holding {METADATA_NAME} and {list(GRAPH_FILES)}"
        )
    path = root / METADATA_NAME
    try:
        meta = load_versioned_json(
            path, BundleMetadata, schema_version=BUNDLE_SCHEMA_VERSION, error=BundleError
        )
    except FileNotFoundError:
        raise BundleError(f"{path}: missing; {root} is not a complete model bundle") from None
    if check_files:
        for name in GRAPH_FILES:
            graph = root / name
            if not graph.is_file():
                raise BundleError(f"{graph}: missing from the model bundle")
            if file_sha256(graph) != meta.files.get(name):
                raise BundleError(
                    f"{graph}: checksum differs from {METADATA_NAME}; the file is truncated or corrupted"
                )
    return meta


def _chain_differences(bundle: RobotSpec, robot: RobotSpec, tolerance: float = 1e-6) -> list[str]:
    """Joint frames of the two chains that differ (m, or quaternion components), named by joint."""
    ours, theirs = bundle.kinematics, robot.kinematics
    if ours is None or theirs is None or len(ours.joints) != len(theirs.joints):
        return []
    problems = []
    for name, a, b in zip(robot.joint_names, ours.joints, theirs.joints, strict=True):
        offset = max(abs(x - y) for x, y in zip(a.xyz, b.xyz, strict=True))
        # q and -q are the same turn.
        turn = min(max(abs(x - s * y) for x, y in zip(a.quat, b.quat, strict=True)) for s in (1.0, -1.0))
        if offset > tolerance or turn > tolerance:
            problems.append(
                f"joint {name!r} sits elsewhere in the chain: bundle xyz {list(a.xyz)} quat {list(a.quat)} "
                f"vs robot xyz {list(b.xyz)} quat {list(b.quat)}"
            )
    return problems


def robot_differences(bundle: RobotSpec, robot: RobotSpec) -> list[str]:
    """Every way in which ``robot`` differs from the robot a bundle was trained for: joint names, control
    period, position and velocity limits, joint frames."""
    problems = []
    if bundle.joint_names != robot.joint_names:
        problems.append(f"joint names: bundle {list(bundle.joint_names)} vs robot {list(robot.joint_names)}")
    if abs(bundle.control_period - robot.control_period) > 1e-9:
        problems.append(f"control period: bundle {bundle.control_period} s vs robot {robot.control_period} s")
    for field in ("position_lower", "position_upper", "velocity_limits"):
        ours, theirs = getattr(bundle, field), getattr(robot, field)
        if len(ours) == len(theirs) and any(abs(a - b) > 1e-6 for a, b in zip(ours, theirs, strict=True)):
            problems.append(f"{field}: bundle {list(ours)} vs robot {list(theirs)}")
    return problems + _chain_differences(bundle, robot)


def check_compatible(
    meta: BundleMetadata, robot: RobotSpec, *, observation_layout: Layout | None = None
) -> list[str]:
    """Every way in which the bundle does not fit ``robot`` (and the expected observation layout)."""
    problems = robot_differences(meta.robot, robot)
    if meta.action_layout.size != robot.dof:
        problems.append(f"action size: bundle {meta.action_layout.size} vs robot dof {robot.dof}")
    if observation_layout is not None and meta.observation_layout != observation_layout:
        problems.append(
            f"observation layout: bundle {meta.observation_layout.describe()} "
            f"(size {meta.observation_layout.size})"
            f" vs expected {observation_layout.describe()} (size {observation_layout.size})"
        )
    return problems
