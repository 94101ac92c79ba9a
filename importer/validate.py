"""Steps 3-4 offline: parse the mapped table, fill continuation rows and defaults, check every cell.

    MappedTable ──parse──▶ values ──fill──▶ filled ──pandera (schemas/)──▶ CellErrors
                                                 └──typed──▶ ValidatedRows ──group_rows──▶ Validation

Every column is handled as its declaration in importer.columns says (kind, normalisation, default,
checks); no column is named here but the invoice number (the grouping key). Internal representation while
checking: text as str/None, numbers as canonical text ("1234.5", see importer.parse), dates as
datetime64, IDs as int/None. Everything is column-wise: each distinct value is parsed and checked once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
from pandera.errors import SchemaErrors

from importer.columns import (
    BUILT_IN_DEFAULTS,
    BY_NAME,
    CELL_ERROR,
    COLUMNS,
    INVOICE_KEY,
    INVOICE_LEVEL,
    NO_SAVED_RESULT,
    NOT_IN_TOTALS_ROWS,
    Column,
    Kind,
    error_order,
    says_total,
)
from importer.errors import FormatUndecidedError, MappingFileError
from importer.group import group_rows
from importer.models import CellError, CellFault, Coded, FormatOptions, MappedTable, Validation, objects
from importer.parse import currency_mark, date_scalar, number_scalar, parse_distinct, shown, unique_parser
from schemas.invoices import (
    CURRENCY_COLUMN,
    CURRENCY_MISMATCH,
    INVOICE_COLUMNS,
    INVOICE_RULES,
    INVOICE_SCHEMA,
    currency_contradicted,
    currency_message,
)
from schemas.rows import CHECKED_COLUMNS, ROW_CHECKS, message

_CONTINUED = tuple(c for c in INVOICE_LEVEL if c != INVOICE_KEY)


@dataclass(frozen=True)
class ValidatedRows:
    """The rows of a mapped table, parsed, filled and checked (what :func:`check_rows` returns).

    ``rows[i]`` is the user-visible row number of position ``i``. ``key`` codes the invoice number of each
    row (after continuation rows took the number above them): equal codes exactly where numbers are
    equal, -1 for a row without a number. ``columns`` holds every other declared column, coded, with
    continuation cells and defaults filled and each value typed as Invoice/Line ``values`` hold it
    (Decimal, datetime.date, int, 0/1 for template_type, str; None where blank or unreadable).
    ``errors`` are every error found in the cells and across an invoice's cells, in row order.
    """

    table: MappedTable
    rows: np.ndarray
    key: Coded
    columns: Mapping[str, Coded]
    errors: tuple[CellError, ...]
    notes: tuple[str, ...] = ()  # what the user should know that is no error (the header row, totals rows)
    left_out: tuple[int, ...] = ()  # the totals rows, left out of the table


def validate_table(table: MappedTable, fmt: FormatOptions = FormatOptions()) -> Validation:  # noqa: B008
    """Parse, check and group a mapped table, offline: ``group_rows(check_rows(table, fmt))``."""
    return group_rows(check_rows(table, fmt))


def check_rows(table: MappedTable, fmt: FormatOptions = FormatOptions()) -> ValidatedRows:  # noqa: B008
    """Parse, fill and check a mapped table, offline. Bad data becomes CellErrors, never exceptions.

    Raises FormatUndecidedError when a column's decimal mark or date order cannot be decided, and
    MappingFileError when a [defaults] value of the mapping file cannot be read.
    """
    table, notes, left_out = _without_totals_rows(table)
    source = table.frame.reset_index(drop=True)
    rows = source["row"].astype(int)
    faults = _faults(table)
    parsed_source, parsed_coded = _without_faults(source, table.coded, faults)
    values, errors = _parse_columns(parsed_source, parsed_coded, fmt)
    errors += _fault_errors(faults, rows)
    values[INVOICE_KEY] = _continue_blank_numbers(values[INVOICE_KEY], [values[c] for c in _CONTINUED])
    bad_cells = {(e.row, e.column) for e in errors}
    invoices_of = _Groups(values[INVOICE_KEY].codes)
    errors += _consistency_errors(values, invoices_of, rows, source)
    filled = _normalize(_apply_defaults(_fill_continuation(values, invoices_of), table.defaults, fmt))
    errors += _currency_errors(parsed_source, parsed_coded, filled, rows, {(e.row, e.column) for e in errors})
    shown_values = _Shown(source, filled)
    report = _Reported(values, invoices_of)
    errors += _row_schema_errors(filled, rows, report, bad_cells, shown_values)
    heads = np.flatnonzero(invoices_of.first_row & (invoices_of.group >= 0))
    errors += _invoice_rule_errors(_invoice_frame(filled, heads), rows, shown_values)
    typed = {name: _typed(coded, BY_NAME[name]) for name, coded in filled.items() if name != INVOICE_KEY}
    errors.sort(key=error_order)
    return ValidatedRows(
        table=table,
        rows=rows.to_numpy(),
        key=filled[INVOICE_KEY],
        columns=typed,
        errors=tuple(errors),
        notes=(*table.raw.notes, *notes),
        left_out=left_out,
    )


def _without_totals_rows(table: MappedTable) -> tuple[MappedTable, tuple[str, ...], tuple[int, ...]]:
    """The table without its totals rows (not invoices: see :func:`totals_rows`), a note naming them, and
    their row numbers."""
    totals = totals_rows(table)
    if not totals.any():
        return table, (), ()
    keep = np.flatnonzero(~totals)
    numbers = table.frame["row"].to_numpy()[totals].tolist()
    position_of = {int(old): new for new, old in enumerate(keep.tolist())}
    faults = {
        header: {position_of[at]: fault for at, fault in cells.items() if at in position_of}
        for header, cells in table.raw.faults.items()
    }
    raw = replace(table.raw, faults=faults)
    frame = table.frame.iloc[keep].reset_index(drop=True)
    coded = {name: Coded(column.codes[keep], column.values) for name, column in table.coded.items()}
    shown_rows = ", ".join(str(number) for number in numbers[:20]) + (" ..." if len(numbers) > 20 else "")
    where = table.raw.source.name
    label = "row" if len(numbers) == 1 else "rows"
    note = f"{where}: {label} {shown_rows}: a totals row, not an invoice; not imported."
    if len(numbers) > 1:
        note = f"{where}: {label} {shown_rows}: totals rows, not invoices; not imported."
    return replace(table, raw=raw, frame=frame, coded=coded), (note,), tuple(int(row) for row in numbers)


def _codes_of(cells: pd.Series, coded: Coded | None) -> tuple[np.ndarray, list[Any]]:
    """A column as codes into its distinct values (-1: blank), the loader's coding when there is one."""
    if coded is not None:
        return coded.codes, coded.values[:-1].tolist()
    codes, uniques = pd.factorize(cells.to_numpy(dtype=object), use_na_sentinel=True)
    return codes, uniques.tolist()


