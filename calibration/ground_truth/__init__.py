"""Ground truth: synthetic runs of arms whose truth is known (the perturbed MuJoCo servo, a cascaded drive
outside every model class, a pure delay), written as a real arm's logs, and the self-test that checks
identification against them."""

from calibration.ground_truth.drive import CascadedDrive, simulate_drive_run
from calibration.ground_truth.selftest import TRUTHS, SelfTestResult, run_self_test
from calibration.ground_truth.synthetic import (
    SensorNoise,
    SyntheticRun,
    simulate_delay_run,
    simulate_run,
    write_run_bag,
)

__all__ = [
    "TRUTHS",
    "CascadedDrive",
    "SelfTestResult",
    "SensorNoise",
    "SyntheticRun",
    "run_self_test",
    "simulate_delay_run",
    "simulate_drive_run",
    "simulate_run",
    "write_run_bag",
]
