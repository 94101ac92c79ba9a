"""``N/S`` rates ("at most N requests per S seconds"), shared by --rate and the sandbox's --rate-limit."""

from __future__ import annotations

import math

from importer.errors import UsageError


def parse_rate(text: str) -> tuple[int, float]:
    """Parse ``N/S`` (at most N requests per S seconds): ``"500/10"`` -> ``(500, 10.0)``; else UsageError."""
    count_text, sep, seconds_text = text.strip().partition("/")
    try:
        count, seconds = int(count_text), float(seconds_text)
    except ValueError:
        count, seconds = 0, 0.0
    if not sep or count <= 0 or not math.isfinite(seconds) or seconds <= 0:
        raise UsageError(
            f"invalid rate {text!r}: write N/S, at most N requests per S seconds, e.g. 500/10 "
            "(N a whole number > 0, S a number of seconds > 0)"
        )
    return count, seconds
