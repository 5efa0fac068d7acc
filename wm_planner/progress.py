"""Progress bars that suit where the output goes: a live bar on a terminal, a plain line every few seconds
in a log file (no carriage-return redraws), nothing under ``wm-planner --quiet``."""

from __future__ import annotations

import io
import math
import os
import sys
import time
from collections.abc import Iterable
from typing import Any, TextIO

from tqdm import tqdm

__all__ = ["LOG_INTERVAL_S", "QUIET_ENV", "LogLines", "progress_bar"]

LOG_INTERVAL_S = 10.0
"""s between progress lines written to a file."""
QUIET_ENV = "WM_PLANNER_QUIET"
"""Set to 1 (``wm-planner --quiet`` does) to show no progress at all, in this process and its children."""


class LogLines(io.TextIOBase):
    """A stream for tqdm when the output is not a terminal: each redraw becomes a plain line, at most one
    every ``interval`` seconds, and the bar's last state is written when it closes."""

    def __init__(self, stream: TextIO, *, interval: float = LOG_INTERVAL_S) -> None:
        self.stream, self.interval = stream, interval
        self.pending: str | None = None
        self.written_at = -math.inf

    def write(self, text: str) -> int:
        if text == "\n":  # tqdm closing a bar it leaves on screen
            if self.pending is not None:
                self._emit(self.pending)
            return len(text)
        line = text.replace("\r", "").strip()  # tqdm pads redraws with spaces
        if line:
            self.pending = line
            if time.monotonic() - self.written_at >= self.interval:
                self._emit(line)
        return len(text)

    def _emit(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()
        self.written_at, self.pending = time.monotonic(), None

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    disable: bool = False,
    stream: TextIO | None = None,
    **options: Any,
) -> tqdm:
    """A tqdm bar on ``stream`` (stderr) with tqdm's ``options``: live on a terminal, :class:`LogLines`
    otherwise; disabled by ``disable`` or the :data:`QUIET_ENV` setting."""
    stream = stream if stream is not None else sys.stderr
    disable = disable or os.environ.get(QUIET_ENV, "") not in ("", "0")
    if not disable and not stream.isatty():
        options = {**options, "file": LogLines(stream), "ascii": True, "ncols": 100}
    else:
        options = {**options, "file": stream}
    return tqdm(iterable, disable=disable, **options)
