"""The simulator's model of the arm: its parameters in a MuJoCo scene, open-loop replay of logged
commands, the shaped delay (the servo model class that contains the pure delay), the actuator net (a
learned correction of the servo), inverse dynamics for logged torques, and the calibration profile that
records a fit."""

from calibration.model.actuator_net import ACTUATOR_NET, ActuatorNetOptions, fit_actuator_net, replay_with_net
from calibration.model.parameters import JOINT_PARAMETERS, ArmParameters, apply_parameters, read_parameters
from calibration.model.profile import CalibrationProfile, load_profile, write_calibrated_scene
from calibration.model.replay import Replayer
from calibration.model.shaped import ShapedDelay, fit_shaped_delay

__all__ = [
    "ACTUATOR_NET",
    "JOINT_PARAMETERS",
    "ActuatorNetOptions",
    "ArmParameters",
    "CalibrationProfile",
    "Replayer",
    "ShapedDelay",
    "apply_parameters",
    "fit_actuator_net",
    "fit_shaped_delay",
    "load_profile",
    "read_parameters",
    "replay_with_net",
    "write_calibrated_scene",
]
