"""wm_planner: what runs on the robot.

Configs, the episode dataset format, the world-model runtime and the planners. Its runtime path needs
only numpy, pydantic and onnxruntime; torch is imported lazily for training and export only.
"""

from wm_planner.config import ConfigError, RobotSpec, default_robot_spec, load_yaml_model

__version__ = "0.1.0"

__all__ = ["ConfigError", "RobotSpec", "__version__", "default_robot_spec", "load_yaml_model"]
