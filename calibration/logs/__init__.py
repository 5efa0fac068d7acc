"""Logs: rosbag2 bags and episode files read into aligned joint logs, what their commands said, and
logged runs imported as datasets."""

from calibration.logs.bags import BagWriter, read_goals, read_joint_log
from calibration.logs.commands import delayed, reference_path
from calibration.logs.episodes import log_episode
from calibration.logs.importer import import_logs
from calibration.logs.joint_log import BadLogError, JointLog, align
from calibration.logs.sources import LogReading, read_logs

__all__ = [
    "BadLogError",
    "BagWriter",
    "JointLog",
    "LogReading",
    "align",
    "delayed",
    "import_logs",
    "log_episode",
    "read_goals",
    "read_joint_log",
    "read_logs",
    "reference_path",
]
