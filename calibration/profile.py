"""The calibration profile (YAML) and the calibrated scene (MJCF) that system identification writes.

The profile holds the fitted values with their 95% intervals, the command latency (a scene has no place
for it: the simulator applies it), and how well the fit did on held-out runs. The scene is the source MJCF
with the fitted values written onto its joints and position actuators; everything else is kept.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import yaml
from pydantic import Field

from calibration.parameters import JOINT_PARAMETERS, ArmParameters, read_parameters
from sim.scene import SceneHandles, load_scene
from wm_planner.config import StrictModel, load_yaml_model

__all__ = ["PROFILE_SCHEMA", "CalibrationProfile", "FitQuality", "load_profile", "write_calibrated_scene"]

PROFILE_SCHEMA = 1


class FitQuality(StrictModel):
    """Open-loop tracking RMSE (rad, per joint) on the held-out runs, before and after calibration."""

    held_out: list[str]
    rmse_before: list[float]
    rmse_after: list[float]


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
    fixed: tuple[str, ...] = ()
    at_bound: tuple[str, ...] = ()
    poorly_determined: tuple[str, ...] = ()
    quality: FitQuality | None = None

    def arm_parameters(self) -> ArmParameters:
        return ArmParameters({k: np.asarray(v) for k, v in self.parameters.items()}, self.latency)

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


def write_calibrated_scene(
    source: str | Path, out: str | Path, joint_names: tuple[str, ...], parameters: ArmParameters
) -> Path:
    """Write ``source`` (an MJCF) to ``out`` with ``parameters`` on the joints and their position
    actuators, then compile it and check that it reads back the same values."""
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
        actuators[name].set("kp", repr(float(parameters.joints["kp"][j])))
        actuators[name].set("kv", repr(float(parameters.joints["kv"][j])))
    _absolute_asset_dirs(root, source.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    tree.write(out, encoding="unicode")
    model = load_scene(out)
    written = read_parameters(model, SceneHandles.of(model, joint_names))
    for key in JOINT_PARAMETERS:
        if not np.allclose(written.joints[key], parameters.joints[key], rtol=1e-9):
            raise RuntimeError(
                f"{out}: {key} reads back as {written.joints[key]}, not {parameters.joints[key]}"
            )
    return out
