"""Parsing numbers, dates, IDs and text, column by column (through check_rows, the public stage)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.columns import CANONICAL
from importer.errors import FormatUndecidedError
from importer.models import CellError, FormatOptions, MappedTable, RawTable
from importer.parse import decide_day_first, decide_decimal_mark
from importer.validate import check_rows

PARSE_CODES = ("number", "date")


def col(*values: object) -> pd.Series:
    return pd.Series(list(values), dtype=object)


def parsed_column(
    column: str,
    values: tuple[object, ...],
    fmt: FormatOptions = FormatOptions(),  # noqa: B008
) -> tuple[pd.Series, list[CellError]]:
    """One column's cells (rows 2, 3, ...) through check_rows: the typed value of each row, and the
    errors of reading them (codes ``number`` and ``date``; other checks are not this file's subject)."""
    numbers = list(range(2, 2 + len(values)))
    frame = pd.DataFrame({c: list(values) if c == column else [None] * len(values) for c in CANONICAL})
    frame = frame.astype(object)
    frame["row"] = numbers
    raw = RawTable(frame=frame, row_numbers=numbers, source=Path("in.csv"))
    rows = check_rows(MappedTable(raw=raw, frame=frame, headers={column: column}), fmt)
    typed = rows.columns[column]
    errors = [e for e in rows.errors if e.column == column and e.code in PARSE_CODES]
    return pd.Series(typed.values[typed.codes].tolist(), dtype=object), errors


def numbers(*values: object, column: str = "price", decimal: str | None = None):
    return parsed_column(column, values, FormatOptions(decimal=decimal))


def dates(*values: object, date_format: str | None = None):
    return parsed_column("issue_date", values, FormatOptions(date=date_format))


# ------------------------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("values", "mark"),
    [
        (["1234.5", "7"], "."),
        (["1,234.50"], "."),
        (["1.234,50"], ","),
        (["1 234,50"], ","),
        (["1,5"], ","),
        (["1.250", "1,5"], ","),
        (["1,234", "0.5"], "."),
        (["1.234.567"], ","),
        (["1,234,567"], "."),
        (["0,125"], ","),
        (["12", "100"], "."),
    ],
)
def test_decimal_mark_decided_from_the_column(values: list[str], mark: str) -> None:
    assert decide_decimal_mark(col(*values), "price") == mark


@pytest.mark.parametrize("values", [["1.250"], ["1,234", "7"], ["1.5", "1,5"]])
def test_undecidable_decimal_mark_names_the_column_and_the_setting(values: list[str]) -> None:
    with pytest.raises(FormatUndecidedError) as caught:
        decide_decimal_mark(col(*values), "quantity")
    text = str(caught.value)
    assert "quantity" in text and 'decimal = "."' in text and "[format]" in text and "\n" not in text


def test_european_numbers() -> None:
    parsed, errors = numbers("1.234,50", "1 234,50", "1,5", "1.250", "-3", "1\u00a0000,00", "2\u202f000,5")
    assert errors == []
    assert parsed.tolist() == [
        Decimal("1234.50"),
        Decimal("1234.50"),
        Decimal("1.5"),
        Decimal("1250"),
        Decimal("-3"),
        Decimal("1000.00"),
        Decimal("2000.5"),
    ]


def test_english_numbers_and_blanks() -> None:
    parsed, errors = numbers("1,234.50", "1234.5", None, "", "+7")
    assert errors == []
    assert parsed.tolist() == [Decimal("1234.50"), Decimal("1234.5"), None, None, Decimal("7")]


def test_given_decimal_mark_skips_detection() -> None:
    parsed, errors = numbers("1.250", decimal=",")
    assert errors == [] and parsed.tolist() == [Decimal("1250")]
    parsed, _ = numbers("1.250", decimal=".")
    assert parsed.tolist() == [Decimal("1.250")]


def test_workbook_numbers_keep_their_written_value() -> None:
    parsed, errors = numbers(7.7, 0.1 + 0.2, 1001.0, 12, 1e-05)
    assert errors == []
    assert parsed.tolist() == [
        Decimal("7.7"),
        Decimal("0.30000000000000004"),
        Decimal("1001.0"),
        Decimal("12"),
        Decimal("0.00001"),
    ]


def test_discount_may_end_in_percent() -> None:
    parsed, errors = numbers("25%", "12,5 %", column="discount")
    assert errors == [] and parsed.tolist() == [Decimal("25"), Decimal("12.5")]


def test_unreadable_numbers_are_cell_errors_with_row_and_example() -> None:
    parsed, errors = numbers("7.70", "abc", "1,2,3", True, "12%", dt.date(2026, 1, 1))
    assert parsed.tolist()[0] == Decimal("7.70")
    assert parsed.tolist()[1:] == [None] * 5
    assert sorted((e.row, e.column, e.value, e.code) for e in errors) == [
        (3, "price", "abc", "number"),
        (4, "price", "1,2,3", "number"),
        (5, "price", "True", "number"),
        (6, "price", "12%", "number"),
        (7, "price", "2026-01-01", "number"),
    ]
    assert all("1234.50" in e.message for e in errors)


def test_a_value_against_the_columns_decimal_mark_is_an_error() -> None:
    parsed, errors = numbers("1,5", "2,5", "1,234,567")
    assert parsed.tolist() == [Decimal("1.5"), Decimal("2.5"), None]
    assert [(e.row, e.value) for e in errors] == [(4, "1,234,567")]