def _per_value(test: Callable[[Any], bool], codes: np.ndarray, values: list[Any]) -> np.ndarray:
    """Per row, ``test`` of its value, run once per distinct value (False for a blank cell)."""
    outcome = np.fromiter(map(test, values), dtype=bool, count=len(values))
    return np.append(outcome, False)[codes]


def totals_rows(table: MappedTable) -> np.ndarray:
    """Per row, whether it is a totals row: its invoice number or its first cell says Total, Subtotal,
    Summe, Итого ... (columns.says_total), or, at the end of the table, it has no invoice number, no item
    and only amounts (a grand total under the last invoice; such a row among the invoices stays an error:
    it may be a line whose item was forgotten)."""
    frame = table.frame
    count = len(frame)
    number = _codes_of(frame[INVOICE_KEY], table.coded.get(INVOICE_KEY))
    labelled = _per_value(says_total, *number)
    first = table.raw.frame.columns[0] if len(table.raw.frame.columns) else None
    if first is not None and first != table.headers.get(INVOICE_KEY):  # (else just tested above)
        labelled |= _per_value(says_total, *_codes_of(table.raw.frame[first], table.raw.coded.get(first)))
    filled = {
        name: (table.coded[name].codes >= 0) if name in table.coded else frame[name].notna().to_numpy()
        for name in BY_NAME
    }
    amounts = np.zeros(count, dtype=bool)
    other = np.zeros(count, dtype=bool)
    for name, cells in filled.items():
        if BY_NAME[name].kind is Kind.NUMBER and name not in NOT_IN_TOTALS_ROWS:
            amounts |= cells
        else:
            other |= cells
    only_amounts = amounts & ~other
    trailing = np.logical_and.accumulate((only_amounts | labelled)[::-1])[::-1]
    below_an_invoice = np.logical_or.accumulate(filled[INVOICE_KEY])
    return labelled | (only_amounts & trailing & below_an_invoice)


