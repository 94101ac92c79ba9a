"""The row schema checked once per distinct value (validate.failed_row_checks) fails exactly the rows
that checking every row fails, whatever the values and however they repeat."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from pandera.errors import SchemaErrors

from importer.columns import BY_NAME, Kind
from importer.models import Coded, objects
from importer.validate import failed_row_checks
from schemas.rows import CHECKED_COLUMNS, ROW_CHECKS

NUMBERS = ["0", "1", "-1", "7.7", "0.001", "12.345", "100", "100.01", "99999999.99", "100000000"]
IDS = [1, 5, 0, -3, 2**31, 2**31 - 1]
DATES = [pd.Timestamp("2026-06-01"), pd.Timestamp("1999-12-31")]
TEXT: dict[str, list[Any]] = {
    "currency": ["EUR", "USD", "XXX", "eur"],
    "language": ["en-US", "de-DE", "xx-XX"],
    "template_type": ["0", "1", "2"],
    "status": ["Draft", "Paid", "Billed"],  # normalised before the check: Billed passes as Sent
}


def samples(column: str) -> list[Any]:
    kind = BY_NAME[column].kind
    if kind is Kind.NUMBER:
        return NUMBERS
    if kind is Kind.INTEGER:
        return IDS
    if kind is Kind.DATE:
        return DATES
    return TEXT.get(column, ["A", "b", "INV-1"])


@st.composite
def filled_columns(draw: st.DrawFn) -> dict[str, Coded]:
    rows = draw(st.integers(min_value=1, max_value=12))
    columns = {}
    for column in CHECKED_COLUMNS:
        distinct = draw(st.lists(st.sampled_from(samples(column)), unique=True, max_size=4))
        codes = draw(st.lists(st.integers(-1, len(distinct) - 1), min_size=rows, max_size=rows))
        columns[column] = Coded(np.array(codes, dtype=np.int64), objects([*distinct, None]))
    return columns


def every_row(filled: dict[str, Coded]) -> pd.DataFrame:
    """The frame of every row, typed as the schema takes it (numbers and IDs float, dates datetime64)."""
    frame: dict[str, Any] = {}
    for column, coded in filled.items():
        kind = BY_NAME[column].kind
        if kind in (Kind.NUMBER, Kind.INTEGER):
            frame[column] = (
                pd.to_numeric(pd.Series(coded.values, dtype=object)).astype(float).to_numpy()[coded.codes]
            )
        elif kind is Kind.DATE:
            frame[column] = pd.DatetimeIndex(coded.values).to_numpy()[coded.codes]
        else:
            frame[column] = coded.values[coded.codes]
    return pd.DataFrame(frame)


def row_by_row(filled: dict[str, Coded]) -> set[tuple[str, str, int]]:
    try:
        ROW_CHECKS.validate(every_row(filled), lazy=True)
    except SchemaErrors as failure:
        cases = failure.failure_cases
        cases = cases[cases["index"].notna()]
        return set(zip(cases["column"], cases["check"], cases["index"].astype(int), strict=True))
    return set()


def by_value(filled: dict[str, Coded]) -> set[tuple[str, str, int]]:
    return {
        (column, check, int(position))
        for (column, check), failing in failed_row_checks(filled).items()
        for position in np.flatnonzero(failing)
    }


@settings(max_examples=100, deadline=None)
@given(filled_columns())
def test_checking_distinct_values_fails_the_same_rows_as_checking_every_row(filled: dict[str, Coded]) -> None:
    assert by_value(filled) == row_by_row(filled)


def test_a_blank_required_cell_fails_once_per_row_and_an_unused_value_fails_no_row() -> None:
    passing = {column: samples(column)[1] for column in CHECKED_COLUMNS}  # "1", 5, a date, "USD", ...
    filled = {
        column: Coded(np.zeros(3, dtype=np.int64), objects([value, None]))
        for column, value in passing.items()
    }
    filled["currency"] = Coded(np.array([-1, 0, -1]), objects(["EUR", "XXX", None]))
    failed = failed_row_checks(filled)
    assert failed.keys() == {("currency", "not_nullable")}
    assert failed["currency", "not_nullable"].tolist() == [True, False, True]
