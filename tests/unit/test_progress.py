"""The posting progress on stderr: a bar redrawn in place on a terminal, a periodic line in a log."""

from __future__ import annotations

import io

from importer.models import Outcome, Status
from importer.progress import Progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def posted(status: Status) -> tuple[str, Outcome]:
    return "N", Outcome(status)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_one_line_per_interval_and_a_last_one() -> None:
    stream, clock = io.StringIO(), Clock()
    progress = Progress(10, stream=stream, interval=5.0, clock=clock)
    for second in range(10):
        clock.now = float(second + 1)
        progress(*posted(Status.FAILED if second == 3 else Status.CREATED))
    lines = stream.getvalue().splitlines()
    assert lines == [
        "[############------------] 5/10 posted, 4 created, 1 failed, 1.0/s, ETA 0:05",
        "[########################] 10/10 posted, 9 created, 1 failed, 1.0/s, ETA 0:00",
    ]


def test_a_terminal_gets_the_bar_redrawn_in_place() -> None:
    stream, clock = Terminal(), Clock()
    progress = Progress(3, stream=stream, clock=clock)
    for second in range(3):
        clock.now = second + 1.0
        progress(*posted(Status.CREATED))
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("3/3 posted, 3 created, 0 failed, 1.0/s, ETA 0:00\n")