def _faults(table: MappedTable) -> dict[str, Mapping[int, CellFault]]:
    """The unreadable cells (an error value, a formula without a saved result) of the columns read, by
    canonical column; the other columns may hold anything."""
    found = table.raw.faults
    return {name: found[header] for name, header in table.headers.items() if found.get(header)}


def _without_faults(
    source: pd.DataFrame, coded: Mapping[str, Coded], faults: Mapping[str, Mapping[int, CellFault]]
) -> tuple[pd.DataFrame, Mapping[str, Coded]]:
    """The cells as parsed: an unreadable cell blank (its own error says why), so that its text (#N/A,
    =ROUND(I2*1.2,2)) neither parses nor counts towards a column's format."""
    if not faults:
        return source, coded
    source, coded = source.copy(), dict(coded)
    for name, cells in faults.items():
        positions = np.fromiter(cells, dtype=np.int64, count=len(cells))
        column = source[name].to_numpy(dtype=object).copy()
        column[positions] = None
        source[name] = column
        given = coded.get(name)
        if given is not None:
            codes = given.codes.copy()
            codes[positions] = -1
            coded[name] = Coded(codes, given.values)
    return source, coded


def _fault_errors(faults: Mapping[str, Mapping[int, CellFault]], rows: pd.Series) -> list[CellError]:
    row_numbers = rows.to_numpy()
    errors = []
    for name, cells in faults.items():
        for position, fault in cells.items():
            if fault.no_result:
                text = (
                    f"the cell holds the formula {fault.text} with no saved result: open the file in Excel "
                    "or LibreOffice and save it, or paste values."
                )
                code = NO_SAVED_RESULT
            else:
                text = f"the cell shows the error {fault.text}; fix the formula or type the value."
                code = CELL_ERROR
            errors.append(CellError(text, int(row_numbers[position]), name, fault.text, code, fault.cell))
    return errors


def _currency_errors(
    source: pd.DataFrame,
    coded: Mapping[str, Coded],
    filled: Mapping[str, Coded],
    rows: pd.Series,
    bad_cells: set[tuple[int | None, str | None]],
) -> list[CellError]:
    """Amounts written with a currency sign or code that is not their invoice's currency (the rule:
    schemas.invoices.currency_contradicted)."""
    currency = filled[CURRENCY_COLUMN]
    currencies = currency.values[currency.codes]  # code -1: the blank value, None
    row_numbers = rows.to_numpy()
    errors = []
    for column in COLUMNS:
        if not column.money:
            continue
        codes, uniques = _codes_of(source[column.name], coded.get(column.name))
        marks = [currency_mark(value) for value in uniques]
        if not any(marks):
            continue
        per_row = objects([*marks, None])[codes]
        for position in np.flatnonzero(currency_contradicted(per_row, currencies)).tolist():
            row = int(row_numbers[position])
            if (row, column.name) in bad_cells:
                continue
            message = currency_message(str(per_row[position]), str(currencies[position]))
            value = shown(source[column.name].iat[position])
            errors.append(CellError(message, row, column.name, value, CURRENCY_MISMATCH))
    return errors


