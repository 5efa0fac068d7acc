"""Typed, strict configuration values and their YAML loading.

Every model forbids unknown keys and is frozen. Loading errors name the file and the dotted path of
each offending field, so a typo in a robot's YAML is found before the robot moves.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = [
    "ConfigError",
    "Kinematics",
    "ModelConfig",
    "ObjectSpec",
    "PlannerConfig",
    "RobotSpec",
    "RuntimeConfig",
    "SafetyConfig",
    "StrictModel",
    "SupervisorConfig",
    "ToolPoint",
    "ToolSpec",
    "TrainConfig",
    "TrainingFile",
    "default_robot_spec",
    "load_versioned_json",
    "load_yaml_model",
    "parse_mapping",
    "validate_model",
]


class ConfigError(ValueError):
    """A configuration file or value is invalid; the message names the file and field."""


class StrictModel(BaseModel):
    """Base for every config value: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Vec3 = tuple[float, float, float]
Quat = tuple[float, float, float, float]


class FixedTransform(StrictModel):
    """A frame placed in its parent frame: origin ``xyz`` (m) and orientation ``quat`` (w x y z)."""

    xyz: Vec3 = (0.0, 0.0, 0.0)
    quat: Quat = (1.0, 0.0, 0.0, 0.0)


class ToolPoint(StrictModel):
    """A sphere of the tool's collision geometry, centred at ``xyz`` in the tool frame."""

    xyz: Vec3
    radius: float = Field(ge=0.0, description="m")


class Kinematics(StrictModel):
    """Serial-chain kinematics of the arm, enough to place the tool in the world from joint positions.

    ``joints[i]`` is the frame of joint ``i`` in the previous joint's frame (the first one in the world),
    before the joint turns; every joint is a hinge about its frame's z axis, as in URDF/MJCF chains
    written with z-aligned joints. ``tool`` is the tool frame in the last joint's frame, ``tip`` the tool
    tip in the tool frame (the ``ee_pos`` the tasks measure), and ``tool_points`` the spheres that cover
    the tool and the last links: what can touch an object.
    """

    joints: tuple[FixedTransform, ...] = Field(min_length=1)
    tool: FixedTransform = FixedTransform()
    tip: Vec3 = (0.0, 0.0, 0.0)
    tool_points: tuple[ToolPoint, ...] = Field(min_length=1)
    base_link: str | None = Field(default=None, description="URDF link the chain starts from, when imported")
    tip_link: str | None = Field(
        default=None, description="URDF link the tool frame is fixed to, when imported"
    )

    def tip_radius(self) -> float:
        """m: radius of the tool sphere nearest the tip, the width of what touches an object first."""
        tip = np.asarray(self.tip)
        return min(self.tool_points, key=lambda p: float(np.linalg.norm(np.asarray(p.xyz) - tip))).radius


