"""Calibration and sim-to-real, in the order its stages run: ``logs`` (bags read, aligned and imported),
``model`` (the simulator's parameters, replay, the profile), ``fitting`` (excitation and identification),
``evaluation`` (sim-vs-real metrics and the report) and ``ground_truth`` (synthetic runs of known arms)."""

from calibration.evaluation.sim2real import mmrv, pearson_r, run_sim2real
from calibration.fitting.excitation import ExcitationOptions, excitation_trajectory
from calibration.fitting.identify import Identification, identify
from calibration.fitting.sysid import FitOptions, FitResult, fit_parameters
from calibration.logs.bags import BagWriter, read_goals, read_joint_log
from calibration.logs.joint_log import BadLogError, JointLog, align
from calibration.logs.sources import read_logs
from calibration.model.parameters import JOINT_PARAMETERS, ArmParameters, apply_parameters, read_parameters
from calibration.model.profile import CalibrationProfile, load_profile, write_calibrated_scene
from calibration.model.replay import Replayer

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