def _continue_blank_numbers(key: Coded, invoice_cells: list[Coded]) -> Coded:
    """A row with no invoice number and every other invoice-level cell blank continues the invoice of
    the row above it (as Odoo and ERPNext read such sheets). A row with no number but some invoice-level
    cell filled looks like a new invoice whose number was forgotten: it stays without a number (an error),
    and so do the continuation rows below it."""
    continuation = key.codes < 0
    for cells in invoice_cells:
        continuation &= cells.codes < 0
    if not continuation.any():
        return key
    # the nearest row above that is not a continuation row: its number, or none if it had none
    above = np.maximum.accumulate(np.where(continuation, -1, np.arange(len(continuation))))
    carried = np.where(above >= 0, key.codes[above], -1)
    return Coded(np.where(continuation, carried, key.codes), key.values)


class _Groups:
    """The invoices of the rows: ``group`` numbers them 0.. in order of first appearance (-1: a row
    without an invoice number); ``order`` lists the numbered rows invoice by invoice, in row order,
    each invoice's rows starting at ``starts``."""

    def __init__(self, key_codes: np.ndarray) -> None:
        numbered = np.flatnonzero(key_codes >= 0)
        appearance, _ = pd.factorize(key_codes[numbered], sort=False)
        self.group = np.full(len(key_codes), -1, dtype=np.int64)
        self.group[numbered] = appearance
        self.order = numbered[np.argsort(appearance, kind="stable")]
        sizes = np.bincount(appearance)
        self.starts = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)[: len(sizes)]
        self.first_row = self.group < 0
        self.first_row[self.order[self.starts]] = True

    def first_written(self, codes: np.ndarray) -> np.ndarray:
        """Per row, the position of the first row of its invoice where ``codes`` is not blank (-1 when
        there is none, or the row has no invoice)."""
        if not len(self.order):
            return np.full(len(codes), -1, dtype=np.int64)
        count = len(self.order)
        ranks = np.where(codes[self.order] >= 0, np.arange(count), count)
        first = np.minimum.reduceat(ranks, self.starts)
        per_invoice = np.where(first < count, self.order[np.minimum(first, count - 1)], -1)
        return np.where(self.group >= 0, per_invoice[self.group], -1)


# --------------------------------------------------------------------------------------------- parse


def _parse_columns(
    source: pd.DataFrame, coded: Mapping[str, Coded], fmt: FormatOptions
) -> tuple[dict[str, Coded], list[CellError]]:
    """Each column parsed once per distinct value, normalised, with equal values sharing a code.
    ``coded``: the columns the loader already coded (the others are coded here)."""
    rows = source["row"]
    parsed: dict[str, Coded] = {}
    errors: list[CellError] = []
    undecided: list[str] = []  # every column whose format cannot be decided, told at once
    for column in COLUMNS:
        given = coded.get(column.name)
        if given is not None and _loaded_text(given, column.kind) and column.normalize is None:
            parsed[column.name] = given  # already what parsing and _canonical would make of it
            continue
        parser = unique_parser(column.kind, column.name, fmt, percent=column.percent, money=column.money)
        try:
            codes, distinct, found = parse_distinct(source[column.name], rows, parser, given)
        except FormatUndecidedError as exc:
            undecided.append(str(exc))
            continue
        parsed[column.name] = _canonical(codes, _normalized(column, distinct))
        errors += found
    if undecided:
        raise FormatUndecidedError("; ".join(undecided) + ".")
    return parsed, errors


def _loaded_text(coded: Coded, kind: Kind) -> bool:
    """A text column as the loader coded it, with only text in it: its values are distinct, stripped and
    not blank, which is all that parsing text does."""
    return kind in (Kind.TEXT, Kind.REF) and coded.all_text()


def _canonical(codes: np.ndarray, distinct: pd.Series) -> Coded:
    """Codes into the distinct non-blank values: equal values share a code, unreadable ones are blank."""
    merged, uniques = pd.factorize(distinct, use_na_sentinel=True)
    merged = np.append(merged, -1)  # code -1 stays -1
    return Coded(merged[codes], objects([*uniques.tolist(), None]))


def _normalized(column: Column, values: pd.Series) -> pd.Series:
    """The column's distinct values in the CRM's spelling where its declaration normalises them."""
    return values if column.normalize is None else column.normalize(values)


