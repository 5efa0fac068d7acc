"""Robot folders (``wm-planner robot import`` writes them): load one, and check that its chain and its
twin agree and that the twin's servos hold the arm."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np

from sim.robot_import import ROBOT_FILE, TWIN_FILE, WORKSPACE_FILE
from sim.scene import SCENE_PATH
from sim.workspace import Workspace
from wm_planner.config import RobotSpec, default_robot_spec, load_yaml_model, validate_model
from wm_planner.kinematics import ForwardKinematics

__all__ = ["FolderCheck", "RobotFolder", "add_robot_option"]


def add_robot_option(parser: argparse.ArgumentParser) -> None:
    """``--robot DIR``: the robot a command runs (default: the shipped arm)."""
    parser.add_argument(
        "--robot",
        default=None,
        metavar="DIR",
        help="robot folder from `wm-planner robot import` (default: the shipped arm)",
    )


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
    """A robot: its ``spec``, the twin's MJCF at ``scene`` and its ``workspace``; ``path`` is the folder
    it was read from (None for the shipped arm, whose files live in the packages)."""

    spec: RobotSpec
    scene: Path
    workspace: Workspace
    path: Path | None = None

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
            spec=load_yaml_model(folder / ROBOT_FILE, RobotSpec),
            scene=folder / TWIN_FILE,
            workspace=load_yaml_model(folder / WORKSPACE_FILE, Workspace),
            path=folder,
        )

    @classmethod
    def shipped(cls, *, control_period: float | None = None) -> RobotFolder:
        """The shipped Panda-like arm with its pusher and hand-written scene."""
        return cls(
            spec=default_robot_spec(control_period=control_period),
            scene=SCENE_PATH,
            workspace=load_yaml_model(SCENE_PATH.with_name("panda_workspace.yaml"), Workspace),
        )

    @classmethod
    def of(cls, path: str | Path | None, *, control_period: float | None = None) -> RobotFolder:
        """The folder at ``path`` (a ``--robot`` option), else the shipped arm; ``control_period``
        overrides the robot's."""
        if path is None:
            return cls.shipped(control_period=control_period)
        folder = cls.load(path)
        if control_period is None:
            return folder
        spec = validate_model(
            RobotSpec,
            {**folder.spec.model_dump(), "control_period": control_period},
            source="--control-period",
        )
        return dataclasses.replace(folder, spec=spec)

    @property
    def home(self) -> np.ndarray:
        """Home pose ``[J]`` (rad)."""
        return np.array(self.workspace.home, dtype=np.float64)

    @property
    def name(self) -> str:
        return self.spec.name

    def model(self) -> mujoco.MjModel:
        return mujoco.MjModel.from_xml_path(str(self.scene))

    def check(self, *, configurations: int = 1000, seed: int = 0) -> FolderCheck:
        """Compare the chain with the twin at ``configurations`` random joint positions, then let the
        twin's servos bring the arm back to home from 0.1 rad away (stable gains settle well within 1 s)."""
        model, robot = self.model(), self.spec
        if robot.kinematics is None:
            raise ValueError(f"robot {robot.name}: no kinematics")
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
        home = self.home
        mujoco.mj_resetData(model, data)
        data.qpos[qpos] = np.clip(home + 0.1, robot.lower(), robot.upper())
        data.ctrl[:] = home
        for _ in range(round(1.0 / model.opt.timestep)):
            mujoco.mj_step(model, data)
        drift = float(np.max(np.abs(data.qpos[qpos] - home)))
        return FolderCheck(configurations=configurations, tip_error_m=worst, settle_error_rad=drift)