class RobotSpec(StrictModel):
    """Joint-space description of the arm the planner commands.

    Limits are per joint and in the order of ``joint_names``: positions in rad, velocities in rad/s,
    accelerations in rad/s². ``control_period`` is the time between two commands, in seconds.
    """

    name: str = Field(min_length=1)
    joint_names: tuple[str, ...] = Field(min_length=1)
    position_lower: tuple[float, ...]
    position_upper: tuple[float, ...]
    velocity_limits: tuple[float, ...]
    acceleration_limits: tuple[float, ...]
    effort_limits: tuple[float, ...] | None = None
    control_period: float = Field(default=0.02, gt=0.0, le=1.0)
    kinematics: Kinematics | None = Field(
        default=None, description="chain and tool geometry; needed by world models with objects"
    )

    @model_validator(mode="after")
    def _check_consistent(self) -> RobotSpec:
        n = len(self.joint_names)
        if len(set(self.joint_names)) != n:
            raise ValueError(f"joint_names has duplicates: {list(self.joint_names)}")
        per_joint = {
            "position_lower": self.position_lower,
            "position_upper": self.position_upper,
            "velocity_limits": self.velocity_limits,
            "acceleration_limits": self.acceleration_limits,
        }
        if self.effort_limits is not None:
            per_joint["effort_limits"] = self.effort_limits
        for field, values in per_joint.items():
            if len(values) != n:
                raise ValueError(f"{field} has {len(values)} entries but there are {n} joint_names")
            if not all(np.isfinite(values)):
                raise ValueError(f"{field} must be finite, got {list(values)}")
        for field in ("velocity_limits", "acceleration_limits", "effort_limits"):
            limits = per_joint.get(field)
            if limits is not None and min(limits) <= 0.0:
                raise ValueError(f"{field} must be positive, got {list(limits)}")
        for name, lo, hi in zip(self.joint_names, self.position_lower, self.position_upper, strict=True):
            if lo >= hi:
                raise ValueError(f"joint {name!r}: position_lower {lo} is not below position_upper {hi}")
        if self.kinematics is not None and len(self.kinematics.joints) != n:
            raise ValueError(
                f"kinematics.joints has {len(self.kinematics.joints)} entries but there are {n} joint_names"
            )
        return self

    @property
    def dof(self) -> int:
        return len(self.joint_names)

    def lower(self) -> np.ndarray:
        """Position lower limits, ``[J]``."""
        return np.asarray(self.position_lower, dtype=np.float64)

    def upper(self) -> np.ndarray:
        """Position upper limits, ``[J]``."""
        return np.asarray(self.position_upper, dtype=np.float64)

    def max_step(self) -> np.ndarray:
        """Largest joint position change allowed in one control period, ``[J]`` (rad)."""
        return np.asarray(self.velocity_limits, dtype=np.float64) * self.control_period


class ObjectSpec(StrictModel):
    """An object the world model carries explicitly: its observation blocks and its shape.

    The object moves in the table plane (position and a turn about the vertical); ``position`` names a
    3-value block (m, world frame) and ``orientation`` a 4-value quaternion block (w x y z).
    ``symmetry`` is the order of the shape's rotational symmetry about the vertical (4 for a cube), so
    contacts are seen in one canonical frame whichever face points where.
    """

    name: str = Field(min_length=1)
    position: str = Field(min_length=1)
    orientation: str = Field(min_length=1)
    half_extents: Vec3 = Field(description="half sizes (m) of the object's box in its own frame")
    symmetry: Literal[1, 2, 4] = 4


class ToolSpec(StrictModel):
    """The tool of a world without kinematics (a gymnasium environment, say), observed as a point: the
    3-value position block ``block`` is the tool tip and the centre of one sphere of ``radius`` (m) that
    touches objects."""

    block: str = Field(min_length=1)
    radius: float = Field(gt=0.0)


class ModelConfig(StrictModel):
    """Shape of the latent world model.

    The encoder runs once per plan and the decoder once on all imagined steps together, so they can be
    wide; the dynamics run N x H times in sequence and dominate planning time, so they are kept small.
    """

    latent_size: int = Field(default=48, gt=0)
    hidden_size: int = Field(default=96, gt=0, description="width of the dynamics MLP")
    layers: int = Field(default=2, ge=1, description="hidden layers of the dynamics MLP")
    encoder_hidden: int = Field(default=256, gt=0)
    encoder_layers: int = Field(default=2, ge=1)
    decoder_hidden: int = Field(default=128, gt=0)
    decoder_layers: int = Field(default=1, ge=1)
    ensemble: int = Field(default=1, ge=1, description="dynamics heads; >1 gives a disagreement penalty")
    robot_model: Literal["auto", "latent", "joint"] = Field(
        default="auto",
        description="the robot's part: a latent of its blocks, or joint-space servo dynamics with forward "
        "kinematics (arms commanded by joint position deltas); auto picks joint where it applies",
    )
    objects: tuple[ObjectSpec, ...] | None = Field(
        default=None,
        description="objects advanced by the interaction module; None takes the dataset's, () none",
    )
    tool: ToolSpec | None = Field(
        default=None,
        description="the tool as an observed point, for objects in worlds without kinematics; None takes "
        "the dataset's",
    )
    interaction_hidden: int = Field(default=64, gt=0, description="width of the interaction MLP")
    interaction_layers: int = Field(default=2, ge=1)
    interaction_ensemble: int = Field(
        default=3, ge=1, description="interaction heads; their disagreement is the planner's penalty"
    )
    contact_margin: float = Field(
        default=0.01,
        gt=0.0,
        description="m of clearance between tool and object beyond which the object cannot move (the gate)",
    )
    object_step: int = Field(
        default=2,
        ge=1,
        description="control periods per interaction step: objects move every object_step periods, from "
        "the tool's travel over them (fewer sequential steps: planning time)",
    )


