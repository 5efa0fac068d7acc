"""The default arm scene and the indices the rest of ``sim`` needs to read and drive it."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import mujoco
import numpy as np

from wm_planner.config import RobotSpec

__all__ = ["HOME_QPOS", "SCENE_PATH", "SceneHandles", "check_scene_matches", "load_scene"]

SCENE_PATH: Path = Path(str(resources.files("sim") / "assets" / "panda_table.xml"))
HOME_QPOS = np.array([0.0, -0.785398, 0.0, -2.356194, 0.0, 1.570796, 0.785398])
"""Panda 'ready' pose: tool pointing down, tip at (0.307, 0, 0.485) m."""


@dataclass(frozen=True)
class SceneHandles:
    """Addresses of the named elements of a loaded scene; see :func:`load_scene`."""

    joint_names: tuple[str, ...]
    arm_qpos: np.ndarray
    """[J] qpos addresses of the arm joints."""
    arm_dof: np.ndarray
    """[J] dof addresses of the arm joints."""
    actuators: np.ndarray
    """[J] actuator ids, in joint order."""
    ee_site: int
    cube_body: int
    cube_qpos: int
    """Start of the cube's 7 free-joint qpos entries (position, then quaternion w x y z)."""
    cube_dof: int
    cube_half_size: float
    reach_target_site: int
    push_target_site: int

    @classmethod
    def of(cls, model: mujoco.MjModel, joint_names: tuple[str, ...]) -> SceneHandles:
        def ident(kind: mujoco.mjtObj, name: str) -> int:
            index = mujoco.mj_name2id(model, kind, name)
            if index < 0:
                raise ValueError(f"scene has no {kind.name.removeprefix('mjOBJ_').lower()} named {name!r}")
            return index

        joints = [ident(mujoco.mjtObj.mjOBJ_JOINT, n) for n in joint_names]
        by_joint = {int(model.actuator_trnid[a, 0]): a for a in range(model.nu)}
        missing = [n for n, j in zip(joint_names, joints, strict=True) if j not in by_joint]
        if missing:
            raise ValueError(f"scene has no actuator driving joints {missing}")
        cube_joint = ident(mujoco.mjtObj.mjOBJ_JOINT, "cube_joint")
        cube_geom = ident(mujoco.mjtObj.mjOBJ_GEOM, "cube_geom")
        return cls(
            joint_names=joint_names,
            arm_qpos=np.array([model.jnt_qposadr[j] for j in joints]),
            arm_dof=np.array([model.jnt_dofadr[j] for j in joints]),
            actuators=np.array([by_joint[j] for j in joints]),
            ee_site=ident(mujoco.mjtObj.mjOBJ_SITE, "ee_site"),
            cube_body=ident(mujoco.mjtObj.mjOBJ_BODY, "cube"),
            cube_qpos=int(model.jnt_qposadr[cube_joint]),
            cube_dof=int(model.jnt_dofadr[cube_joint]),
            cube_half_size=float(model.geom_size[cube_geom, 0]),
            reach_target_site=ident(mujoco.mjtObj.mjOBJ_SITE, "reach_target"),
            push_target_site=ident(mujoco.mjtObj.mjOBJ_SITE, "push_target"),
        )


def load_scene(path: str | Path | None = None, *, timestep: float | None = None) -> mujoco.MjModel:
    """Compile the default scene (or the MJCF at ``path``), optionally overriding the physics timestep."""
    model = mujoco.MjModel.from_xml_path(str(path or SCENE_PATH))
    if timestep is not None:
        if timestep <= 0:
            raise ValueError(f"timestep must be positive, got {timestep}")
        model.opt.timestep = timestep
    return model


def check_scene_matches(model: mujoco.MjModel, robot: RobotSpec) -> None:
    """Raise ``ValueError`` naming each joint whose range in the scene differs from ``robot``'s limits."""
    problems = []
    for name, lo, hi in zip(robot.joint_names, robot.position_lower, robot.position_upper, strict=True):
        joint = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        scene_lo, scene_hi = model.jnt_range[joint]
        if not (np.isclose(scene_lo, lo, atol=1e-4) and np.isclose(scene_hi, hi, atol=1e-4)):
            problems.append(f"{name}: scene range [{scene_lo}, {scene_hi}] vs robot spec [{lo}, {hi}]")
    if problems:
        raise ValueError("scene joint ranges differ from the robot spec:\n  " + "\n  ".join(problems))
