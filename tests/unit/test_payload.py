"""build_payload: the body of POST invoice, driven by the column declaration, byte for byte as before."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from importer.columns import COLUMNS
from importer.models import Invoice, Line, ResolvedInvoice, ResolvedLine
from importer.payload import build_payload, content_hash, decimal_text, describe_sent

D = Decimal


def resolved(
    invoice_values: dict[str, Any], *lines: tuple[dict[str, Any], dict[str, Any]]
) -> ResolvedInvoice:
    invoice = Invoice(
        number="INV-1",
        rows=tuple(range(2, 2 + len(lines))),
        lines=tuple(Line(row=2 + n, values=values) for n, (values, _) in enumerate(lines)),
        values={"invoice_number": "INV-1", **invoice_values},
    )
    return ResolvedInvoice(
        invoice=invoice,
        contact_id=11,
        consignee_id=None,
        currency="EUR",
        language="de-DE",
        terms="Net 30",
        lines=tuple(
            ResolvedLine(line=line, **extra) for line, (_, extra) in zip(invoice.lines, lines, strict=True)
        ),
        total=D("100.00"),
    )


FULL = resolved(
    {
        "issue_date": dt.date(2026, 6, 1),
        "due_date": dt.date(2026, 7, 1),
        "contact": "acme",
        "currency": "eur",
        "exchange_rate": D("1.1"),
        "language": "de-DE",
        "template_type": 1,
        "purchase_order_number": "PO-7",
        "terms": "Net 30",
        "description": "a note",
        "deal_id": 5,
        "billing_address_id": 6,
        "delivery_address_id": None,
        "invoice_total": D("999"),
    },
    (
        {"item": "W", "quantity": D("2"), "price": None, "discount": D("12.5"), "line_description": "Blue"},
        {"item_id": 3, "price": D("7.7"), "tax1_id": 4},
    ),
    ({"item": "X", "quantity": D("1.005")}, {"item_id": 9, "price": D("0")}),
)


def test_every_key_in_the_order_the_crm_body_has_always_had() -> None:
    body = build_payload(FULL)
    assert json.dumps(body) == json.dumps(
        {
            "number": "INV-1",
            "issueDate": "2026-06-01",
            "dueDate": "2026-07-01",
            "contactId": 11,
            "consigneeId": 0,
            "entityId": 5,
            "billingAddressID": 6,
            "deliveryAddressID": 0,
            "language": "de-DE",
            "currency": "EUR",
            "exchangeRate": "1.10",
            "terms": "Net 30",
            "templateType": 1,
            "invoiceLines": [
                {
                    "invoiceItemID": 3,
                    "invoiceTax1ID": 4,
                    "invoiceTax2ID": 0,
                    "quantity": "2.00",
                    "price": "7.70",
                    "discount": "12.50",
                    "description": "Blue",
                },
                {
                    "invoiceItemID": 9,
                    "invoiceTax1ID": 0,
                    "invoiceTax2ID": 0,
                    "quantity": "1.00",
                    "price": "0.00",
                    "discount": "0.00",
                },
            ],
            "purchaseOrderNumber": "PO-7",
            "description": "a note",
        }
    )


def test_blank_optional_values_take_the_built_in_defaults_or_are_left_out() -> None:
    body = build_payload(resolved({}, ({"item": "W"}, {"item_id": 1, "price": D(1)})))
    assert (body["exchangeRate"], body["templateType"], body["issueDate"]) == ("1.00", 0, "")
    assert "purchaseOrderNumber" not in body and "description" not in body
    assert body["invoiceLines"] == [
        {
            "invoiceItemID": 1,
            "invoiceTax1ID": 0,
            "invoiceTax2ID": 0,
            "quantity": "0.00",
            "price": "1.00",
            "discount": "0.00",
        }
    ]


def test_the_expected_total_and_the_status_are_never_sent() -> None:
    # the status is reached after the create, through PUT invoice/status/{status}
    assert [c.name for c in COLUMNS if c.payload is None] == ["invoice_total", "status"]
    assert "999" not in json.dumps(build_payload(FULL))


def test_hash_and_description_of_a_body() -> None:
    body = build_payload(FULL)
    assert content_hash(body) == content_hash(json.loads(json.dumps(body)))
    assert content_hash(body) != content_hash({**body, "terms": "Net 31"})
    assert describe_sent(body).startswith('{"number": "INV-1", "issueDate": "2026-06-01", ')
    assert describe_sent({"x": "y" * 2000}).endswith(" …") and len(describe_sent({"x": "y" * 2000})) == 1502


def test_decimal_text_rounds_half_even_to_cents() -> None:
    assert [decimal_text(D(v)) for v in ("7.7", "0.005", "0.015", "1E+3", "-1.234")] == [
        "7.70",
        "0.00",
        "0.02",
        "1000.00",
        "-1.23",
    ]
