import io

import pytest

from wm_planner.progress import QUIET_ENV, progress_bar


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_file_gets_plain_lines_not_a_redraw_per_update() -> None:
    log = io.StringIO()
    with progress_bar(total=1000, desc="eval", unit="ep", stream=log) as bar:
        for _ in range(1000):
            bar.update(1)
            bar.set_postfix(success="80%")
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    # The first state when the bar opens, the last when it closes; none in between within 10 s.
    assert len(lines) == 2, lines
    assert "0/1000" in lines[0] and "1000/1000" in lines[-1] and "success=80%" in lines[-1]


def test_a_terminal_gets_the_live_bar() -> None:
    screen = Terminal()
    with progress_bar(range(50), desc="train", stream=screen) as bar:
        for _ in bar:
            pass
    assert "\r" in screen.getvalue() and "50/50" in screen.getvalue()


def test_quiet_shows_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(QUIET_ENV, "1")
    log = io.StringIO()
    assert sum(progress_bar(range(20), stream=log)) == sum(range(20))
    assert log.getvalue() == ""
