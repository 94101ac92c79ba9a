"""Filtering and paging of lists, as the server's SQL does them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from importer.sandbox.values import BadArgument

MAX_COUNT = 1000
T = TypeVar("T")


def matches_words(value: str, texts: Iterable[str | None]) -> bool:
    """Every word of ``value`` starts a word (after a space) of one of ``texts``, ignoring case."""
    haystacks = [f" {text.lower()}" for text in texts if text]
    return all(any(f" {word}" in hay for hay in haystacks) for word in value.lower().split())


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
