"""The calibration profile (YAML) and the calibrated scene (MJCF) that system identification writes.

The profile holds the fitted values with their 95% intervals, the command latency and command filter (a
scene has no place for them: the simulator applies them), the servo model class that tracks best, and how
well the fit did on held-out runs. The scene is the source MJCF with the fitted values written onto its
joints and position actuators; everything else is kept.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import yaml
from pydantic import Field

from calibration.model.parameters import JOINT_PARAMETERS, ArmParameters, read_parameters
from calibration.model.shaped import ShapedDelay
from sim.scene import SceneHandles, load_scene
from wm_planner.config import StrictModel, load_yaml_model

__all__ = [
    "PROFILE_SCHEMA",
    "CalibrationProfile",
    "FitQuality",
    "InertialProfile",
    "ShapedDelayProfile",
    "baseline_ratio",
    "baseline_verdict",
    "load_profile",
    "write_calibrated_scene",
]

PROFILE_SCHEMA = 2


class FitQuality(StrictModel):
    """Open-loop tracking RMSE (rad, per joint) on the held-out runs: the uncalibrated scene, the
    calibrated twin (the servo model class that tracks them best, see ``by_model``), and the no-physics
    baseline (the commanded path, ``baseline_delay`` s late, the delay that fits the fitted runs best)."""

    fitted: list[str]
    held_out: list[str]
    rmse_before: list[float]
    rmse_after: list[float]
    rmse_baseline: list[float]
    baseline_delay: float
    by_model: dict[str, list[float]] = Field(default_factory=dict)
    """Held-out RMSE of every servo model class fitted; ``rmse_after`` is the best one's."""

    @property
    def baseline_ratio(self) -> float:
        """Calibrated over baseline held-out RMSE (means over joints): below 1 the twin earns its place."""
        return baseline_ratio(self.rmse_after, self.rmse_baseline)


def baseline_ratio(calibrated: list[float], baseline: list[float]) -> float:
    """Mean calibrated RMSE over mean baseline RMSE: the headline of a calibration."""
    return (sum(calibrated) / len(calibrated)) / max(sum(baseline) / len(baseline), 1e-12)


def baseline_verdict(ratio: float, delay: float) -> str | None:
    """The warning for a twin that tracks worse than the command ``delay`` s late (None when it does not)."""
    if ratio <= 1.0:
        return None
    return (
        f"warning: the calibrated twin tracks {ratio:.2f}x WORSE than the delay baseline (the command "
        f"{1000 * delay:.1f} ms late): on these logs a pure delay is the better model of the arm; do not "
        "trust this twin over it"
    )


class ShapedDelayProfile(StrictModel):
    """A fitted shaped delay (:mod:`calibration.model.shaped`): latency (s) and, per section, the joints'
    time constants (s)."""

    order: int
    latency: float
    time_constants: list[list[float]]

    @classmethod
    def of(cls, model: ShapedDelay) -> ShapedDelayProfile:
        return cls(order=model.order, latency=model.latency, time_constants=model.time_constants.tolist())

    def model(self) -> ShapedDelay:
        return ShapedDelay(self.latency, np.asarray(self.time_constants, dtype=np.float64))


class InertialProfile(StrictModel):
    """What the logged joint torques identified (see :mod:`calibration.model.inertial`): each link's scale
    factor on the scene's mass and inertia with its 95% interval, the scene's link masses (kg) and what the
    scales make of them, the links kept at the scene's mass, and per joint the rotor inertia, viscous
    (N·m·s/rad) and Coulomb (N·m) friction, and the fit's torque RMSE (N·m).

    A scale is not a measured mass: it scales the scene's own shapes, so where those differ from the real
    links (primitives standing in for meshes, a misplaced centre of mass) the scale absorbs the
    difference, and its interval covers the noise, not that difference."""

    links: list[str]
    scale: list[float]
    scale_ci95: tuple[list[float], list[float]]
    mass_before: list[float]
    mass_after: list[float]
    not_identified: list[str]
    armature: list[float]
    viscous: list[float]
    coulomb: list[float]
    friction_ci95: dict[str, tuple[list[float], list[float]]]
    torque_rmse: list[float]


class CalibrationProfile(StrictModel):
    schema_version: int = PROFILE_SCHEMA
    robot: str
    joint_names: tuple[str, ...]
    source_scene: str
    scene: str
    """The calibrated MJCF, relative to the profile's directory."""
    logs: list[str]
    parameters: dict[str, list[float]]
    """Fitted per-joint values: armature, frictionloss, kp, kv."""
    latency: float = Field(ge=0.0)
    ci95_low: dict[str, list[float]]
    ci95_high: dict[str, list[float]]
    latency_ci95: tuple[float, float]
    command_filter: float = Field(default=0.0, ge=0.0)
    """Time constant (s) of the first-order filter the late command passes through (the scene cannot
    hold it: the simulator applies it, as it does the latency)."""
    command_filter_ci95: tuple[float, float] = (0.0, 0.0)
    fixed: tuple[str, ...] = ()
    """Parameters kept at the scene's values."""
    from_torques: tuple[str, ...] = ()
    """Parameters identified from logged torques (before the tracking fit, which keeps them)."""
    at_bound: tuple[str, ...] = ()
    poorly_determined: tuple[str, ...] = ()
    bounds: dict[str, tuple[float, float]] = Field(default_factory=dict)
    """The search box of every fitted parameter, in its own unit."""
    correlations: list[tuple[str, str, float]] = Field(default_factory=list)
    """Strongly correlated pairs of fitted parameters (latency against the gains, say)."""
    command_kind: str = "position"
    servo_model: str = "mujoco_servo"
    """The servo model class that tracks the held-out runs best: ``mujoco_servo`` (the calibrated scene),
    ``actuator_net`` (the scene corrected by ``actuator_net``) or ``shaped_delay_<order>`` (see
    ``shaped_delays``, which have no physics: the simulator runs the scene then)."""
    shaped_delays: list[ShapedDelayProfile] = Field(default_factory=list)
    actuator_net: str | None = None
    """The fitted actuator net (``.npz``), relative to the profile's directory, when one was fitted."""
    torque_sensor: str = "motor"
    """Where the logged efforts were taken as measured: ``motor``, ``link`` or ``none`` (not used)."""
    inertial: InertialProfile | None = None
    quality: FitQuality | None = None

    def actuator_net_path(self, profile_path: str | Path) -> Path | None:
        return None if self.actuator_net is None else Path(profile_path).parent / self.actuator_net

    def scene_path(self, profile_path: str | Path) -> Path:
        return Path(profile_path).parent / self.scene

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False))
        return path