def _normalize(filled: dict[str, Coded]) -> dict[str, Coded]:
    """:func:`_normalized` again, for the values the defaults brought in."""
    for column in COLUMNS:
        if column.normalize is None:
            continue
        coded = filled[column.name]
        values = column.normalize(pd.Series(coded.values, dtype=object))
        filled[column.name] = Coded(coded.codes, objects(values.where(values.notna(), None).tolist()))
    return filled


# --------------------------------------------------------------------------------------------- fill


def _comparable(coded: Coded, column: str) -> np.ndarray:
    """Per row, a value to compare for consistency: numbers by value (7.7 equals 7.70), the rest by code
    (equal values share one). Blank rows hold any value."""
    if BY_NAME[column].kind is not Kind.NUMBER:
        return coded.codes
    blank = bool((coded.codes < 0).any())
    distinct = coded.values if blank else coded.values[:-1]  # with a None as the whole column has one
    numbers = pd.to_numeric(pd.Series(distinct, dtype=object)).to_numpy()
    return numbers[coded.codes] if len(numbers) else numbers


def _consistency_errors(
    values: dict[str, Coded], groups: _Groups, rows: pd.Series, source: pd.DataFrame
) -> list[CellError]:
    """A non-blank invoice-level cell that differs from the first value given for its invoice."""
    found: list[tuple[int, int, int]] = []
    row_numbers = rows.to_numpy()
    for column_index, column in enumerate(_CONTINUED):
        coded = values[column]
        if _all_blank(coded):
            continue
        first = groups.first_written(coded.codes)
        own = _comparable(coded, column)
        written = (coded.codes >= 0) & (first >= 0)
        differs = written & (own != own[np.where(first >= 0, first, 0)])
        positions = np.flatnonzero(differs).tolist()
        found += [(position, column_index, int(first[position])) for position in positions]
    errors = []
    key = values[INVOICE_KEY]
    for position, column_index, first_position in sorted(found):
        column = _CONTINUED[column_index]
        reference_row = int(row_numbers[first_position])
        reference_position = int(np.flatnonzero(row_numbers == reference_row)[0])
        reference = shown(_at(source[column], reference_position))
        label = column.replace("_", " ")
        number = str(key.values[key.codes[position]])
        number = number if number.isprintable() else repr(number)  # a message is one line
        text = (
            f"Row {reference_row} of invoice {number} has {label} {reference!r}: repeat that "
            f"value here or leave the cell blank."
        )
        errors.append(
            CellError(
                text, int(row_numbers[position]), column, shown(_at(source[column], position)), "inconsistent"
            )
        )
    return errors


def _all_blank(coded: Coded) -> bool:
    """A column with no value (one the file does not have)."""
    return not bool((coded.codes >= 0).any())


def _at(series: pd.Series, position: int) -> Any:
    """The value at a position (typed Any: cells hold str, Decimal text, Timestamp, int or None)."""
    return series.iat[position]


def _fill_continuation(values: dict[str, Coded], groups: _Groups) -> dict[str, Coded]:
    """Blank invoice-level cells take the invoice's first value (rows without a number keep their own)."""
    filled = dict(values)
    for column in _CONTINUED:
        coded = values[column]
        if _all_blank(coded):
            continue
        first = groups.first_written(coded.codes)
        taken = np.where(first >= 0, coded.codes[np.maximum(first, 0)], -1)
        filled[column] = Coded(np.where(groups.group >= 0, taken, coded.codes), coded.values)
    return filled


def _apply_defaults(
    filled: dict[str, Coded], defaults: dict[str, str], fmt: FormatOptions
) -> dict[str, Coded]:
    """Blank cells take the mapping file's [defaults], then the built-in ones."""
    usable = {
        column: text for column, text in defaults.items() if column in BY_NAME and column != INVOICE_KEY
    }
    merged = {**BUILT_IN_DEFAULTS, **usable}
    for column, text in merged.items():
        if str(text).strip() == "":
            continue
        default = _default_value(column, str(text).strip(), fmt)
        coded = filled[column]
        blank = coded.codes < 0
        if blank.any():
            values = coded.values.tolist()
            code = len(values) - 1
            filled[column] = Coded(np.where(blank, code, coded.codes), objects([*values[:-1], default, None]))
    return filled


