"""Stage values built by keyword for tests: frozen Lines and Invoices as group makes them, and resolved
invoices as the pre-flight makes them (for tests of the posting stage without a pre-flight)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from importer.models import CellError, Invoice, Line, ResolvedInvoice, ResolvedLine
from importer.totals import invoice_cost


def line(
    row: int = 2,
    item: str = "WID-001",
    quantity: Decimal | str | int = 1,
    price: Decimal | str | None = None,
    *,
    discount: Decimal | str | None = None,
    tax1: str | None = None,
    tax2: str | None = None,
    description: str | None = None,
) -> Line:
    """A line as the file gives it (``price`` None: the catalogue's)."""
    return Line(
        row=row,
        values={
            "item": item,
            "quantity": Decimal(quantity),
            "price": None if price is None else Decimal(price),
            "discount": None if discount is None else Decimal(discount),
            "tax1": tax1,
            "tax2": tax2,
            "line_description": description,
        },
    )


INVOICE_DEFAULTS: dict[str, Any] = {
    "issue_date": date(2026, 6, 1),
    "due_date": date(2026, 7, 1),
    "currency": "EUR",
    "terms": "Net 30",
}


def invoice(
    number: str,
    lines: Sequence[Line],
    *,
    errors: Iterable[CellError] = (),
    total: Decimal | None = None,
    **values: Any,
) -> Invoice:
    """An invoice of ``lines`` (rows taken from them) with invoice-level ``values`` by canonical column
    name over :data:`INVOICE_DEFAULTS` (a value given as None stays blank)."""
    return Invoice(
        number=number,
        rows=tuple(line.row for line in lines),
        lines=tuple(lines),
        values={**INVOICE_DEFAULTS, **values},
        errors=tuple(errors),
        total=total,
    )


def resolved(
    source: Invoice,
    *,
    contact_id: int = 1,
    consignee_id: int | None = None,
    item_ids: Sequence[int] | None = None,
    tax_ids: Sequence[tuple[int, Decimal | None]] | None = None,
    currency: str | None = None,
    language: str | None = None,
    terms: str | None = None,
) -> ResolvedInvoice:
    """``source`` as the pre-flight would resolve it: each line's item ID (``item_ids``, default 1), its
    price (the file's), ``tax_ids``: (tax1 ID, its rate) per line (default: none); total computed."""
    lines = tuple(
        ResolvedLine(
            line=line,
            item_id=(item_ids or [1] * len(source.lines))[n],
            price=line.price if line.price is not None else Decimal(0),
            tax1_id=tax_ids[n][0] if tax_ids else 0,
            tax1_rate=tax_ids[n][1] if tax_ids else None,
        )
        for n, line in enumerate(source.lines)
    )
    return ResolvedInvoice(
        invoice=source,
        contact_id=contact_id,
        consignee_id=consignee_id,
        currency=currency or str(source.currency).upper(),
        language=language or source.language,
        terms=terms or str(source.terms),
        lines=lines,
        total=invoice_cost(lines),
    )
