"""Step 5: rows sharing an invoice number become one Invoice, in row order, with one Line per row.

    ValidatedRows ──group_rows──▶ Validation (the table, its invoices, every offline error in row order)

Each Invoice holds the typed value of every invoice-level column of its first row (continuation cells
and defaults are filled by importer.validate), its rows' errors and, where it is known offline, its total;
each Line the typed value of every line-level column of its row. Columns come from importer.columns.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, overload

import numpy as np
import pandas as pd

from importer.columns import INVOICE_KEY, INVOICE_LEVEL, LINE_LEVEL, TOTAL, error_order
from importer.models import CellError, Coded, Invoice, Line, Validation, objects
from importer.totals import PricedLine, mismatch_message

if TYPE_CHECKING:
    from importer.validate import ValidatedRows

_INVOICE_VALUES = tuple(c for c in INVOICE_LEVEL if c != INVOICE_KEY)
_VALUE_KEYS = (INVOICE_KEY, *_INVOICE_VALUES)  # the keys of Invoice.values, the number first


def group_rows(rows: ValidatedRows) -> Validation:
    """Group validated rows into invoices, in order of first appearance.

    Rows without an invoice number belong to no invoice (their errors stay in ``Validation.errors``). The
    errors of an invoice's rows go with it. When every price is known and no line is taxed, its total is
    computed the CRM's way and, for an invoice without other errors, compared with ``invoice_total`` (a
    ``total_mismatch`` error when they differ); otherwise ``total`` stays None for the online stage.
    """
    key, columns = rows.key, rows.columns
    present = np.flatnonzero(key.codes >= 0)
    notes = rows.notes
    if not len(present):
        return Validation(
            table=rows.table, invoices=(), errors=rows.errors, notes=notes, left_out=rows.left_out
        )
    appearance, _ = pd.factorize(key.codes[present], sort=False)
    order = present[np.argsort(appearance, kind="stable")]
    sizes = np.bincount(appearance)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    bounds = list(zip(starts.tolist(), (starts + sizes).tolist(), strict=True))
    row_list: list[int] = rows.rows[order].tolist()
    heads = order[starts]
    numbers = (key if key.all_text() else key.map(str)).take(heads)
    heads_values = [columns[name].take(heads) for name in _INVOICE_VALUES]
    totals = _offline_totals(columns, order, starts)
    errors_of = _errors_by_invoice(rows.errors, row_list, bounds)
    lines = _LineTable(order, row_list, columns)
    invoices = []
    mismatches = []
    for number, (start, end), values, total, errors in zip(
        numbers, bounds, zip(*heads_values, strict=True), totals, errors_of, strict=True
    ):
        invoice_values = dict(zip(_VALUE_KEYS, (number, *values), strict=True))
        known = total if not errors else None
        block = LineBlock(lines, start, end)
        mismatch = _mismatch(known, invoice_values.get(TOTAL.expected), row_list[start], block)
        if mismatch is not None:
            mismatches.append(mismatch)
            errors = (*errors, mismatch)
        invoices.append(
            Invoice(
                number=number,
                rows=tuple(row_list[start:end]),
                lines=block,
                values=invoice_values,
                errors=errors,
                total=known,
            )
        )
    all_errors = sorted((*rows.errors, *mismatches), key=error_order) if mismatches else rows.errors
    return Validation(
        table=rows.table,
        invoices=tuple(invoices),
        errors=tuple(all_errors),
        notes=notes,
        left_out=rows.left_out,
    )


def _errors_by_invoice(
    errors: Sequence[CellError], row_list: list[int], bounds: list[tuple[int, int]]
) -> list[tuple[CellError, ...]]:
    """The errors of each invoice's rows, in the order given."""
    found: list[list[CellError]] = [[] for _ in bounds]
    if errors:
        rows = np.asarray(row_list, dtype=np.int64)
        invoice_index = np.repeat(np.arange(len(bounds)), [end - start for start, end in bounds])
        wanted = np.fromiter({error.row for error in errors if error.row is not None}, dtype=np.int64)
        hit = np.isin(rows, wanted)  # only the rows with errors are looked up
        invoice_of = dict(zip(rows[hit].tolist(), invoice_index[hit].tolist(), strict=True))
        for error in errors:
            index = invoice_of.get(error.row) if error.row is not None else None
            if index is not None:
                found[index].append(error)
    return [tuple(invoice_errors) for invoice_errors in found]


def _mismatch(
    total: Decimal | None, expected: Decimal | None, row: int, lines: Sequence[Line]
) -> CellError | None:
    """The ``total_mismatch`` error when the expected total differs from the total known offline (every
    price known, no tax: see _offline_totals)."""
    if total is None or expected is None or expected == total:
        return None
    priced = [PricedLine(line.row, line.price or Decimal(0), line.quantity, line.discount) for line in lines]
    return CellError(
        mismatch_message(expected, total, priced),
        row=row,
        column=TOTAL.expected,
        value=str(expected),
        code="total_mismatch",
    )