class TrainConfig(StrictModel):
    """Optimisation of the world model."""

    steps: int = Field(default=3000, gt=0)
    batch_size: int = Field(default=256, gt=0)
    horizon: int = Field(default=24, gt=0, description="steps of each training window (multi-step loss)")
    learning_rate: float = Field(default=1e-3, gt=0)
    weight_decay: float = Field(default=1e-5, ge=0)
    latent_weight: float = Field(default=0.5, ge=0, description="weight of latent consistency")
    object_weight: float = Field(default=1.0, ge=0, description="weight of the objects' pose error")
    object_horizon: int = Field(
        default=16, gt=0, description="steps of the objects' open-loop loss (at most horizon)"
    )
    object_updates: int = Field(
        default=2,
        ge=0,
        description="extra updates of the interaction modules alone per training step, on fresh object "
        "windows (their loss is cheap; with one update per step they underfit)",
    )
    object_update_loss: Literal["rollout", "one_step"] = Field(
        default="one_step",
        description="loss of the extra object updates: the open-loop rollout of the main loss, or every "
        "interaction step from the true state, all steps in one batch (a fraction of the time)",
    )
    cut_unsound: bool = Field(
        default=True, description="leave out the steps after an object tipped over or fell (data hygiene)"
    )
    balanced_contacts: bool = Field(
        default=True, description="draw object windows in equal shares: moving, near miss, free"
    )
    focus_share: float = Field(
        default=0.5,
        ge=0,
        lt=1,
        description="share of every batch drawn from the focus datasets (the planner's own experience, "
        "in improve), when training is given any; the other datasets fill the rest",
    )
    threads: int = Field(
        default=1,
        ge=0,
        description="torch CPU threads (0: torch's choice, one per core). One is as fast on two cores, and "
        "does not collapse when another process takes a core (measured 3.6x slower with two threads then)",
    )
    val_fraction: float = Field(default=0.1, ge=0, lt=1)
    eval_every: int = Field(default=500, gt=0)
    checkpoint_every: int = Field(default=1000, gt=0)
    seed: int = 0


class TrainingFile(StrictModel):
    """A training YAML: ``model:`` and ``train:`` sections, each optional."""

    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()


DEFAULT_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


class RuntimeConfig(StrictModel):
    """How the ONNX bundle is run: execution providers in order of preference, device and threads."""

    providers: tuple[str, ...] = Field(
        default=DEFAULT_PROVIDERS,
        min_length=1,
        description="ONNX Runtime execution providers, in order of preference; unavailable ones are skipped",
    )
    device_id: int = Field(default=0, ge=0, description="GPU index for the CUDA and TensorRT providers")
    intra_op_threads: int = Field(default=0, ge=0, description="0 lets ONNX Runtime choose")
    cpu_shards: int = Field(
        default=0,
        ge=0,
        description="on the CPU, split the N rollout samples over this many single-threaded sessions run "
        "in parallel (small graphs are bound by per-operator overhead, which one session cannot spread "
        "over cores); 0 = one per core, at most 4",
    )
    trt_cache_dir: str | None = Field(default=None, description="TensorRT engine cache directory")


class SafetyConfig(StrictModel):
    """Limits the command filter enforces on every command, whatever the planner proposed.

    Scales apply to the robot's own limits (:class:`RobotSpec`); the margin keeps commands off the hard
    joint stops.
    """

    position_margin: float = Field(default=0.02, ge=0.0, description="rad kept clear of each joint limit")
    speed_scale: float = Field(default=1.0, gt=0.0, le=1.0, description="fraction of the velocity limits")
    acceleration_scale: float = Field(
        default=1.0, gt=0.0, le=1.0, description="fraction of the acceleration limits"
    )
    state_timeout_periods: float = Field(
        default=1.0, gt=0.0, description="control periods without a fresh joint state before holding"
    )
    max_tracking_error: float = Field(
        default=0.15,
        gt=0.0,
        description="rad between the last command and the measured position before commands restart there",
    )
    max_plan_reuse: int = Field(
        default=5,
        ge=0,
        description="control periods a late or invalid plan may be replaced by the last good one",
    )