@functools.lru_cache(maxsize=64)
def _default_value(column: str, text: str, fmt: FormatOptions) -> Any:
    """A default read as its column's kind (read once per run: a whole column parser for one value)."""
    kind = BY_NAME[column].kind
    value: Any = text
    if kind is Kind.NUMBER:
        value = number_scalar(text, column, fmt.decimal, percent=BY_NAME[column].percent)
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

    def __init__(self, source: pd.DataFrame, filled: dict[str, Coded]) -> None:
        self.source = source
        self.filled = filled

    def __call__(self, position: int, column: str) -> str | None:
        written = shown(self.source[column].iat[position])
        if written not in (None, ""):
            return written
        coded = self.filled[column]
        value = coded.values[coded.codes[position]]
        if isinstance(value, pd.Timestamp) and not pd.isna(value):
            return value.date().isoformat()
        return shown(value)


class _Reported:
    """Where a failed check is reported: invoice-level cells where written or on the invoice's first row
    (a value filled from an earlier row is reported there), line-level cells and the number always.
    A row without an invoice number only gets its line-level errors and the missing number."""

    def __init__(self, values: dict[str, Coded], groups: _Groups) -> None:
        self.values = values
        self.groups = groups

    def rows(self, column: str) -> np.ndarray:
        """Per row, whether a failed check of ``column`` is reported there."""
        if column not in _CONTINUED:
            return np.ones(len(self.groups.group), dtype=bool)
        written = self.values[column].codes >= 0
        return (self.groups.group >= 0) & (self.groups.first_row | written)


def _padded_frame(distinct: dict[str, np.ndarray]) -> pd.DataFrame:
    """Columns of different lengths as one frame: each padded with its last value (its blank one)."""
    longest = max(map(len, distinct.values()), default=0)
    return pd.DataFrame(
        {
            column: np.concatenate([values, np.repeat(values[-1:], longest - len(values))])
            for column, values in distinct.items()
        }
    )


def _checked_values(coded: Coded, column: str) -> np.ndarray:
    kind = BY_NAME[column].kind
    if kind in (Kind.NUMBER, Kind.INTEGER):
        return pd.to_numeric(pd.Series(coded.values, dtype=object)).astype(float).to_numpy()
    if kind is Kind.DATE:
        return pd.DatetimeIndex(coded.values).to_numpy()
    return coded.values


def _invoice_frame(filled: dict[str, Coded], heads: np.ndarray) -> pd.DataFrame:
    """The invoice rules' frame: the columns they read, from each invoice's first row, indexed by position."""
    frame = {}
    for column in INVOICE_COLUMNS:
        coded = filled[column]
        frame[column] = _checked_values(coded, column)[coded.codes[heads]]
    return pd.DataFrame(frame, index=heads)


