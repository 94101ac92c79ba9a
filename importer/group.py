"""Step 5: rows sharing an invoice number become one Invoice, in row order, with one Line per row."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any, overload

import numpy as np
import pandas as pd

from importer.models import CellError, Coded, Invoice, Line, objects
from importer.parse import gc_paused

_LINE_COLUMNS = ("row", "item", "quantity", "price", "discount", "tax1", "tax2", "line_description")
_INVOICE_COLUMNS = (
    "invoice_number",
    "issue_date",
    "due_date",
    "contact",
    "consignee",
    "currency",
    "exchange_rate",
    "language",
    "template_type",
    "purchase_order_number",
    "terms",
    "description",
    "deal_id",
    "billing_address_id",
    "delivery_address_id",
    "invoice_total",
)
ZERO = Decimal(0)
ONE = Decimal(1)


def group_invoices(frame: pd.DataFrame, errors: list[CellError]) -> list[Invoice]:
    """Group the parsed, defaulted frame into invoices, in order of first appearance.

    ``frame`` has the canonical columns (numbers as Decimal, dates as datetime.date, IDs as int,
    template_type as 0/1, text as str; None where blank or unreadable) and ``row``. Rows without an
    invoice number belong to no invoice. The errors of an invoice's rows are attached to it. When every
    price is known and no line is taxed, ``total`` is computed the CRM's way and compared with
    ``invoice_total`` (a ``total_mismatch`` error when they differ); otherwise it stays None for the
    online stage.
    """
    codes, numbers = pd.factorize(frame["invoice_number"], sort=False)
    key = Coded(codes, objects([*numbers, None]))
    columns = {name: Coded.of(frame[name]) for name in (*_LINE_COLUMNS[1:], *_INVOICE_COLUMNS[1:])}
    with gc_paused():
        return group_coded(key, frame["row"].to_numpy().astype(int), columns, errors)


def group_coded(
    key: Coded, rows: np.ndarray, columns: Mapping[str, Coded], errors: list[CellError]
) -> list[Invoice]:
    """:func:`group_invoices` on coded columns: ``key`` codes equal exactly where invoice numbers are
    equal (-1: no number); ``columns`` holds every line and invoice column (typed as for
    group_invoices) but ``invoice_number`` and ``row``; ``rows`` the row numbers."""
    present = np.flatnonzero(key.codes >= 0)
    if not len(present):
        return []
    appearance, _ = pd.factorize(key.codes[present], sort=False)
    order = present[np.argsort(appearance, kind="stable")]
    sizes = np.bincount(appearance)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    bounds = list(zip(starts.tolist(), (starts + sizes).tolist(), strict=True))
    row_list = rows[order].tolist()
    lines = _LineTable(order, row_list, columns)
    heads = order[starts]

    def head(name: str, fill: Callable[[Any], Any] | None = None) -> list[Any]:
        column = columns[name] if fill is None else columns[name].map(fill)
        return column.take(heads)

    invoices = list(
        map(
            Invoice,
            (key if key.all_text() else key.map(str)).take(heads),
            [row_list[start:end] for start, end in bounds],
            [LineBlock(lines, start, end) for start, end in bounds],
            head("issue_date"),
            head("due_date"),
            head("contact"),
            head("consignee"),
            head("currency"),
            head("exchange_rate", lambda v: ONE if v is None else v),
            head("language", lambda v: v or "en-US"),
            head("template_type", lambda v: 0 if v is None else int(v)),
            head("purchase_order_number"),
            head("terms"),
            head("description"),
            head("deal_id"),
            head("billing_address_id"),
            head("delivery_address_id"),
            head("invoice_total"),
        )
    )
    _attach_errors(invoices, errors)
    totals = _offline_totals(columns, order, starts)
    for invoice, total in zip(invoices, totals, strict=True):
        if total is not None:
            _set_total(invoice, total)
    return invoices


class _LineTable:
    """Every line of a file, built the first time any invoice's lines are read (``validate`` without
    ``--results`` never reads them: 200,000 Line objects are a good part of its time)."""

    __slots__ = ("_columns", "_lines", "_order", "_rows")

    def __init__(self, order: np.ndarray, rows: list[int], columns: Mapping[str, Coded]) -> None:
        self._order, self._rows, self._columns = order, rows, columns
        self._lines: list[Line] | None = None

    def lines(self, start: int, end: int) -> list[Line]:
        if self._lines is None:
            with gc_paused():
                self._lines = _lines(self._order, self._rows, self._columns)
        return self._lines[start:end]


class LineBlock(Sequence[Line]):
    """One invoice's lines, a slice of the file's :class:`_LineTable`: the same Line objects every time
    (resolve fills in their IDs), built on first use."""

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
    """One Line per row; a missing item or quantity (an invalid row) becomes "" / 0 as a placeholder."""
    return list(
        map(
            Line,
            rows,
            columns["item"].map(lambda v: "" if v is None else v).take(order),
            columns["quantity"].map(lambda v: ZERO if v is None else v).take(order),
            columns["price"].take(order),
            columns["discount"].map(lambda v: ZERO if v is None else v).take(order),
            columns["tax1"].take(order),
            columns["tax2"].take(order),
            columns["line_description"].take(order),
        )
    )


def _attach_errors(invoices: list[Invoice], errors: list[CellError]) -> None:
    by_row = {row: invoice for invoice in invoices for row in invoice.rows} if errors else {}
    for error in errors:
        invoice = by_row.get(error.row) if error.row is not None else None
        if invoice is not None:
            invoice.errors.append(error)


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
    untaxed = (columns["tax1"].codes[order] < 0) & (columns["tax2"].codes[order] < 0)
    if not untaxed.any():  # every invoice has a taxed line: its total needs the CRM's tax rates
        return [None] * len(starts)
    distinct = {name: _cents(columns[name]) for name in ("price", "quantity", "discount")}
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


def _set_total(invoice: Invoice, total: Decimal | None) -> None:
    """Record the total known offline (valid invoices only) and check it against the expected total."""
    if invoice.errors or total is None:
        return
    invoice.total = total
    if invoice.expected_total is not None and invoice.expected_total != invoice.total:
        invoice.errors.append(
            CellError(
                f"The expected total {invoice.expected_total:,.2f} differs from the total the CRM will "
                f"compute, "
                f"{invoice.total:,.2f}: check the quantities, prices and discounts, or the expected total.",
                row=invoice.rows[0],
                column="invoice_total",
                value=str(invoice.expected_total),
                code="total_mismatch",
            )
        )
