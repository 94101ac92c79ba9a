"""Step 5: rows sharing an invoice number become one Invoice, in row order, with one Line per row."""

from __future__ import annotations

from decimal import Decimal
from itertools import starmap
from typing import Any

import numpy as np
import pandas as pd

from importer.models import CellError, Invoice, Line

_LINE_COLUMNS = ("row", "item", "quantity", "price", "discount", "tax1", "tax2", "line_description")
_INVOICE_COLUMNS = (
    "invoice_number", "issue_date", "due_date", "contact", "consignee", "currency", "exchange_rate",
    "language", "template_type", "purchase_order_number", "terms", "description", "deal_id",
    "billing_address_id", "delivery_address_id", "invoice_total",
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
    numbered = frame[frame["invoice_number"].notna()]
    if numbered.empty:
        return []
    codes, _ = pd.factorize(numbered["invoice_number"], sort=False)
    ordered = numbered.iloc[codes.argsort(kind="stable")]
    sizes = np.bincount(codes)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    lines = _lines(ordered)
    heads = ordered.iloc[starts][list(_INVOICE_COLUMNS)].itertuples(index=False, name=None)
    invoices = [_invoice(values, lines[start:start + size])
                for values, start, size in zip(heads, starts.tolist(), sizes.tolist(), strict=True)]
    _attach_errors(invoices, errors)
    totals = _offline_totals(ordered, starts)
    for invoice, total in zip(invoices, totals, strict=True):
        _set_total(invoice, total)
    return invoices


def _lines(ordered: pd.DataFrame) -> list[Line]:
    """One Line per row; a missing item or quantity (an invalid row) becomes "" / 0 as a placeholder."""
    item = ordered["item"].where(ordered["item"].notna(), "")
    quantity = ordered["quantity"].where(ordered["quantity"].notna(), ZERO)
    discount = ordered["discount"].where(ordered["discount"].notna(), ZERO)
    columns = (ordered["row"].astype(int), item, quantity, ordered["price"], discount, ordered["tax1"],
               ordered["tax2"], ordered["line_description"])
    return list(starmap(Line, zip(*(_plain(c) for c in columns), strict=True)))


def _plain(column: pd.Series) -> list[Any]:
    """Python values with None for missing (never NaN)."""
    values = column.tolist()
    if column.dtype == object and column.isna().any():
        return [None if v is None or v != v else v for v in values]
    return values


def _invoice(values: tuple[Any, ...], lines: list[Line]) -> Invoice:
    cells: list[Any] = [None if _missing(v) else v for v in values]
    (number, issue, due, contact, consignee, currency, rate, language, template, po, terms, description,
     deal, billing, delivery, expected) = cells
    return Invoice(
        number=str(number), rows=[line.row for line in lines], lines=lines, issue_date=issue, due_date=due,
        contact=contact, consignee=consignee, currency=currency, exchange_rate=ONE if rate is None else rate,
        language=language or "en-US", template_type=0 if template is None else int(template),
        purchase_order_number=po, terms=terms, description=description, deal_id=deal,
        billing_address_id=billing, delivery_address_id=delivery, expected_total=expected,
    )


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _attach_errors(invoices: list[Invoice], errors: list[CellError]) -> None:
    by_row = {row: invoice for invoice in invoices for row in invoice.rows} if errors else {}
    for error in errors:
        invoice = by_row.get(error.row) if error.row is not None else None
        if invoice is not None:
            invoice.errors.append(error)


# --------------------------------------------------------------------------------------------- totals


def _cents(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Whole cents of each Decimal (0 where missing), and whether the value is a whole number of cents."""
    codes, uniques = pd.factorize(column)
    scaled = [value * 100 for value in uniques]
    whole = np.array([value == value.to_integral_value() for value in scaled] + [False], dtype=bool)
    cents = np.array([int(value) if ok else 0 for value, ok in zip(scaled, whole, strict=False)] + [0],
                     dtype=object)
    return cents[codes], whole[codes]


def _divide_half_even(numerator: np.ndarray, denominator: int) -> np.ndarray:
    quotient = numerator // denominator  # also on object arrays of Python ints (no overflow)
    remainder = numerator - quotient * denominator
    up = (remainder * 2 > denominator) | ((remainder * 2 == denominator) & (quotient % 2 == 1))
    return quotient + up.astype(int)


def _offline_totals(ordered: pd.DataFrame, starts: np.ndarray) -> list[Decimal | None]:
    """Per invoice, the CRM's total in whole cents where every price is known and no line is taxed.

    The arithmetic of importer.totals, vectorized on integers: base = R(price * quantity),
    net = base - R(base * discount / 100), summed per invoice. None where it is not known offline.
    """
    price, price_ok = _cents(ordered["price"])
    quantity, quantity_ok = _cents(ordered["quantity"])
    discount, discount_ok = _cents(ordered["discount"])
    untaxed = (ordered["tax1"].isna() & ordered["tax2"].isna()).to_numpy()
    known = price_ok & quantity_ok & discount_ok & untaxed
    small = max(price.max(initial=0), 1) * max(quantity.max(initial=0), 1) < 2**62 // 10_000
    kind = np.int64 if small else object
    base = _divide_half_even(price.astype(kind) * quantity.astype(kind), 100)
    net = base - _divide_half_even(base * discount.astype(kind), 10_000)
    sums = np.add.reduceat(np.where(known, net, 0), starts)
    complete = np.logical_and.reduceat(known, starts)
    return [Decimal(int(total)).scaleb(-2) if ok else None
            for total, ok in zip(sums.tolist(), complete.tolist(), strict=True)]


def _set_total(invoice: Invoice, total: Decimal | None) -> None:
    """Record the total known offline (valid invoices only) and check it against the expected total."""
    if invoice.errors or total is None:
        return
    invoice.total = total
    if invoice.expected_total is not None and invoice.expected_total != invoice.total:
        invoice.errors.append(CellError(
            f"The expected total {invoice.expected_total:,.2f} differs from the total the CRM will compute, "
            f"{invoice.total:,.2f}: check the quantities, prices and discounts, or the expected total.",
            row=invoice.rows[0], column="invoice_total", value=str(invoice.expected_total),
            code="total_mismatch",
        ))
