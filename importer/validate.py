"""Steps 3-5 offline: parse the mapped table, fill continuation rows and defaults, check, group.

    MappedTable ──parse──▶ values ──fill──▶ filled ──pandera (schemas/)──▶ CellErrors
                                                 └──typed──▶ group_invoices ──▶ Validation

Internal representation while checking: text as str/None, numbers as canonical text ("1234.5", see
importer.parse), dates as datetime64, IDs as int/None. Everything is column-wise; only error cells
and the final Invoice/Line objects are handled one by one.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from pandera.errors import SchemaErrors

from importer.columns import BY_NAME, COLUMNS, INVOICE_LEVEL, Kind
from importer.crm_constants import LANGUAGE_BY_KEY, TEMPLATE_TYPES
from importer.errors import MappingFileError
from importer.group import group_coded
from importer.models import CellError, FormatOptions, MappedTable, Validation
from importer.parse import (
    Coded,
    date_scalar,
    date_timestamps,
    gc_paused,
    number_scalar,
    number_text,
    objects,
    parse_integers,
    parse_text,
    shown,
)
from schemas import invoices as invoice_schema
from schemas.rows import ROW_SCHEMA, message

BUILT_IN_DEFAULTS: dict[str, str] = {
    "exchange_rate": "1",
    "language": "en-US",
    "template_type": "0",
    "discount": "0",
}
_CONTINUED = tuple(c for c in INVOICE_LEVEL if c != "invoice_number")
_TEMPLATE_CODES: dict[str, str] = {key: str(code) for key, code in TEMPLATE_TYPES.items()}


def validate_table(table: MappedTable, fmt: FormatOptions = FormatOptions()) -> Validation:  # noqa: B008
    """Parse, check and group a mapped table, offline. Bad data becomes CellErrors, never exceptions.

    Raises FormatUndecidedError when a column's decimal mark or date order cannot be decided, and
    MappingFileError when a [defaults] value of the mapping file cannot be read.
    """
    with gc_paused():
        return _validate(table, fmt)


def _validate(table: MappedTable, fmt: FormatOptions) -> Validation:
    source = table.frame.reset_index(drop=True)
    rows = source["row"].astype(int)
    values, errors = _parse_columns(source, fmt)
    values["invoice_number"] = _continue_blank_numbers(values["invoice_number"], values[list(_CONTINUED)])
    bad_cells = {(e.row, e.column) for e in errors}
    key = values["invoice_number"]
    written = values.notna()
    first_row = key.isna() | ~key.duplicated()
    errors += _consistency_errors(values, key, rows, source)
    filled = _normalize(_apply_defaults(_fill_continuation(values, key), table.defaults, fmt))
    shown_values = _Shown(source, filled)
    report = _reported_cells(written, key, first_row)
    check_frame = _check_frame(filled)
    errors += _row_schema_errors(check_frame, rows, report, bad_cells, shown_values)
    errors += _invoice_schema_errors(check_frame[first_row & key.notna()], rows, shown_values)
    key_codes, numbers = pd.factorize(filled["invoice_number"], sort=False)
    typed = {
        column: _typed(filled[column], column) for column in filled.columns if column != "invoice_number"
    }
    invoices = group_coded(Coded(key_codes, objects([*numbers, None])), rows.to_numpy(), typed, errors)
    errors += [e for invoice in invoices for e in invoice.errors if e.code == "total_mismatch"]
    errors.sort(key=_error_order)
    return Validation(table=table, invoices=invoices, errors=errors)


_COLUMN_ORDER = {name: position for position, name in enumerate(BY_NAME)}


def _error_order(error: CellError) -> tuple[int, int]:
    """By row, then by column in the canonical order (whole-row problems first)."""
    row = error.row if error.row is not None else -1
    return row, -1 if error.column is None else _COLUMN_ORDER.get(error.column, len(_COLUMN_ORDER))


def _continue_blank_numbers(key: pd.Series, invoice_cells: pd.DataFrame) -> pd.Series:
    """A row with no invoice number and every other invoice-level cell blank continues the invoice of
    the row above it (as Odoo and ERPNext read such sheets). A row with no number but some invoice-level
    cell filled looks like a new invoice whose number was forgotten: it stays without a number (an error),
    and so do the continuation rows below it."""
    continuation = key.isna() & invoice_cells.isna().all(axis=1)
    if not continuation.any():
        return key
    breaks = key.isna() & ~continuation
    carried = key.astype(object).where(~breaks, _NO_INVOICE).ffill()
    continued = key.astype(object).where(~continuation, carried)
    return continued.where(continued.ne(_NO_INVOICE), None)


_NO_INVOICE = "\x00no invoice"


def _reported_cells(written: pd.DataFrame, key: pd.Series, first_row: pd.Series) -> pd.DataFrame:
    """Where a failed check is reported: invoice-level cells where written or on the invoice's first row
    (a value filled from an earlier row is reported there), line-level cells and the number always.
    A row without an invoice number only gets its line-level errors and the missing number."""
    report = written.copy()
    report.loc[first_row & key.notna(), list(_CONTINUED)] = True
    report.loc[key.isna(), list(_CONTINUED)] = False
    report.loc[:, ["invoice_number", *(c.name for c in COLUMNS if not c.invoice_level)]] = True
    return report


# --------------------------------------------------------------------------------------------- parse


def _parse_columns(source: pd.DataFrame, fmt: FormatOptions) -> tuple[pd.DataFrame, list[CellError]]:
    rows = source["row"]
    parsed: dict[str, pd.Series] = {}
    errors: list[CellError] = []
    for column in COLUMNS:
        cells = source[column.name].astype(object)
        found: list[CellError] = []
        if column.kind is Kind.NUMBER:
            parsed[column.name], found = number_text(cells, column.name, rows, fmt.decimal)
        elif column.kind is Kind.DATE:
            parsed[column.name], found = date_timestamps(cells, column.name, rows, fmt.date)
        elif column.kind is Kind.INTEGER:
            parsed[column.name], found = parse_integers(cells, column.name, rows)
        else:
            parsed[column.name] = parse_text(cells)
        errors += found
    return _normalize(pd.DataFrame(parsed, index=source.index)), errors


def _normalize(frame: pd.DataFrame) -> pd.DataFrame:
    """Currency upper-cased; language and template type in the CRM's spelling where recognised."""
    frame = frame.copy()
    frame["currency"] = frame["currency"].str.upper()
    language = frame["language"]
    known = language.str.replace("_", "-", regex=False).str.casefold().map(LANGUAGE_BY_KEY)
    frame["language"] = known.where(known.notna(), language)
    template = frame["template_type"]
    code = template.str.casefold().map(_TEMPLATE_CODES)
    frame["template_type"] = code.where(code.notna(), template)
    return frame


