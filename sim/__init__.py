"""MuJoCo side of wm_planner: the default arm scene, the environment, tasks and data collection."""

import os

if "MUJOCO_GL" not in os.environ and not os.environ.get("DISPLAY"):
    # Headless machines (CI, robots' onboard computers) have EGL but no window system; MuJoCo reads
    # this once, when it is first imported.
    os.environ["MUJOCO_GL"] = "egl"


from sim.env import ACTION_KIND, ACTION_LAYOUT, ArmEnv, EnvOptions, action_layout
from sim.robots import RobotFolder
from sim.scene import HOME_QPOS, SCENE_PATH, SceneHandles, check_scene_matches, load_scene
from sim.tasks import OBSERVATION_LAYOUT, TASKS, PushTask, ReachTask, Task, get_task

__all__ = [
    "ACTION_KIND",
    "ACTION_LAYOUT",
    "HOME_QPOS",
    "OBSERVATION_LAYOUT",
    "SCENE_PATH",
    "TASKS",
    "ArmEnv",
    "EnvOptions",
    "PushTask",
    "ReachTask",
    "RobotFolder",
    "SceneHandles",
    "Task",
    "action_layout",
    "check_scene_matches",
    "get_task",
    "load_scene",
]
