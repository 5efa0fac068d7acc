"""Fitting: excitation runs to log, and system identification of the model's parameters from logs."""

from calibration.fitting.excitation import ExcitationOptions, excitation_trajectory
from calibration.fitting.identify import Identification, identify
from calibration.fitting.sysid import FitOptions, FitResult, fit_parameters

__all__ = [
    "ExcitationOptions",
    "FitOptions",
    "FitResult",
    "Identification",
    "excitation_trajectory",
    "fit_parameters",
    "identify",
]