# --------------------------------------------------------------------------------------------- fill


def _comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """Values to compare for consistency: numbers by value (7.7 equals 7.70), the rest as they are."""
    numbers = [c for c in frame.columns if BY_NAME[c].kind is Kind.NUMBER]
    compared = frame.copy()
    for column in numbers:
        compared[column] = pd.to_numeric(frame[column])
    return compared


def _group_first(frame: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    """Each cell replaced by the first non-blank value of its invoice (NaN for rows without a number)."""
    return frame.groupby(key, sort=False).transform("first")


def _consistency_errors(
    values: pd.DataFrame, key: pd.Series, rows: pd.Series, source: pd.DataFrame
) -> list[CellError]:
    """A non-blank invoice-level cell that differs from the first value given for its invoice."""
    own = _comparable(values[list(_CONTINUED)])
    first = _group_first(own, key)
    differs = own.notna() & first.notna() & own.ne(first) & key.notna().to_numpy()[:, None]
    if not differs.to_numpy().any():
        return []
    first_rows = _group_first(pd.DataFrame({c: rows.where(own[c].notna()) for c in own.columns}), key)
    errors = []
    positions, columns = differs.to_numpy().nonzero()
    for position, column_index in zip(positions.tolist(), columns.tolist(), strict=True):
        column = own.columns[column_index]
        reference_row = int(_at(first_rows[column], position))
        reference_position = int(np.flatnonzero(rows.to_numpy() == reference_row)[0])
        reference = shown(_at(source[column], reference_position))
        label = column.replace("_", " ")
        text = (
            f"Row {reference_row} of invoice {_at(key, position)} has {label} {reference!r}: repeat that "
            f"value here or leave the cell blank."
        )
        errors.append(
            CellError(
                text, int(_at(rows, position)), column, shown(_at(source[column], position)), "inconsistent"
            )
        )
    return errors


def _at(series: pd.Series, position: int) -> Any:
    """The value at a position (typed Any: cells hold str, Decimal text, Timestamp, int or None)."""
    return series.iat[position]


def _fill_continuation(values: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    """Blank invoice-level cells take the invoice's first value (rows without a number keep their own)."""
    filled = values.copy()
    cont = list(_CONTINUED)
    first = _group_first(values[cont], key)
    has_key = key.notna()
    for column in cont:
        filled[column] = first[column].where(has_key, values[column])
        if filled[column].dtype == object:
            filled[column] = filled[column].where(filled[column].notna(), None)
    return filled


def _apply_defaults(filled: pd.DataFrame, defaults: dict[str, str], fmt: FormatOptions) -> pd.DataFrame:
    """Blank cells take the mapping file's [defaults], then the built-in ones."""
    usable = {
        column: text for column, text in defaults.items() if column in BY_NAME and column != "invoice_number"
    }
    merged = {**BUILT_IN_DEFAULTS, **usable}
    for column, text in merged.items():
        if str(text).strip() == "":
            continue
        default = _default_value(column, str(text).strip(), fmt)
        blank = filled[column].isna()
        if blank.any():
            filled.loc[blank, column] = default
    return filled


def _default_value(column: str, text: str, fmt: FormatOptions) -> Any:
    kind = BY_NAME[column].kind
    value: Any = text
    if kind is Kind.NUMBER:
        value = number_scalar(text, column, fmt.decimal)
    elif kind is Kind.DATE:
        value = date_scalar(text, column, fmt.date)
    elif kind is Kind.INTEGER:
        value = int(text) if text.isdigit() else None
    if value is None:
        raise MappingFileError(
            f"The mapping file's default {column} = {text!r} cannot be read as a "
            f"{kind.value}: correct it under [defaults]."
        )
    return value


# --------------------------------------------------------------------------------------------- check


class _Shown:
    """The value to show for a cell in a message: as written, else the value it was filled with."""

    def __init__(self, source: pd.DataFrame, filled: pd.DataFrame) -> None:
        self.source = source
        self.filled = filled

    def __call__(self, position: int, column: str) -> str | None:
        written = shown(self.source[column].iat[position])
        if written not in (None, ""):
            return written
        value = self.filled[column].iat[position]
        if isinstance(value, pd.Timestamp) and not pd.isna(value):
            return value.date().isoformat()
        return shown(value)


def _check_frame(filled: pd.DataFrame) -> pd.DataFrame:
    """The frame the schemas check: numbers and IDs as float64, dates as datetime64, text as is."""
    checked = filled.copy()
    for column in checked.columns:
        kind = BY_NAME[column].kind
        if kind in (Kind.NUMBER, Kind.INTEGER):
            checked[column] = pd.to_numeric(filled[column]).astype(float)
    return checked


def _failure_cases(schema: Any, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as failure:
        cases: pd.DataFrame = failure.failure_cases
        return cases[cases["index"].notna()]
    return pd.DataFrame(columns=["column", "check", "index"])


def _row_schema_errors(
    check_frame: pd.DataFrame,
    rows: pd.Series,
    report: pd.DataFrame,
    bad_cells: set[tuple[int | None, str | None]],
    shown_value: _Shown,
) -> list[CellError]:
    errors = []
    for column, check, index in _cases(_failure_cases(ROW_SCHEMA, check_frame)):
        position = int(index)
        row = int(_at(rows, position))
        if not _at(report[column], position) or (row, column) in bad_cells:
            continue
        code = "required" if check == "not_nullable" else check
        errors.append(CellError(message(column, code), row, column, shown_value(position, column), code))
    return errors


def _cases(cases: pd.DataFrame) -> Iterable[tuple[str, str, Any]]:
    return zip(cases["column"].tolist(), cases["check"].tolist(), cases["index"].tolist(), strict=True)


def _invoice_schema_errors(invoices: pd.DataFrame, rows: pd.Series, shown_value: _Shown) -> list[CellError]:
    frame = invoices[["invoice_number", "issue_date", "due_date"]]
    cases = _failure_cases(invoice_schema.INVOICE_SCHEMA, frame)
    spellings = _spellings(frame, rows)
    errors = []
    for column, check, index in _cases(cases):
        if invoice_schema.CHECK_COLUMN.get(check, column) != column:
            continue
        position = int(index)
        number: str = frame.at[index, "invoice_number"]  # type: ignore[assignment]
        if check == "duplicate_number":
            others = " and ".join(f"{n!r} (row {r})" for n, r in spellings[number.casefold()] if n != number)
            text = invoice_schema.MESSAGES[check].format(others=others)
        else:
            issue: Any = frame.at[index, "issue_date"]
            text = invoice_schema.MESSAGES[check].format(issue=issue.date().isoformat())
        errors.append(CellError(text, int(_at(rows, position)), column, shown_value(position, column), check))
    return errors


def _spellings(frame: pd.DataFrame, rows: pd.Series) -> dict[str, list[tuple[str, int]]]:
    """Invoice numbers by their case-folded form, with the row of each invoice's first line."""
    folded = frame["invoice_number"].str.casefold()
    clashing = frame[folded.duplicated(keep=False)]
    result: dict[str, list[tuple[str, int]]] = {}
    for index, number in zip(clashing.index.tolist(), clashing["invoice_number"].tolist(), strict=True):
        result.setdefault(number.casefold(), []).append((number, int(_at(rows, index))))
    return result


# --------------------------------------------------------------------------------------------- typed


_TEMPLATE_NUMBERS = {"0": 0, "1": 1}


def _typed(filled: pd.Series, column: str) -> Coded:
    """A parsed, defaulted column as group_coded takes it: Decimal, date, int, str or None, each
    distinct value converted once."""
    codes, uniques = pd.factorize(filled, sort=False)
    kind = BY_NAME[column].kind
    values: list[Any]
    if kind is Kind.NUMBER:
        values = [Decimal(text) for text in uniques]
    elif kind is Kind.DATE:
        values = [stamp.date() for stamp in uniques]
    elif column == "template_type":
        values = [_TEMPLATE_NUMBERS.get(value) for value in uniques]
    else:
        values = list(uniques)
    return Coded(codes, objects([*values, None]))