def _failure_cases(schema: Any, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as failure:
        cases: pd.DataFrame = failure.failure_cases
        return cases[cases["index"].notna()]
    return pd.DataFrame(columns=["column", "check", "index"])


# Every row check is on one column, so the row schema runs on each checked column's distinct values
# (numbers and IDs as float64, dates as datetime64, text as is) and the outcome is spread to the rows
# holding each value: the same as checking every row, at no cost per row. The values' frame pads the
# columns to one length with blanks, so it is checked with blanks allowed (and only the columns with
# checks); whether a column may be blank is checked on a one-row frame of the blank values.
_VALUE_CHECKS = ROW_CHECKS.update_columns({column: {"nullable": True} for column in CHECKED_COLUMNS})
_VALUE_CHECKED = tuple(column for column in CHECKED_COLUMNS if ROW_CHECKS.columns[column].checks)


@functools.lru_cache(maxsize=128)
def _checks_of(columns: tuple[str, ...], *, blank_allowed: bool) -> Any:
    """The row schema restricted to ``columns`` (made once: pandera copies the whole schema to select)."""
    return (_VALUE_CHECKS if blank_allowed else ROW_CHECKS).select_columns(list(columns))


def failed_row_checks(filled: Mapping[str, Coded]) -> dict[tuple[str, str], np.ndarray]:
    """Per (column, check) of the row schema that fails somewhere: which rows fail it."""
    distinct = {column: _checked_values(filled[column], column) for column in CHECKED_COLUMNS}
    failed: dict[tuple[str, str], list[int]] = {}
    valued = [column for column in _VALUE_CHECKED if len(distinct[column]) > 1]  # more than the blank
    values_frame = _padded_frame({column: distinct[column] for column in valued})
    schema = _checks_of(tuple(valued), blank_allowed=True)
    for column, check, index in _cases(_failure_cases(schema, values_frame)):
        if int(index) < len(distinct[column]):
            failed.setdefault((column, check), []).append(int(index))
    blank = [column for column in CHECKED_COLUMNS if (filled[column].codes < 0).any()]
    if blank:  # whether a blank cell fails (required columns), for the columns with blank cells
        blanks = pd.DataFrame({column: distinct[column][-1:] for column in blank})
        for column, check, _ in _cases(_failure_cases(_checks_of(tuple(blank), blank_allowed=False), blanks)):
            failed.setdefault((column, check), []).append(len(distinct[column]) - 1)
    at_rows = {}
    for (column, check), indices in failed.items():
        size = len(distinct[column])
        hit = np.zeros(size, dtype=bool)
        hit[indices] = True
        codes = filled[column].codes
        failing = hit[np.where(codes < 0, size - 1, codes)]
        if failing.any():
            at_rows[column, check] = failing
    return at_rows


def _row_schema_errors(
    filled: dict[str, Coded],
    rows: pd.Series,
    report: _Reported,
    bad_cells: set[tuple[int | None, str | None]],
    shown_value: _Shown,
) -> list[CellError]:
    errors = []
    row_numbers = rows.to_numpy()
    for (column, check), failing in failed_row_checks(filled).items():
        code = "required" if check == "not_nullable" else check
        for position in np.flatnonzero(failing & report.rows(column)).tolist():
            row = int(row_numbers[position])
            if (row, column) not in bad_cells:
                errors.append(
                    CellError(message(column, code), row, column, shown_value(position, column), code)
                )
    return errors


def _cases(cases: pd.DataFrame) -> Iterable[tuple[str, str, Any]]:
    return zip(cases["column"].tolist(), cases["check"].tolist(), cases["index"].tolist(), strict=True)


def _invoice_rule_errors(invoices: pd.DataFrame, rows: pd.Series, shown_value: _Shown) -> list[CellError]:
    """The rules that span two columns (schemas.invoices), on one row per invoice."""
    cases = _failure_cases(INVOICE_SCHEMA, invoices)
    failing: dict[str, set[int]] = {}
    for _, check, index in _cases(cases):
        failing.setdefault(check, set()).add(int(index))
    first_rows = pd.Series(rows.to_numpy()[invoices.index.to_numpy()], index=invoices.index)
    errors = []
    for rule in INVOICE_RULES:
        if rule.code not in failing:
            continue
        positions = pd.Index(sorted(failing[rule.code]))
        texts = rule.explain(invoices, positions, first_rows)
        at_rows = first_rows.loc[positions].tolist()
        for position, row, text in zip(positions.tolist(), at_rows, texts, strict=True):
            column = rule.reported_on
            errors.append(CellError(text, int(row), column, shown_value(position, column), rule.code))
    return errors


# --------------------------------------------------------------------------------------------- typed


def _typed(coded: Coded, column: Column) -> Coded:
    """A parsed, defaulted column typed as Invoice/Line values hold it: Decimal, date, int, str or None
    (the declaration's ``to_value`` where it has one), each distinct value converted once."""
    values: list[Any] = coded.values[:-1].tolist()
    if column.to_value is not None:
        convert = column.to_value
        values = [None if value is None else convert(value) for value in values]
    elif column.kind is Kind.NUMBER:
        values = [None if text is None else Decimal(text) for text in values]
    elif column.kind is Kind.DATE:
        values = [None if stamp is None else stamp.date() for stamp in values]
    return Coded(coded.codes, objects([*values, None]))
