"""Robot folders (``wm-planner robot import`` writes them): load one, and check that its chain and its
twin agree and that the twin's servos hold the arm."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from sim.robot_import import ROBOT_FILE, TWIN_FILE, WORKSPACE_FILE
from sim.workspace import Workspace
from wm_planner.config import RobotSpec, load_yaml_model
from wm_planner.kinematics import ForwardKinematics

__all__ = ["FolderCheck", "RobotFolder"]


@dataclass(frozen=True)
class FolderCheck:
    """How well a robot folder holds together: the largest tool-tip distance (m) between the chain and the
    twin over random configurations, and the largest joint error (rad) of the twin one second after its
    servos were asked to bring the arm back to home from 0.1 rad away on every joint."""

    configurations: int
    tip_error_m: float
    settle_error_rad: float

    def ok(self, *, tip_tolerance: float = 1e-9, hold_tolerance: float = 0.01) -> bool:
        return self.tip_error_m <= tip_tolerance and self.settle_error_rad <= hold_tolerance


@dataclass(frozen=True)
class RobotFolder:
    """A robot folder: its ``spec``, ``workspace`` and the twin's MJCF at ``scene``."""

    path: Path
    spec: RobotSpec
    workspace: Workspace

    @property
    def scene(self) -> Path:
        return self.path / TWIN_FILE

    @classmethod
    def load(cls, path: str | Path) -> RobotFolder:
        """Read ``path``; errors name the missing or invalid file."""
        folder = Path(path)
        for name in (ROBOT_FILE, TWIN_FILE, WORKSPACE_FILE):
            if not (folder / name).is_file():
                raise FileNotFoundError(
                    f"{folder}: no {name}; make robot folders with `wm-planner robot import`"
                )
        return cls(
            path=folder,
            spec=load_yaml_model(folder / ROBOT_FILE, RobotSpec),
            workspace=load_yaml_model(folder / WORKSPACE_FILE, Workspace),
        )

    def model(self) -> mujoco.MjModel:
        return mujoco.MjModel.from_xml_path(str(self.scene))

    def check(self, *, configurations: int = 1000, seed: int = 0) -> FolderCheck:
        """Compare the chain with the twin at ``configurations`` random joint positions, then let the
        twin's servos bring the arm back to home from 0.1 rad away (stable gains settle well within 1 s)."""
        model, robot = self.model(), self.spec
        if robot.kinematics is None:
            raise ValueError(f"{self.path / ROBOT_FILE}: no kinematics")
        data = mujoco.MjData(model)
        qpos = np.array([model.jnt_qposadr[model.joint(n).id] for n in robot.joint_names])
        fk = ForwardKinematics(robot.kinematics)
        site = model.site("ee_site").id
        worst = 0.0
        for q in np.random.default_rng(seed).uniform(
            robot.lower(), robot.upper(), (configurations, robot.dof)
        ):
            data.qpos[qpos] = q
            mujoco.mj_kinematics(model, data)
            worst = max(worst, float(np.max(np.abs(fk.tip(q) - data.site_xpos[site]))))
        home = np.array(self.workspace.home)
        mujoco.mj_resetData(model, data)
        data.qpos[qpos] = np.clip(home + 0.1, robot.lower(), robot.upper())
        data.ctrl[:] = home
        for _ in range(round(1.0 / model.opt.timestep)):
            mujoco.mj_step(model, data)
        drift = float(np.max(np.abs(data.qpos[qpos] - home)))
        return FolderCheck(configurations=configurations, tip_error_m=worst, settle_error_rad=drift)
