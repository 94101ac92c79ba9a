"""Dates as the CRM reads and writes them (the portal's time zone is UTC in the sandbox).

Accepted: ``yyyy-MM-dd`` or ``yyyy-MM-ddTHH:mm:ss`` with an optional fraction of exactly 3 or 7 digits and
an optional zone (``Z`` or ``±hh:mm``); shorter than 7 characters: ``invalid date time format`` without the
value. A value without a zone is portal-local time (UTC here). Returned and stored as
``yyyy-MM-ddTHH:mm:ss.fffffffZ``; stored strings compare in time order.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_DATE_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{7}|\d{3}))?(Z|[+-]\d{2}:\d{2})?)?$"
)


class DateFormatError(ValueError):
    """An unparseable date; the message is the server's."""

    def __init__(self, value: str | None = None) -> None:
        super().__init__(
            "invalid date time format" if value is None else f"invalid date time format: {value}"
        )


def parse_api_date(value: str) -> datetime:
    """Parse a date string of the API into a naive UTC datetime, or raise DateFormatError."""
    if len(value) < 7:
        raise DateFormatError()
    match = _DATE_RE.match(value)
    if match is None:
        raise DateFormatError(value)
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0").ljust(6, "0")[:6])
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro
        )
    except ValueError:
        raise DateFormatError(value) from None
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        moment -= sign * offset
    return moment


def format_api_date(moment: datetime) -> str:
    """``2026-06-01T00:00:00.0000000Z`` (7 fraction digits, UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def stored_date(value: str) -> str:
    """Parse an API date string and return its stored (and returned) form."""
    return format_api_date(parse_api_date(value))


def now_stored() -> str:
    return format_api_date(datetime.now(UTC))
