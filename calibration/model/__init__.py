"""The simulator's model of the arm: its parameters in a MuJoCo scene, open-loop replay of logged
commands, the shaped delay (the servo model class that contains the pure delay), inverse dynamics for
logged torques, and the calibration profile that records a fit."""

from calibration.model.parameters import JOINT_PARAMETERS, ArmParameters, apply_parameters, read_parameters
from calibration.model.profile import CalibrationProfile, load_profile, write_calibrated_scene
from calibration.model.replay import Replayer
from calibration.model.shaped import ShapedDelay, fit_shaped_delay

__all__ = [
    "JOINT_PARAMETERS",
    "ArmParameters",
    "CalibrationProfile",
    "Replayer",
    "ShapedDelay",
    "apply_parameters",
    "fit_shaped_delay",
    "load_profile",
    "read_parameters",
    "write_calibrated_scene",
]
