"""Calibration and sim-to-real: logged runs, excitation, system identification, sim-vs-real reports."""

from calibration.bags import BagWriter, read_goals, read_joint_log
from calibration.excitation import ExcitationOptions, excitation_trajectory
from calibration.identify import Identification, identify
from calibration.joint_log import BadLogError, JointLog, align
from calibration.parameters import JOINT_PARAMETERS, ArmParameters, apply_parameters, read_parameters
from calibration.profile import CalibrationProfile, load_profile, write_calibrated_scene
from calibration.replay import Replayer
from calibration.sim2real import mmrv, pearson_r, run_sim2real
from calibration.sources import read_logs
from calibration.sysid import FitOptions, FitResult, fit_parameters

__all__ = [
    "JOINT_PARAMETERS",
    "ArmParameters",
    "BadLogError",
    "BagWriter",
    "CalibrationProfile",
    "ExcitationOptions",
    "FitOptions",
    "FitResult",
    "Identification",
    "JointLog",
    "Replayer",
    "align",
    "apply_parameters",
    "excitation_trajectory",
    "fit_parameters",
    "identify",
    "load_profile",
    "mmrv",
    "pearson_r",
    "read_goals",
    "read_joint_log",
    "read_logs",
    "read_parameters",
    "run_sim2real",
    "write_calibrated_scene",
]