# --------------------------------------------------------------------------------------------- lines


class _LineTable:
    """Every line of a file, built the first time any invoice's lines are read (``validate`` without
    ``--results`` never reads them: 200,000 Line objects are a good part of its time)."""

    __slots__ = ("_columns", "_lines", "_order", "_rows")

    def __init__(self, order: np.ndarray, rows: list[int], columns: Mapping[str, Coded]) -> None:
        self._order, self._rows, self._columns = order, rows, columns
        self._lines: list[Line] | None = None

    def lines(self, start: int, end: int) -> list[Line]:
        if self._lines is None:
            self._lines = _lines(self._order, self._rows, self._columns)
        return self._lines[start:end]


class LineBlock(Sequence[Line]):
    """One invoice's lines, a slice of the file's :class:`_LineTable`: the same Line objects every time,
    built on first use."""

    __slots__ = ("_end", "_start", "_table")

    def __init__(self, table: _LineTable, start: int, end: int) -> None:
        self._table, self._start, self._end = table, start, end

    def __len__(self) -> int:
        return self._end - self._start

    @overload
    def __getitem__(self, index: int) -> Line: ...
    @overload
    def __getitem__(self, index: slice) -> list[Line]: ...
    def __getitem__(self, index: int | slice) -> Line | list[Line]:
        return self._table.lines(self._start, self._end)[index]

    def __iter__(self) -> Iterator[Line]:
        return iter(self._table.lines(self._start, self._end))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return repr(self._table.lines(self._start, self._end))


def _lines(order: np.ndarray, rows: list[int], columns: Mapping[str, Coded]) -> list[Line]:
    """One Line per row, its values the typed line-level columns of that row."""
    per_column = [columns[name].take(order) for name in LINE_LEVEL]
    return [
        Line(row=row, values=dict(zip(LINE_LEVEL, values, strict=True)))
        for row, values in zip(rows, zip(*per_column, strict=True), strict=True)
    ]


# --------------------------------------------------------------------------------------------- totals


def _cents(column: Coded) -> tuple[np.ndarray, np.ndarray]:
    """Per distinct value: whole cents of the Decimal (0 where missing) as Python ints, and whether the
    value is a whole number of cents."""
    scaled: list[Any] = [None if value is None else value * 100 for value in column.values.tolist()]
    whole = np.array([value is not None and value == value.to_integral_value() for value in scaled])
    cents = objects([int(value) if ok else 0 for value, ok in zip(scaled, whole.tolist(), strict=True)])
    return cents, whole


def _divide_half_even(numerator: np.ndarray, denominator: int) -> np.ndarray:
    quotient = numerator // denominator  # also on object arrays of Python ints (no overflow)
    remainder = numerator - quotient * denominator
    up = (remainder * 2 > denominator) | ((remainder * 2 == denominator) & (quotient % 2 == 1))
    return quotient + up.astype(int)


def _fits_int64(*cents: np.ndarray) -> bool:
    """Whether the products of the totals arithmetic stay far inside int64 (else Python ints are used)."""
    bound = 1
    for column in cents:
        bound *= max(int(np.abs(column).max(initial=0)), 1)
    return bound < 2**62 // 10_000


def _offline_totals(
    columns: Mapping[str, Coded], order: np.ndarray, starts: np.ndarray
) -> list[Decimal | None]:
    """Per invoice, the CRM's total in whole cents where every price is known and no line is taxed.

    The arithmetic of importer.totals, vectorized on integers: base = R(price * quantity),
    net = base - R(base * discount / 100), summed per invoice. None where it is not known offline.
    """
    untaxed = np.ones(len(order), dtype=bool)
    for tax in TOTAL.taxes:
        untaxed &= columns[tax].codes[order] < 0
    if not untaxed.any():  # every invoice has a taxed line: its total needs the CRM's tax rates
        return [None] * len(starts)
    distinct = {name: _cents(columns[name]) for name in (TOTAL.price, TOTAL.quantity, TOTAL.discount)}
    kind = np.int64 if _fits_int64(*(cents for cents, _ in distinct.values())) else object
    rows = {name: columns[name].codes[order] for name in distinct}
    price, quantity, discount = (distinct[name][0].astype(kind)[rows[name]] for name in distinct)
    known = untaxed
    for name, (_, whole) in distinct.items():
        known = known & whole[rows[name]]
    base = _divide_half_even(price * quantity, 100)
    net = base - _divide_half_even(base * discount, 10_000)
    sums = np.add.reduceat(np.where(known, net, 0), starts)
    complete = np.logical_and.reduceat(known, starts)
    return [
        Decimal(int(total)).scaleb(-2) if ok else None
        for total, ok in zip(sums.tolist(), complete.tolist(), strict=True)
    ]
