"""Step 3 of the pipeline: turn the cells of a mapped table into numbers, dates, IDs and text.

Every function works on a whole column at once (pandas string methods and regular expressions), so a
file of 200,000 rows parses in well under a second. A cell that cannot be read becomes None plus a
:class:`CellError`; a column whose format cannot be decided raises :class:`FormatUndecidedError`.

Numbers are carried internally as *canonical text* (``-1234.50``: optional minus, digits, optional
``.`` and decimals), which converts exactly to ``Decimal`` and quickly to ``float`` for range checks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from importer.columns import Kind
from importer.errors import FormatUndecidedError
from importer.models import CellError, Coded, FormatOptions

# Grouping characters removed from text numbers: spaces of every width and apostrophes (1'234.50).
_GROUPING_SPACES = r"[\s\u00a0\u2007\u2009\u202f'’]"
_MINUS_SIGNS = r"[−–]"  # the typographic minus and the en dash, read as a minus

NUMBER_EXAMPLE = "1234.50"
DATE_EXAMPLE = "2026-06-30"
INTEGER_EXAMPLE = "12"

_ISO_DATE = r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})"
_TIME_PART = r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
_DOTTED_DATE = r"(?P<a>\d{1,2})\.(?P<b>\d{1,2})\.(?P<y>\d{4})"
_SLASHED_DATE = r"(?P<a>\d{1,2})[/-](?P<b>\d{1,2})[/-](?P<y>\d{4})"


# --------------------------------------------------------------------------------------------- helpers


def _all_text(values: pd.Series) -> bool:
    """True when every non-blank value is a str (the CSV case): the fast path needs no type tests."""
    return pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty")


def _items(series: pd.Series) -> list[tuple[Any, Any]]:
    """(index, value) pairs, for the few cells that need one-by-one handling (errors, workbook values)."""
    return list(zip(series.index.tolist(), series.tolist(), strict=True))


def _nones(index: pd.Index) -> pd.Series:
    return pd.Series([None] * len(index), index=index, dtype=object)


def _blank(values: pd.Series) -> pd.Series:
    """Blank cells: None, NaN and text that is empty or only spaces."""
    if _all_text(values):  # no conversion to the string dtype and back
        cells = values.tolist()
        try:
            lengths = np.fromiter(map(len, map(str.strip, cells)), dtype=np.int64, count=len(cells))
        except TypeError:  # a missing value among the text
            flags = [not isinstance(value, str) or not value.strip() for value in cells]
            return pd.Series(flags, index=values.index, dtype=bool)
        return pd.Series(lengths == 0, index=values.index, dtype=bool)
    blank = values.isna()
    text = values.map(lambda v: isinstance(v, str))
    if text.any():
        blank = blank | (text & values.where(text, "x").astype(str).str.strip().eq(""))
    return blank


def shown(value: Any) -> str | None:
    """A cell value as the user wrote it, for messages and the CellError ``value``."""
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _float_text(value: float) -> str:
    """A workbook float as the user sees it: 7.7 -> '7.7', 1001.0 -> '1001', never binary artefacts."""
    if value.is_integer() and abs(value) < 1e16:
        return str(int(value))
    text = format(Decimal(repr(value)), "f")
    return text


UniqueParser = Callable[[pd.Series, pd.Series], tuple[pd.Series, list[CellError]]]


def parse_distinct(
    values: pd.Series, rows: pd.Series, parse: UniqueParser, coded: Coded | None = None
) -> tuple[np.ndarray, pd.Series, list[CellError]]:
    """Run a column parser once per distinct value: the code of each row (-1 for a blank cell) into the
    parsed distinct values, those values, and the errors, one per row holding a value that failed.

    ``parse(uniques, ids)`` gets the distinct non-null values (index and ``ids`` 0..k-1) and reports its
    errors with ``row`` = the distinct value's id. ``coded``: ``values`` already coded (by the loader),
    so not hashed again."""
    if coded is None:
        codes, uniques = pd.factorize(values.to_numpy(dtype=object), use_na_sentinel=True)
        distinct = pd.Series(np.asarray(uniques, dtype=object), dtype=object)
    else:
        codes = coded.codes
        distinct = pd.Series(coded.values[:-1], dtype=object)
    parsed, unique_errors = parse(distinct, pd.Series(range(len(distinct)), dtype=int))
    if not unique_errors:
        return codes, parsed, []
    order = np.argsort(codes, kind="stable")
    starts = np.searchsorted(codes[order], np.arange(len(distinct) + 1))
    ordered_rows = rows.to_numpy()[order]
    errors = []
    for error in unique_errors:
        unique_id = int(error.row or 0)
        for row in ordered_rows[starts[unique_id] : starts[unique_id + 1]].tolist():
            errors.append(replace(error, row=int(row)))
    return codes, parsed, errors


def unique_parser(
    kind: Kind, column: str, fmt: FormatOptions, *, percent: bool = False, money: bool = False
) -> UniqueParser:
    """The parser of one column's distinct values, for :func:`parse_distinct`: number columns give
    canonical text, date columns datetime64, ID columns int, text columns str (None where unreadable).
    ``money``: an amount that may carry a currency sign or code ($19.99, 1.234,50 €, EUR 100.00)."""
    if kind is Kind.NUMBER:
        return lambda cells, ids: _number_cells(cells, column, ids, fmt.decimal, percent, money)
    if kind is Kind.DATE:
        return lambda cells, ids: _date_cells(cells, column, ids, fmt.date, fmt.day_first)
    if kind is Kind.INTEGER:
        return lambda cells, ids: _integer_cells(cells, column, ids)
    return lambda cells, _: (_text_cells_of(cells), [])


def _error(code: str, message: str, row: Any, column: str, value: Any) -> CellError:
    return CellError(message=message, row=int(row), column=column, value=shown(value), code=code)


# --------------------------------------------------------------------------------------------- text


def _text_cells_of(values: pd.Series) -> pd.Series:
    blank = _blank(values)
    if _all_text(values):
        return values.astype(object).where(~blank, None)
    out = values.map(lambda v: v if isinstance(v, str) else shown(v)).astype(object)
    return out.where(~blank, None)


# --------------------------------------------------------------------------------------------- numbers


def _clean_number_text(text: pd.Series, percent: bool) -> pd.Series:
    """Remove grouping spaces and apostrophes, unify minus signs, drop a trailing % where allowed."""
    cleaned = text.str.replace(_GROUPING_SPACES, "", regex=True).str.replace(_MINUS_SIGNS, "-", regex=True)
    if percent:
        cleaned = cleaned.str.removesuffix("%")
    return cleaned


def _decimal_votes(cleaned: pd.Series) -> tuple[int, int, int]:
    """(votes for '.', votes for ',', ambiguous values) among cleaned text numbers."""
    has_dot = cleaned.str.contains(".", regex=False)
    has_comma = cleaned.str.contains(",", regex=False)
    both = has_dot & has_comma
    dot_last = cleaned.str.rfind(".") > cleaned.str.rfind(",")
    # one mark, then exactly three digits, after a 1-3 digit integer part not starting with 0: 1,234 / 1.250
    ambiguous_dot = ~has_comma & cleaned.str.fullmatch(r"[+-]?[1-9]\d{0,2}\.\d{3}", na=False)
    ambiguous_comma = ~has_dot & cleaned.str.fullmatch(r"[+-]?[1-9]\d{0,2},\d{3}", na=False)
    only_dot = has_dot & ~has_comma & ~ambiguous_dot
    only_comma = has_comma & ~has_dot & ~ambiguous_comma
    dots, commas = cleaned.str.count(r"\."), cleaned.str.count(",")
    # several equal marks are grouping (1.234.567 -> comma decimal); one is the decimal mark (1,5 -> comma)
    votes_dot = (both & dot_last) | (only_dot & dots.eq(1)) | (only_comma & commas.gt(1))
    votes_comma = (both & ~dot_last) | (only_comma & commas.eq(1)) | (only_dot & dots.gt(1))
    ambiguous = ambiguous_dot | ambiguous_comma
    return int(votes_dot.sum()), int(votes_comma.sum()), int(ambiguous.sum())


def _undecided_decimal(column: str, why: str) -> FormatUndecidedError:
    return FormatUndecidedError(
        f"Column {column}: cannot tell whether '.' or ',' is the decimal mark ({why}); "
        f'pass --decimal . or --decimal , (or set decimal = "." or decimal = "," under [format] in a '
        "--mapping file)"
    )


def _text_cells(values: pd.Series) -> pd.Series:
    """The non-blank str cells of a column."""
    text = values.dropna() if _all_text(values) else values[values.map(lambda v: isinstance(v, str))]
    return text.astype(str).str.strip().loc[lambda s: s.ne("")]


def decide_decimal_mark(values: pd.Series, column: str) -> str:
    """The decimal mark of a column, ``"."`` or ``","``, decided from all its text values.

    A value with both marks decides by the last one; a single mark not followed by exactly three
    digits decides (``1,5``); repeated marks are grouping (``1.234.567``). ``1,234`` and ``1.250``
    alone decide nothing. A column with no deciding value but an ambiguous one, or as many values for
    each mark, raises :class:`FormatUndecidedError`. A column without ambiguity defaults to ``"."``.
    """
    plain_dot, plain_ambiguous, others = _plain_votes(_text_cells(values).tolist())
    cleaned = _clean_number_text(pd.Series(others, dtype=object), percent=True)
    dot, comma, ambiguous = _decimal_votes(cleaned) if others else (0, 0, 0)
    dot, ambiguous = dot + plain_dot, ambiguous + plain_ambiguous
    if dot > comma:
        return "."
    if comma > dot:
        return ","
    if dot:
        raise _undecided_decimal(column, f"{dot} values use '.' and {comma} use ','")
    if ambiguous:
        shaped = _text_cells(values).str.replace(_GROUPING_SPACES, "", regex=True)
        example = shaped[shaped.str.fullmatch(r"[+-]?[1-9]\d{0,2}[.,]\d{3}%?", na=False)].iloc[0]
        raise _undecided_decimal(column, f"a value such as {example} could be read either way")
    return "."


def _number_pattern(decimal: str) -> str:
    group = "," if decimal == "." else r"\."
    mark = re_escape(decimal)
    return rf"[+-]?(?:\d{{1,3}}(?:{group}\d{{3}})+|\d+)?(?:{mark}\d+)?"


def re_escape(char: str) -> str:
    return "\\." if char == "." else char


# Currency signs and the currencies each may stand for (a $ is any dollar's).
CURRENCY_SIGNS: dict[str, frozenset[str]] = {
    "US$": frozenset({"USD"}),
    "R$": frozenset({"BRL"}),
    "$": frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN", "ARS", "CLP", "COP", "TWD"}),
    "€": frozenset({"EUR"}),
    "£": frozenset({"GBP"}),
    "¥": frozenset({"JPY", "CNY"}),
    "₽": frozenset({"RUB"}),
    "₹": frozenset({"INR"}),
    "₴": frozenset({"UAH"}),
    "₺": frozenset({"TRY"}),
    "₩": frozenset({"KRW"}),
    "zł": frozenset({"PLN"}),
    "Kč": frozenset({"CZK"}),
}
_SIGNS = "|".join(re.escape(sign) for sign in CURRENCY_SIGNS)  # US$ and R$ before $
_MONEY_MARK = rf"(?:{_SIGNS}|[A-Z]{{3}})"
_MONEY = re.compile(
    rf"^(?:(?P<before>{_MONEY_MARK})\s*)?(?P<number>.*?)(?:\s*(?P<after>{_MONEY_MARK}))?$", re.DOTALL
)
_ACCOUNTING = re.compile(r"^\((?P<inner>[^()]*)\)$")
_MONEY_HINT = re.compile(r"[^\d\s.,'’+\-−–%]")  # a character no plain number has


def currency_mark(value: Any) -> str | None:
    """The currency sign or ISO code an amount cell is written with (``$`` of ``$19.99``, ``EUR`` of
    ``EUR 100.00``, ``€`` of ``(€ 100,00)``), or None."""
    if not isinstance(value, str) or not _MONEY_HINT.search(value):
        return None
    text = value.strip().lstrip("-−–").strip()
    accounting = _ACCOUNTING.match(text)
    found = _MONEY.match(accounting.group("inner").strip() if accounting else text)
    if found is None:
        return None
    mark = found.group("before") or found.group("after")
    if mark is None and found.group("number").startswith("("):  # $(100.00)
        return None
    return mark


def _unwrapped(value: str, money: bool) -> str:
    """An amount as finance writes it, as a plain number text: accounting parentheses as a minus
    (``(100.00)`` -> ``-100.00``) and, for ``money``, without a currency sign or code."""
    text = value.strip()
    negative = text[:1] in ("-", "−", "–") and not text[1:2].isdigit()  # -$5, -€ 5 (not -5)
    if negative:
        text = text[1:].strip()
    for _ in range(2):  # (€ 100,00) and € (100,00)
        accounting = _ACCOUNTING.match(text)
        if accounting is not None:
            negative, text = True, accounting.group("inner").strip()
        if money:
            found = _MONEY.match(text)
            if found is not None and (found.group("before") or found.group("after")):
                text = found.group("number").strip()
    return f"-{text}" if negative and not text.startswith(("-", "+")) else text


def _number_cells(
    values: pd.Series,
    column: str,
    rows: pd.Series,
    decimal: str | None,
    percent: bool = False,
    money: bool = False,
) -> tuple[pd.Series, list[CellError]]:
    blank = _blank(values)
    out = _nones(values.index)
    errors: list[CellError] = []
    if _all_text(values):
        text_mask = ~blank
    else:
        text_mask = ~blank & values.map(lambda v: isinstance(v, str))
        native = values[~blank & ~text_mask]
        converted_at: list[Any] = []
        converted_values: list[str] = []
        for index, value in _items(native):
            converted = _native_number(value)
            if converted is None:
                errors.append(_number_error(column, rows.loc[index], value))
            else:
                converted_at.append(index)
                converted_values.append(converted)
        if converted_at:
            out.loc[converted_at] = converted_values
    if text_mask.any():
        mark = decimal or decide_decimal_mark(values[text_mask], column)
        text = values[text_mask].astype(str).str.strip()
        plain = _plain_canonical(text, mark)
        out[plain.index] = plain
        text = text[plain.isna()]
        unwrapped = text.map(lambda value: _unwrapped(value, money)) if len(text) else text
        cleaned = _clean_number_text(unwrapped, percent=percent)
        good = cleaned.str.fullmatch(_number_pattern(mark), na=False) & cleaned.str.contains(r"\d", na=False)
        group = "," if mark == "." else "."
        canonical = cleaned[good].str.replace(group, "", regex=False).str.replace(mark, ".", regex=False)
        canonical = canonical.str.removeprefix("+")
        out[canonical.index] = canonical
        for index, value in _items(text[~good]):
            errors.append(_number_error(column, rows.loc[index], value))
    return out, errors


_PLAIN = re.compile(r"([+-]?)(\d+)(?:\.(\d+))?")
_SHORT_INTEGER = re.compile(r"[1-9]\d{0,2}")


def _plain_canonical(text: pd.Series, mark: str) -> pd.Series:
    """The fast path: plain numbers (``-1234.5``, ``12``) are canonical as they are (None where not plain)."""
    canonical: list[str | None] = []
    for value in text.tolist():
        match = _PLAIN.fullmatch(value)
        if match is None or (mark == "," and match.group(3) is not None):
            canonical.append(None)
        else:
            canonical.append(value[1:] if match.group(1) == "+" else value)
    return pd.Series(canonical, index=text.index, dtype=object)


def _plain_votes(text: list[str]) -> tuple[int, int, list[str]]:
    """(votes for '.', ambiguous values, values that are not plain) among stripped text numbers."""
    dot = ambiguous = 0
    others = []
    for value in text:
        match = _PLAIN.fullmatch(value)
        if match is None:
            others.append(value)
        elif match.group(3) is not None:
            if len(match.group(3)) == 3 and _SHORT_INTEGER.fullmatch(match.group(2)):
                ambiguous += 1
            else:
                dot += 1
    return dot, ambiguous, others


def _native_number(value: Any) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if not np.isfinite(value):
            return None
        return format(Decimal(repr(float(value))), "f")
    if isinstance(value, Decimal) and value.is_finite():
        return format(value, "f")
    return None


def _number_error(column: str, row: Any, value: Any) -> CellError:
    return _error(
        "number", f"This is not a number: write it like {NUMBER_EXAMPLE} or 1.234,50.", row, column, value
    )


def _integer_cells(values: pd.Series, column: str, rows: pd.Series) -> tuple[pd.Series, list[CellError]]:
    """A CRM ID column: whole numbers (``12``, a workbook 12.0) as int; None for blank or unreadable."""
    canonical, errors = _number_cells(values, column, rows, ".")
    return _whole_numbers(canonical, errors, values, column, rows)


def _whole_numbers(
    canonical: pd.Series, errors: list[CellError], values: pd.Series, column: str, rows: pd.Series
) -> tuple[pd.Series, list[CellError]]:
    """Canonical number texts to ints; anything not whole is an error saying a CRM ID is expected."""
    message = f"This must be a whole number (a CRM ID), e.g. {INTEGER_EXAMPLE}."
    errors = [CellError(message, e.row, e.column, e.value, e.code) for e in errors]
    whole = canonical.str.fullmatch(r"-?\d+(?:\.0*)?", na=False)
    for index in canonical[canonical.notna() & ~whole].index.tolist():
        errors.append(_error("number", message, rows.loc[index], column, values.loc[index]))
    out = _nones(values.index)
    digits = canonical[whole].str.replace(r"\.0*$", "", regex=True)
    out[digits.index] = [int(d) for d in digits]
    return out, errors


# --------------------------------------------------------------------------------------------- dates


def _slashed_parts(text: pd.Series) -> pd.DataFrame:
    return text.str.extract(rf"^{_SLASHED_DATE}{_TIME_PART}$").astype(float)


def _undecided_date(column: str, why: str) -> FormatUndecidedError:
    return FormatUndecidedError(
        f"Column {column}: cannot tell whether dates are day/month/year or month/day/year ({why}); "
        f'pass --day-first or --month-first (or set date = "%d/%m/%Y" or date = "%m/%d/%Y" under [format] '
        "in a --mapping file)"
    )


def decide_day_first(values: pd.Series, column: str) -> bool:
    """Whether the ``dd/mm/yyyy``-shaped text dates of a column are day first.

    A value whose first part is over 12 votes day-first, one whose second part is over 12 month-first;
    the majority wins (the cells of the other kind are reported as errors by the date parser). A column
    with slashed dates that decide nothing, or as many votes each way, raises
    :class:`FormatUndecidedError`. Without slashed dates (ISO, dotted, real dates) it returns True.
    """
    parts = _slashed_parts(_text_cells(values)).dropna()
    if parts.empty:
        return True
    day_first = int((parts["a"] > 12).sum())
    month_first = int((parts["b"] > 12).sum())
    if day_first != month_first:
        return day_first > month_first
    if day_first:
        raise _undecided_date(column, f"{day_first} values are day first and {month_first} month first")
    ambiguous = parts[parts["a"] != parts["b"]]
    if ambiguous.empty:
        return True  # 05/05/2026 reads the same both ways
    example = _text_cells(values).loc[ambiguous.index[0]]
    raise _undecided_date(column, f"{example} could be either")


def _dates_from_parts(year: pd.Series, month: pd.Series, day: pd.Series) -> pd.Series:
    frame = pd.DataFrame({"year": year, "month": month, "day": day})
    return pd.to_datetime(frame, errors="coerce")


def _date_cells(
    values: pd.Series, column: str, rows: pd.Series, date_format: str | None, day_first: bool | None = None
) -> tuple[pd.Series, list[CellError]]:
    blank = _blank(values)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    errors: list[CellError] = []
    if _all_text(values):
        text_mask = ~blank
    else:
        text_mask = ~blank & values.map(lambda v: isinstance(v, str))
        for index, value in _items(values[~blank & ~text_mask]):
            if isinstance(value, dt.date):  # datetime and pd.Timestamp included
                out.loc[index] = pd.Timestamp(value).normalize()
            else:
                errors.append(_date_error(column, rows.loc[index], value))
    if not text_mask.any():
        return out, errors
    text = values[text_mask].astype(str).str.strip()
    parsed = _parse_date_text(text, column, date_format, day_first)
    out[parsed.index] = parsed
    decided = date_format is not None or day_first is not None
    conflicts = pd.Series(False, index=text.index) if decided else _order_conflicts(text, column)
    for index, value in _items(text[parsed.isna() & ~conflicts]):
        errors.append(_date_error(column, rows.loc[index], value))
    for index, value in _items(text[conflicts]):
        out.loc[index] = pd.NaT
        message = f"This column mixes day/month and month/day order: write this date as {DATE_EXAMPLE}."
        errors.append(_error("date", message, rows.loc[index], column, value))
    return out, errors


def _parse_date_text(
    text: pd.Series, column: str, date_format: str | None, day_first: bool | None = None
) -> pd.Series:
    iso = text.str.extract(rf"^{_ISO_DATE}{_TIME_PART}$").astype(float)
    result = _dates_from_parts(iso["y"], iso["m"], iso["d"])
    rest = result.isna() & iso["y"].isna()
    if date_format is not None:
        custom = pd.to_datetime(text[rest], format=date_format, errors="coerce")
        result[rest] = custom.dt.normalize()
        return result
    dotted = text[rest].str.extract(rf"^{_DOTTED_DATE}{_TIME_PART}$").astype(float)
    result[dotted.index] = _dates_from_parts(dotted["y"], dotted["b"], dotted["a"])
    slashed = _slashed_parts(text[rest]).dropna()
    if not slashed.empty:
        if day_first is None:
            day_first = decide_day_first(text[slashed.index], column)
        day, month = (slashed["a"], slashed["b"]) if day_first else (slashed["b"], slashed["a"])
        result[slashed.index] = _dates_from_parts(slashed["y"], month, day)
    return result


def _order_conflicts(text: pd.Series, column: str) -> pd.Series:
    """Slashed dates that contradict the order decided for the column (e.g. 13/01 in a month-first one)."""
    parts = _slashed_parts(text)
    has_parts = parts["a"].notna()
    if not has_parts.any():
        return pd.Series(False, index=text.index)
    day_first = decide_day_first(text[has_parts], column)
    return (parts["b"] > 12) if day_first else (parts["a"] > 12)


def _date_error(column: str, row: Any, value: Any) -> CellError:
    message = f"This is not a real date: write it like {DATE_EXAMPLE} or 30.06.2026, or use a date cell."
    return _error("date", message, row, column, value)


# --------------------------------------------------------------------------------------------- scalars


def number_scalar(text: str, column: str, decimal: str | None, *, percent: bool = False) -> str | None:
    """One number typed as text (a default of the mapping file) as canonical text, or None if unreadable."""
    values = pd.Series([text], dtype=object)
    try:
        canonical, errors = _number_cells(values, column, pd.Series([0]), decimal, percent)
    except FormatUndecidedError:
        canonical, errors = _number_cells(values, column, pd.Series([0]), ".", percent)
    return None if errors else canonical.iloc[0]


def date_scalar(text: str, column: str, date_format: str | None) -> pd.Timestamp | None:
    """One date typed as text (a default of the mapping file), or None if unreadable or ambiguous."""
    try:
        stamps, errors = _date_cells(pd.Series([text], dtype=object), column, pd.Series([0]), date_format)
    except FormatUndecidedError:
        return None
    return None if errors or pd.isna(stamps.iloc[0]) else stamps.iloc[0]


__all__ = [
    "CURRENCY_SIGNS",
    "DATE_EXAMPLE",
    "NUMBER_EXAMPLE",
    "currency_mark",
    "date_scalar",
    "decide_day_first",
    "decide_decimal_mark",
    "number_scalar",
    "parse_distinct",
    "shown",
    "unique_parser",
]
