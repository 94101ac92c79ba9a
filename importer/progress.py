"""Progress of the posting stage on stderr: a live bar on a terminal, a periodic status line otherwise."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from importer.models import Outcome, Status


def _eta(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Counts posted invoices and renders ``done/total, created, failed, rate, ETA``.

    On a terminal the line is redrawn in place at most ten times a second; otherwise one line is
    printed every ``interval`` seconds (and at the end), so that logs stay readable.
    """

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.live = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = 0.1 if self.live else interval
        self.clock = clock
        self.started = clock()
        self.last_shown = self.started
        self.done = self.created = self.failed = 0

    def __call__(self, number: str, outcome: Outcome) -> None:
        self.done += 1
        if outcome.status is Status.CREATED:
            self.created += 1
        elif outcome.status is Status.FAILED:
            self.failed += 1
        now = self.clock()
        if now - self.last_shown >= self.interval or self.done == self.total:
            self.last_shown = now
            self.show(now)

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        remaining = (self.total - self.done) / rate if rate > 0 else 0.0
        width = 24
        filled = int(width * self.done / self.total) if self.total else width
        bar = "#" * filled + "-" * (width - filled)
        return (
            f"[{bar}] {self.done}/{self.total} posted, {self.created} created, {self.failed} failed, "
            f"{rate:.1f}/s, ETA {_eta(remaining)}"
        )

    def show(self, now: float) -> None:
        text = self.line(now)
        if self.live:
            end = "\n" if self.done == self.total else ""
            self.stream.write("\r" + text + end)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