def load_profile(path: str | Path) -> CalibrationProfile:
    profile = load_yaml_model(path, CalibrationProfile)
    if profile.schema_version != PROFILE_SCHEMA:
        raise ValueError(
            f"{path}: profile schema {profile.schema_version}, this version reads {PROFILE_SCHEMA}"
        )
    missing = set(JOINT_PARAMETERS) - set(profile.parameters)
    if missing:
        raise ValueError(f"{path}: parameters lacks {sorted(missing)}")
    return profile


def _absolute_asset_dirs(root: ET.Element, source_dir: Path) -> None:
    """Keep mesh and texture paths valid when the scene is written somewhere else."""
    for compiler in root.iter("compiler"):
        for key in ("meshdir", "texturedir", "assetdir"):
            if key in compiler.attrib and not Path(compiler.attrib[key]).is_absolute():
                compiler.attrib[key] = str((source_dir / compiler.attrib[key]).resolve())
    if any("file" in e.attrib for e in root.iter()) and not any(
        "assetdir" in c.attrib or "meshdir" in c.attrib for c in root.iter("compiler")
    ):
        ET.SubElement(root, "compiler", assetdir=str(source_dir.resolve()))


def _scale_body(body: ET.Element, scale: float) -> None:
    """Scale a body's own mass and inertia in MJCF (its ``inertial``, else its geoms' mass or density)."""
    inertial = body.find("inertial")
    if inertial is not None:
        for key in ("mass", "diaginertia", "fullinertia"):
            if key in inertial.attrib:
                values = [float(v) * scale for v in inertial.attrib[key].split()]
                inertial.set(key, " ".join(repr(v) for v in values))
        return
    for geom in body.findall("geom"):
        if "mass" in geom.attrib:
            geom.set("mass", repr(float(geom.attrib["mass"]) * scale))
        else:
            geom.set("density", repr(float(geom.get("density", "1000")) * scale))


def write_calibrated_scene(
    source: str | Path,
    out: str | Path,
    joint_names: tuple[str, ...],
    parameters: ArmParameters,
    *,
    damping: np.ndarray | None = None,
    body_scales: dict[str, float] | None = None,
) -> Path:
    """Write ``source`` (an MJCF) to ``out`` with ``parameters`` on the joints and their position
    actuators, ``damping [J]`` (viscous friction) on the joints and the masses and inertias of the
    bodies in ``body_scales`` scaled, then compile it and check that it reads back the same values."""
    source, out = Path(source), Path(out)
    tree = ET.parse(source)
    root = tree.getroot()
    joints = {e.get("name"): e for e in root.iter("joint")}
    actuators = {e.get("joint"): e for e in root.iter("position")}
    for j, name in enumerate(joint_names):
        if name not in joints or name not in actuators:
            raise ValueError(f"{source}: no joint and position actuator named {name!r}")
        for key in ("armature", "frictionloss"):
            joints[name].set(key, repr(float(parameters.joints[key][j])))
        if damping is not None:
            joints[name].set("damping", repr(float(damping[j])))
        actuators[name].set("kp", repr(float(parameters.joints["kp"][j])))
        actuators[name].set("kv", repr(float(parameters.joints["kv"][j])))
    bodies = {e.get("name"): e for e in root.iter("body")}
    for body, scale in (body_scales or {}).items():
        if body not in bodies:
            raise ValueError(f"{source}: no body named {body!r}")
        _scale_body(bodies[body], scale)
    _absolute_asset_dirs(root, source.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    tree.write(out, encoding="unicode")
    model = load_scene(out)
    handles = SceneHandles.of(model, joint_names)
    written = read_parameters(model, handles)
    for key in JOINT_PARAMETERS:
        if not np.allclose(written.joints[key], parameters.joints[key], rtol=1e-9):
            raise RuntimeError(
                f"{out}: {key} reads back as {written.joints[key]}, not {parameters.joints[key]}"
            )
    if damping is not None and not np.allclose(model.dof_damping[handles.arm_dof], damping, rtol=1e-9):
        raise RuntimeError(
            f"{out}: damping reads back as {model.dof_damping[handles.arm_dof]}, not {damping}"
        )
    return out
