"""Evaluation: how far the calibrated simulator and the learned model are from the logged arm, and the
HTML report that shows it."""

from calibration.evaluation.replays import ReplayedLog, replay_logs
from calibration.evaluation.report import write_report
from calibration.evaluation.sim2real import mmrv, pearson_r, run_sim2real

__all__ = ["ReplayedLog", "mmrv", "pearson_r", "replay_logs", "run_sim2real", "write_report"]