def format_number(value: Decimal, style: str) -> str:
    sign = "-" if value < 0 else ""
    whole, _, cents = f"{abs(value):.2f}".partition(".")
    groups = f"{int(whole):,}"
    if style == "plain":
        return f"{sign}{whole}.{cents}"
    if style == "english":
        return f"{sign}{groups}.{cents}"
    if style == "german":
        return f"{sign}{groups.replace(',', '.')},{cents}"
    nbsp = "\u00a0"
    return f"{sign}{groups.replace(',', nbsp)},{cents}"


@settings(max_examples=200, deadline=None)
@given(
    value=st.decimals(
        min_value=Decimal("-99999999.99"),
        max_value=Decimal("99999999.99"),
        places=2,
        allow_nan=False,
        allow_infinity=False,
    ),
    style=st.sampled_from(["plain", "english", "german", "spaced"]),
)
def test_every_number_style_parses_back(value: Decimal, style: str) -> None:
    text = format_number(value, style)
    mark = "." if style in ("plain", "english") else ","
    parsed, errors = numbers(text, decimal=mark)
    assert errors == [] and parsed.iloc[0] == value
    # with detection: a value with 2 decimals always decides its column
    detected, errors = numbers(text)
    assert errors == [] and detected.iloc[0] == value


# ------------------------------------------------------------------------------------------- integers


def test_integer_ids() -> None:
    parsed, errors = parsed_column("deal_id", ("12", 13.0, 7, None, "1.5", "x"))
    assert parsed.tolist() == [12, 13, 7, None, None, None]
    assert all(isinstance(v, int) for v in parsed.tolist()[:3])
    assert [(e.row, e.value, e.code) for e in sorted(errors, key=lambda e: e.row or 0)] == [
        (6, "1.5", "number"),
        (7, "x", "number"),
    ]
    assert all("whole number" in e.message for e in errors)


# ------------------------------------------------------------------------------------------- text


def test_text_from_workbook_cells() -> None:
    cells = ("INV-1", 1001.0, "00731", 7.5, dt.datetime(2026, 6, 1), dt.date(2026, 6, 2), None, 5)
    parsed, _ = parsed_column("purchase_order_number", cells)
    assert parsed.tolist() == ["INV-1", "1001", "00731", "7.5", "2026-06-01", "2026-06-02", None, "5"]


# ------------------------------------------------------------------------------------------- dates


def test_dates_in_every_form() -> None:
    parsed, errors = dates(
        "2026-06-01",
        "2026-06-02 00:00:00",
        "03.06.2026",
        "13/06/2026",
        "04/06/2026",
        dt.datetime(2026, 6, 5),
        dt.date(2026, 6, 6),
        pd.Timestamp("2026-06-07"),
        None,
    )
    assert errors == []
    assert parsed.tolist() == [dt.date(2026, 6, d) for d in (1, 2, 3, 13, 4, 5, 6, 7)] + [None]


def test_month_first_column() -> None:
    parsed, errors = dates("06/13/2026", "06/04/2026")
    assert errors == [] and parsed.tolist() == [dt.date(2026, 6, 13), dt.date(2026, 6, 4)]
    assert decide_day_first(col("06/13/2026", "06/04/2026"), "issue_date") is False
    assert decide_day_first(col("13/06/2026", "06/04/2026"), "issue_date") is True


def test_undecidable_date_order_names_the_setting() -> None:
    with pytest.raises(FormatUndecidedError) as caught:
        dates("04/06/2026", "2026-06-01")
    text = str(caught.value)
    assert "issue_date" in text and '"%d/%m/%Y"' in text and '"%m/%d/%Y"' in text and "[format]" in text


def test_same_day_and_month_is_not_ambiguous() -> None:
    parsed, errors = dates("05/05/2026")
    assert errors == [] and parsed.tolist() == [dt.date(2026, 5, 5)]


def test_day_first_and_month_first_in_one_column_flags_the_minority() -> None:
    parsed, errors = dates("13/06/2026", "14/06/2026", "06/15/2026")
    assert parsed.tolist()[:2] == [dt.date(2026, 6, 13), dt.date(2026, 6, 14)]
    assert parsed.tolist()[2] is None
    assert [(e.row, e.value, e.code) for e in errors] == [(4, "06/15/2026", "date")]


def test_unreadable_dates_are_cell_errors() -> None:
    parsed, errors = dates("2026-02-30", "tomorrow", "1.6.26", 45000.0)
    assert parsed.tolist() == [None] * 4
    assert sorted((e.row, e.value, e.code) for e in errors) == [
        (2, "2026-02-30", "date"),
        (3, "tomorrow", "date"),
        (4, "1.6.26", "date"),
        (5, "45000", "date"),
    ]
    assert all("2026-06-30" in e.message for e in errors)


def test_given_date_format() -> None:
    parsed, errors = dates("04/06/2026", "2026-06-01", date_format="%m/%d/%Y")
    assert errors == [] and parsed.tolist() == [dt.date(2026, 4, 6), dt.date(2026, 6, 1)]


@settings(max_examples=150, deadline=None)
@given(
    day=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31)),
    style=st.sampled_from(["iso", "dotted", "day_first", "month_first"]),
)
def test_every_date_style_parses_back(day: dt.date, style: str) -> None:
    formats = {"iso": "%Y-%m-%d", "dotted": "%d.%m.%Y", "day_first": "%d/%m/%Y", "month_first": "%m/%d/%Y"}
    text = day.strftime(formats[style])
    # a second value that decides the column's order, as a real column would have
    decider = {"day_first": "31/12/2026", "month_first": "12/31/2026"}.get(style, "2026-12-31")
    parsed, errors = dates(text, decider)
    assert errors == [] and parsed.iloc[0] == day
