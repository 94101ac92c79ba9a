"""Filtering, sorting and paging of lists, as the server's SQL does them.

* ``filterValue`` is put into ``LIKE`` patterns unescaped: ``_`` matches any one character and ``%`` any run.
* The default orders are not unique (contacts by creation date, items by title): MySQL returns ties in no
  fixed order, so each page here orders its ties its own way (by a hash of the record ID and the page's
  start), and pages fetched with a non-unique order can repeat or skip records, as on the real server.
* ``sortOrder=descending`` is compared case-sensitively (``Descending`` sorts ascending).
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from importer.sandbox.values import BadArgument

MAX_COUNT = 1000
T = TypeVar("T")
Row = dict[str, Any]


def _like(word: str) -> re.Pattern[str]:
    """A word of ``filterValue`` as the start of a word: its ``_`` and ``%`` act as SQL wildcards."""
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in word.lower()]
    return re.compile(r"(?:^|\s)" + "".join(parts), re.DOTALL)


def matches_words(value: str, texts: Iterable[str | None]) -> bool:
    """Every word of ``value`` starts a word (after a space) of one of ``texts``, ignoring case."""
    haystacks = [text.lower() for text in texts if text]
    return all(any(_like(word).search(hay) for hay in haystacks) for word in value.lower().split())


@dataclass(frozen=True)
class Page:
    start: int
    count: int

    def take(self, items: list[T]) -> list[T]:
        return items[self.start : self.start + self.count]


def page_of(params: Mapping[str, str]) -> Page:
    """``count`` (default and maximum 1000) and ``startIndex`` (default 0) from the query string."""
    try:
        count = int(params.get("count", MAX_COUNT))
        start = int(params.get("startIndex", params.get("startindex", 0)))
    except ValueError:
        raise BadArgument() from None
    return Page(start=max(start, 0), count=min(max(count, 0), MAX_COUNT))


def descending(params: Mapping[str, str]) -> bool:
    """``sortOrder=descending``, exactly so (the server compares the value case-sensitively)."""
    lowered = {key.lower(): value for key, value in params.items()}
    return lowered.get("sortorder") == "descending"


def sort_by(params: Mapping[str, str]) -> str | None:
    lowered = {key.lower(): value for key, value in params.items()}
    value = lowered.get("sortby")
    return value.lower() if value else None


def sorted_page_order(
    rows: list[Row], key: Callable[[Row], Any], *, unique: bool, reverse: bool, start: int
) -> list[Row]:
    """``rows`` sorted by ``key``; when ``key`` is not unique, ties come in an order of this page's own."""

    def tie(row: Row) -> int:
        return 0 if unique else zlib.crc32(f"{row['id']}:{start}".encode())

    return sorted(rows, key=lambda row: (key(row), tie(row)), reverse=reverse)
