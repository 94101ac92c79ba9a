"""The body of ``POST invoice`` (and later ``PUT invoice/{id}``) for a resolved invoice.

The body is what the CRM stores: amounts as 2-decimal text, dates as ``yyyy-mm-dd``, references as IDs.
``content_hash`` fingerprints a body, so the journal can tell whether the file changed since an import.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from importer.models import ResolvedInvoice, ResolvedLine

CENT = Decimal("0.01")
SENT_SUMMARY_LIMIT = 1500


def decimal_text(value: Decimal) -> str:
    """An amount as the decimal string the CRM stores: 2 decimals, no exponent (``7.7`` -> ``"7.70"``)."""
    return format(value.quantize(CENT, rounding=ROUND_HALF_EVEN), "f")


def _date_text(value: date | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d")


def _line_payload(line: ResolvedLine) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "invoiceItemID": line.item_id,
        "invoiceTax1ID": line.tax1_id,
        "invoiceTax2ID": line.tax2_id,
        "quantity": decimal_text(line.line.quantity),
        "price": decimal_text(line.price),
        "discount": decimal_text(line.line.discount),
    }
    if line.line.description:
        payload["description"] = line.line.description
    return payload


def build_payload(resolved: ResolvedInvoice) -> dict[str, Any]:
    """The exact JSON body of ``POST invoice`` for a resolved invoice."""
    invoice = resolved.invoice
    payload: dict[str, Any] = {
        "number": invoice.number,
        "issueDate": _date_text(invoice.issue_date),
        "dueDate": _date_text(invoice.due_date),
        "contactId": resolved.contact_id,
        "consigneeId": resolved.consignee_id or 0,
        "entityId": invoice.deal_id or 0,
        "billingAddressID": invoice.billing_address_id or 0,
        "deliveryAddressID": invoice.delivery_address_id or 0,
        "language": resolved.language,
        "currency": resolved.currency,
        "exchangeRate": decimal_text(invoice.exchange_rate),
        "terms": resolved.terms,
        "templateType": invoice.template_type,
        "invoiceLines": [_line_payload(line) for line in resolved.lines],
    }
    if invoice.value("purchase_order_number"):
        payload["purchaseOrderNumber"] = invoice.value("purchase_order_number")
    if invoice.value("description"):
        payload["description"] = invoice.value("description")
    return payload


def content_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a body (sorted keys, no spaces)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def describe_sent(payload: Mapping[str, Any]) -> str:
    """What was sent, for a failure message (shortened if very long)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= SENT_SUMMARY_LIMIT else text[:SENT_SUMMARY_LIMIT] + " …"