class SupervisorConfig(StrictModel):
    """How the control loop treats its inputs: joint-state stamps, goals and the object's pose.

    The same values whether the loop runs in the ROS node, in ``wm-planner eval`` or in a script.
    """

    max_stamp_lead: float = Field(
        default=0.05, ge=0.0, le=10.0, description="s a joint state's stamp may be ahead of the clock"
    )
    stream_restart: float = Field(
        default=0.5,
        gt=0.0,
        le=60.0,
        description="s without joint states after which a stream may begin afresh (a restarted driver, "
        "whose clock may start again from zero); before that, older stamps and jumps are refused",
    )
    preview_steps: int = Field(
        default=8, ge=0, le=1000, description="plan steps previewed after the next command"
    )
    goal_workspace_min: Vec3 = Field(
        default=(0.2, -0.6, 0.02), description="m; lower corner of allowed end-effector goals"
    )
    goal_workspace_max: Vec3 = Field(
        default=(0.85, 0.6, 0.8), description="m; upper corner of allowed end-effector goals"
    )
    goal_out_of_bounds: Literal["reject", "clamp"] = Field(
        default="reject", description="'reject' or 'clamp' goals outside the workspace or joint limits"
    )
    posture_weight: float = Field(
        default=1.0,
        ge=0.0,
        description="cost per imagined step of a joint at its limit, added to end-effector and object goals "
        "so redundant joints stay off their limits over many goals (0: off)",
    )
    posture_free: float = Field(
        default=0.8,
        ge=0.0,
        lt=1.0,
        description="fraction of each joint's half-range from mid-range that the posture cost leaves free",
    )
    object_default_pose: tuple[float, float, float, float, float, float, float] = Field(
        default=(0.5, 0.0, 0.025, 1.0, 0.0, 0.0, 0.0),
        description="object pose [x y z qw qx qy qz] used until one arrives (reach goals do not need it)",
    )

    @model_validator(mode="after")
    def _check_workspace(self) -> SupervisorConfig:
        low, high = np.array(self.goal_workspace_min), np.array(self.goal_workspace_max)
        if not np.all(np.isfinite(low)) or not np.all(np.isfinite(high)) or np.any(low >= high):
            raise ValueError(
                f"goal_workspace_min {list(low)} must be finite and below goal_workspace_max {list(high)}"
            )
        if not np.all(np.isfinite(self.object_default_pose)):
            raise ValueError(f"object_default_pose must be finite, got {list(self.object_default_pose)}")
        return self


