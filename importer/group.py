"""Step 5: rows sharing an invoice number become one Invoice, in row order, with one Line per row."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd

from importer.models import CellError, Invoice, Line
from importer.totals import invoice_cost

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
    order = codes.argsort(kind="stable")
    ordered = numbered.iloc[order]
    lines = [_line(*values) for values in ordered[list(_LINE_COLUMNS)].itertuples(index=False, name=None)]
    sizes = pd.Series(codes).value_counts(sort=False).sort_index().tolist()
    first = ordered[~ordered["invoice_number"].duplicated()]
    invoices: list[Invoice] = []
    start = 0
    heads = first[list(_INVOICE_COLUMNS)].itertuples(index=False, name=None)
    for values, size in zip(heads, sizes, strict=True):
        invoice_lines = lines[start:start + size]
        start += size
        invoices.append(_invoice(values, invoice_lines))
    _attach_errors(invoices, errors)
    for invoice in invoices:
        _compute_total(invoice)
    return invoices


def _line(row: int, item: Any, quantity: Any, price: Any, discount: Any, tax1: Any, tax2: Any,
          description: Any) -> Line:
    return Line(row=int(row), item=item or "", quantity=ZERO if quantity is None else quantity,
                price=price, discount=ZERO if discount is None else discount, tax1=tax1, tax2=tax2,
                description=description)


def _invoice(values: tuple[Any, ...], lines: list[Line]) -> Invoice:
    (number, issue, due, contact, consignee, currency, rate, language, template, po, terms, description,
     deal, billing, delivery, expected) = values
    return Invoice(
        number=number, rows=[line.row for line in lines], lines=lines, issue_date=issue, due_date=due,
        contact=contact, consignee=consignee, currency=currency, exchange_rate=ONE if rate is None else rate,
        language=language or "en-US", template_type=0 if template is None else int(template),
        purchase_order_number=po, terms=terms, description=description, deal_id=deal,
        billing_address_id=billing, delivery_address_id=delivery, expected_total=expected,
    )


def _attach_errors(invoices: list[Invoice], errors: list[CellError]) -> None:
    by_row = {row: invoice for invoice in invoices for row in invoice.rows} if errors else {}
    for error in errors:
        invoice = by_row.get(error.row) if error.row is not None else None
        if invoice is not None:
            invoice.errors.append(error)


def _compute_total(invoice: Invoice) -> None:
    """The CRM's total where it is known offline (valid, every price given, no taxes), checked."""
    if invoice.errors or any(line.price is None or line.tax1 or line.tax2 for line in invoice.lines):
        return
    invoice.total = invoice_cost(invoice.lines)
    if invoice.expected_total is not None and invoice.expected_total != invoice.total:
        invoice.errors.append(CellError(
            f"The expected total {invoice.expected_total:,.2f} differs from the total the CRM will compute, "
            f"{invoice.total:,.2f}: check the quantities, prices and discounts, or the expected total.",
            row=invoice.rows[0], column="invoice_total", value=str(invoice.expected_total),
            code="total_mismatch",
        ))
