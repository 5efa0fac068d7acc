"""Ground truth: synthetic runs of an arm whose parameters are known, written as a real arm's logs, and
the self-test that checks identification recovers them."""

from calibration.ground_truth.selftest import SelfTestResult, run_self_test
from calibration.ground_truth.synthetic import SensorNoise, SyntheticRun, simulate_run, write_run_bag

__all__ = ["SelfTestResult", "SensorNoise", "SyntheticRun", "run_self_test", "simulate_run", "write_run_bag"]