class PlannerConfig(StrictModel):
    """Sampling-based MPC over the world model (MPPI or CEM).

    Noise is in units of the action bound: ``noise_std = 0.5`` samples with a standard deviation of half
    of each action dimension's half-range.
    """

    algorithm: Literal["mppi", "cem"] = Field(default="mppi", description="'mppi' or 'cem'")
    samples: int = Field(default=128, ge=4, description="candidate action sequences per iteration (N)")
    horizon: int = Field(default=16, ge=1, description="control periods imagined ahead (H)")
    iterations: int = Field(
        default=2,
        ge=1,
        description="sample-and-refit rounds per plan (2 x 128 samples fit a 20 ms period on two CPU cores; "
        "more rounds also exploit a model's errors more)",
    )
    temperature: float = Field(
        default=0.05, gt=0, description="MPPI softmax temperature, relative to the cost spread of a round"
    )
    elites: int = Field(default=32, ge=2, description="CEM: best samples the distribution is refitted to")
    momentum: float = Field(default=0.1, ge=0, lt=1, description="CEM: weight of the old mean and std")
    noise_std: float = Field(default=0.5, gt=0, description="initial sampling std, fraction of the bound")
    min_noise_std: float = Field(default=0.05, ge=0, description="floor of the sampling std, same unit")
    noise_beta: float = Field(
        default=0.0, ge=0, description="colour of the sampling noise over time: 0 white, 2 as in iCEM"
    )
    warm_start: bool = Field(default=True, description="start from the previous plan shifted by one step")
    select: Literal["best", "mean"] = Field(
        default="best",
        description="plan returned: the best candidate scored, or the sampling mean of the last round "
        "(less prone to exploiting one sample's model error)",
    )
    uncertainty_weight: float = Field(
        default=1.0,
        ge=0,
        description="cost per metre of the model's ensemble disagreement, summed over the imagined steps",
    )
    deadline_ms: float | None = Field(
        default=None, gt=0, description="stop iterating when the next round would end after this"
    )
    feasible: bool = Field(
        default=True,
        description="on an arm, sample only action sequences within the command filter's acceleration "
        "limits, so the planner imagines what the arm will execute",
    )

    @model_validator(mode="after")
    def _check_elites(self) -> PlannerConfig:
        if self.elites > self.samples:
            raise ValueError(f"elites ({self.elites}) cannot exceed samples ({self.samples})")
        if self.min_noise_std > self.noise_std:
            raise ValueError(f"min_noise_std ({self.min_noise_std}) exceeds noise_std ({self.noise_std})")
        return self


M = TypeVar("M", bound=BaseModel)


def _describe(error: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "<top level>"
        message = "unknown field" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"  field '{where}': {message}")
    return "\n".join(lines)


def validate_model(model: type[M], data: Any, *, source: str) -> M:
    """Build ``model`` from plain data; a failure raises :class:`ConfigError` naming ``source``."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise ConfigError(_describe(error, source)) from None


def load_yaml_model(path: str | Path, model: type[M], *, key: str | None = None) -> M:
    """Load ``model`` from a YAML file, optionally from the mapping under ``key``.

    Raises :class:`ConfigError` naming the file for a missing file, a YAML syntax error (with line and
    column) and every invalid or unknown field.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot read configuration: {error.strerror or error}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path}: malformed YAML{where}: {problem}") from None
    if key is not None:
        if not isinstance(data, dict) or key not in data:
            raise ConfigError(f"{path}: missing top-level key '{key}'")
        data = data[key]
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of fields, got {type(data).__name__}")
    return validate_model(model, data, source=str(path))


def load_versioned_json(path: Path, model: type[M], *, schema_version: int, error: type[ValueError]) -> M:
    """Load ``model`` from a JSON file whose ``schema_version`` must equal ``schema_version``.

    A missing file raises FileNotFoundError (callers know what it means); anything else that is wrong
    raises ``error`` with a message naming the file and, for invalid values, the field.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as problem:
        raise error(f"{path}: unreadable: {problem}") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if version != schema_version:
        raise error(f"{path}: schema_version {version!r} is not supported (expected {schema_version})")
    try:
        return validate_model(model, data, source=str(path))
    except ConfigError as problem:
        raise error(str(problem)) from None


def default_robot_spec(*, control_period: float | None = None) -> RobotSpec:
    """The shipped Franka Panda spec (``wm_planner/configs/panda.yaml``)."""
    with resources.as_file(resources.files("wm_planner") / "configs" / "panda.yaml") as path:
        spec = load_yaml_model(path, RobotSpec)
    if control_period is not None:
        spec = validate_model(
            RobotSpec, {**spec.model_dump(), "control_period": control_period}, source="control_period"
        )
    return spec


def parse_mapping(text: str | None, *, option: str) -> dict[str, Any]:
    """``text`` as a mapping: inline JSON or YAML, or the path of such a file; errors name ``option``."""
    if not text:
        return {}
    path = Path(text)
    source = path.read_text() if path.suffix in {".json", ".yaml", ".yml"} and path.is_file() else text
    try:
        value = yaml.safe_load(source)
    except yaml.YAMLError as error:
        raise ValueError(f"{option}: not JSON or YAML: {error}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{option}: expected a mapping such as '{{\"key\": 1}}', got {json.dumps(value)}")
    return value
