"""Invoices: the create rule in the contract's order, and the read, filter and delete routes."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from importer.crm_constants import CURRENCIES, CURRENCY_CODES, LANGUAGE_BY_KEY
from importer.sandbox.dates import now_stored, stored_date
from importer.sandbox.store import Row, Store, number_key
from importer.sandbox.values import BadArgument, CostLine, invoice_cost, round2, to_decimal, to_int, to_text
from importer.sandbox.wrappers import (
    ADDRESS_TYPE,
    ADMIN,
    INVOICE_STATUSES,
    contact_base,
    currency_wrapper,
    line_wrapper,
    number,
)

BILLING, POSTAL = 3, 1
DRAFT = 1
RACE_WINDOW_S = 0.05  # with racy_numbers, the pause between the number check and the insert


class CultureNotFound(BadArgument):
    """An unknown language, found after the invoice is saved.

    The server raises .NET's CultureNotFoundException (or ArgumentNullException for a missing language) while
    finishing the invoice; both derive from ArgumentException, which the API maps to 400 with the exception's
    own message. So the sandbox answers 400 with that message, and the invoice stays saved (half-created).
    """


@dataclass
class LineDraft:
    item_id: int
    tax1_id: int
    tax2_id: int
    quantity: Decimal
    price: Decimal
    discount: Decimal
    description: str | None


@dataclass
class InvoiceDraft:
    number: str | None
    issue_date: str | None
    due_date: str | None
    template_type: int
    contact_id: int
    consignee_id: int
    entity_id: int
    billing_address_id: int
    delivery_address_id: int
    language: str | None
    currency: str | None
    exchange_rate: Decimal
    purchase_order_number: str | None
    terms: str | None
    description: str | None
    lines: list[LineDraft] = field(default_factory=list)


def _line_value(line: dict[str, Any], name: str) -> Any:
    """A line field, read only under its exact name, with a capital first letter, or all lower case."""
    for spelling in (name, name[0].upper() + name[1:], name.lower()):
        if spelling in line:
            return line[spelling]
    return None


def _bind_line(line: Any) -> LineDraft:
    if not isinstance(line, dict):
        raise BadArgument()
    return LineDraft(
        item_id=to_int(_line_value(line, "invoiceItemID")),
        tax1_id=to_int(_line_value(line, "invoiceTax1ID")),
        tax2_id=to_int(_line_value(line, "invoiceTax2ID")),
        quantity=to_decimal(_line_value(line, "quantity")),
        price=to_decimal(_line_value(line, "price")),
        discount=to_decimal(_line_value(line, "discount")),
        description=to_text(_line_value(line, "description")),
    )


def _bind_date(value: Any) -> str | None:
    text = to_text(value)
    return None if text is None else stored_date(text)


def bind_invoice(body: dict[str, Any]) -> InvoiceDraft:
    """Read the request body as the server binds it (top-level names case-insensitive)."""
    args = {key.lower(): value for key, value in body.items()}
    lines = args.get("invoicelines")
    if lines is not None and not isinstance(lines, list):
        raise BadArgument()
    return InvoiceDraft(
        number=to_text(args.get("number")),
        issue_date=_bind_date(args.get("issuedate")),
        due_date=_bind_date(args.get("duedate")),
        template_type=to_int(args.get("templatetype")),
        contact_id=to_int(args.get("contactid")),
        consignee_id=to_int(args.get("consigneeid")),
        entity_id=to_int(args.get("entityid")),
        billing_address_id=to_int(args.get("billingaddressid")),
        delivery_address_id=to_int(args.get("deliveryaddressid")),
        language=to_text(args.get("language")),
        currency=to_text(args.get("currency")),
        exchange_rate=to_decimal(args.get("exchangerate")),
        purchase_order_number=to_text(args.get("purchaseordernumber")),
        terms=to_text(args.get("terms")),
        description=to_text(args.get("description")),
        lines=[_bind_line(line) for line in lines or []],
    )


def _require(condition: bool) -> None:
    if not condition:
        raise BadArgument()


def _is_address(store: Store, address_id: int, contact_id: int, category: int) -> bool:
    row = store.get("contact_info", address_id)
    return (
        row is not None
        and row["info_type"] == ADDRESS_TYPE
        and row["category"] == category
        and row["contact_id"] == contact_id
    )


def _demand_access(store: Store, contact_id: int, admin: bool) -> None:
    """An existing contact (else 400) that the caller may see (else 403 Access Denied, as the server's
    SecurityException): a private contact only the administrator may use."""
    contact = store.get("contact", contact_id) if contact_id > 0 else None
    _require(contact is not None)
    if contact is not None and contact["is_private"] and not admin:
        raise PermissionError()


def validate_invoice(store: Store, draft: InvoiceDraft, admin: bool = True) -> None:
    """Every rule except the number's uniqueness (checked with the insert), in the contract's order."""
    _require(bool(draft.number))
    _require(draft.issue_date is not None and draft.due_date is not None)
    _demand_access(store, draft.contact_id, admin)
    if draft.consignee_id not in (0, draft.contact_id):
        _demand_access(store, draft.consignee_id, admin)
    if draft.entity_id != 0:
        _require(store.get("deal", draft.entity_id) is not None)
        member = store.one(
            "SELECT 1 AS found FROM deal_member WHERE deal_id = ? AND contact_id = ?",
            (draft.entity_id, draft.contact_id),
        )
        _require(member is not None)
    if draft.billing_address_id > 0:
        _require(_is_address(store, draft.billing_address_id, draft.contact_id, BILLING))
    if draft.delivery_address_id > 0:
        _require(_is_address(store, draft.delivery_address_id, draft.consignee_id, POSTAL))
    _require(bool(draft.currency) and (draft.currency or "").upper() in CURRENCY_CODES)
    _require(draft.exchange_rate > 0)
    _require(bool(draft.terms))
    _require(len(draft.lines) > 0)
    for line in draft.lines:
        _validate_line(store, line)


def _validate_line(store: Store, line: LineDraft) -> None:
    _require(line.item_id > 0 and line.tax1_id >= 0 and line.tax2_id >= 0)
    _require(line.quantity >= 0 and line.price >= 0 and 0 <= line.discount <= 100)
    _require(store.get("item", line.item_id) is not None)
    for tax_id in (line.tax1_id, line.tax2_id):
        if tax_id > 0:
            _require(store.get("tax", tax_id) is not None)


def number_exists(store: Store, number: str) -> bool:
    return store.one("SELECT 1 AS found FROM invoice WHERE number_key = ?", (number_key(number),)) is not None


def _insert_invoice(store: Store, draft: InvoiceDraft) -> int:
    assert draft.number is not None and draft.issue_date is not None and draft.due_date is not None
    invoice_id = store.insert(
        "invoice",
        {
            "number": draft.number,
            "number_key": number_key(draft.number),
            "status": DRAFT,
            "issue_date": draft.issue_date,
            "due_date": draft.due_date,
            "template_type": draft.template_type,
            "contact_id": draft.contact_id,
            "consignee_id": draft.consignee_id,
            "entity_id": draft.entity_id,
            "billing_address_id": max(draft.billing_address_id, 0),
            "delivery_address_id": max(draft.delivery_address_id, 0),
            "language": draft.language,
            "currency": (draft.currency or "").upper(),
            "exchange_rate": str(round2(draft.exchange_rate)),
            "purchase_order_number": draft.purchase_order_number or "",
            "terms": draft.terms,
            "description": draft.description,
            "create_on": now_stored(),
        },
    )
    for position, line in enumerate(draft.lines):
        store.insert(
            "invoice_line",
            {
                "invoice_id": invoice_id,
                "item_id": line.item_id,
                "tax1_id": line.tax1_id,
                "tax2_id": line.tax2_id,
                "sort_order": position,
                "description": line.description,
                "quantity": str(round2(line.quantity)),
                "price": str(round2(line.price)),
                "discount": str(round2(line.discount)),
            },
        )
    return invoice_id


def _check_language(language: str | None) -> None:
    if language is None:
        raise CultureNotFound("Value cannot be null. (Parameter 'name')")
    if language.lower() not in LANGUAGE_BY_KEY:
        raise CultureNotFound(
            f"Culture is not supported. (Parameter 'name')\n{language} is an invalid culture identifier."
        )


async def create_invoice(store: Store, body: dict[str, Any], racy: bool = False, admin: bool = True) -> int:
    """Create an invoice as the server does; return its ID, or raise BadArgument / DateFormatError, or
    PermissionError when the contact or consignee is private and the caller not the administrator.

    By default the number check and the insert form one transaction. With ``racy`` they are apart, with a
    pause between them, so two concurrent creates of one number can both succeed, as on the real server.
    """
    draft = bind_invoice(body)
    validate_invoice(store, draft, admin)
    assert draft.number is not None
    if racy:
        _require(not number_exists(store, draft.number))
        await asyncio.sleep(RACE_WINDOW_S)
        with store.transaction():
            invoice_id = _insert_invoice(store, draft)
    else:
        with store.transaction():
            _require(not number_exists(store, draft.number))
            invoice_id = _insert_invoice(store, draft)
    _check_language(draft.language)
    return invoice_id


def _cost(store: Store, invoice_id: int) -> Decimal:
    rows = store.rows(
        "SELECT l.price, l.quantity, l.discount, t1.rate AS rate1, t2.rate AS rate2 FROM invoice_line l "
        "LEFT JOIN tax t1 ON t1.id = l.tax1_id LEFT JOIN tax t2 ON t2.id = l.tax2_id "
        "WHERE l.invoice_id = ? ORDER BY l.sort_order",
        (invoice_id,),
    )
    return invoice_cost(
        CostLine(
            price=Decimal(row["price"]),
            quantity=Decimal(row["quantity"]),
            discount=Decimal(row["discount"]),
            rate1=Decimal(row["rate1"]) if row["rate1"] is not None else None,
            rate2=Decimal(row["rate2"]) if row["rate2"] is not None else None,
        )
        for row in rows
    )


def _currency(code: str) -> dict[str, Any] | None:
    found = next((c for c in CURRENCIES if c.abbreviation == code), None)
    return currency_wrapper(found) if found else None


def _contact_or_none(store: Store, contact_id: int) -> dict[str, Any] | None:
    row = store.get("contact", contact_id) if contact_id else None
    return contact_base(row) if row else None


def _entity(store: Store, deal_id: int) -> dict[str, Any] | None:
    deal = store.get("deal", deal_id) if deal_id else None
    if deal is None:
        return None
    return {"entityType": "opportunity", "entityId": deal["id"], "entityTitle": deal["title"]}


def invoice_wrapper(store: Store, row: Row, thin: bool = False, with_lines: bool = True) -> dict[str, Any]:
    """The invoice; ``thin`` is the by-number shape (no contact, consignee, entity; cost 0)."""
    result: dict[str, Any] = {
        "id": row["id"],
        "status": {"id": row["status"], "title": INVOICE_STATUSES[row["status"]]},
        "number": row["number"],
        "issueDate": row["issue_date"],
        "templateType": row["template_type"],
        "contact": None if thin else _contact_or_none(store, row["contact_id"]),
        "consignee": None if thin else _contact_or_none(store, row["consignee_id"]),
        "entity": None if thin else _entity(store, row["entity_id"]),
        "dueDate": row["due_date"],
        "language": row["language"],
        "currency": _currency(row["currency"]),
        "exchangeRate": number(row["exchange_rate"]),
        "purchaseOrderNumber": row["purchase_order_number"],
        "terms": row["terms"],
        "description": row["description"],
        "fileID": 0,
        "createOn": row["create_on"],
        "createBy": ADMIN,
        "cost": 0.0 if thin else number(_cost(store, row["id"])),
        "canEdit": True,
        "canDelete": True,
    }
    if with_lines and not thin:
        lines = store.rows(
            "SELECT * FROM invoice_line WHERE invoice_id = ? ORDER BY sort_order", (row["id"],)
        )
        result["invoiceLines"] = [line_wrapper(line) for line in lines]
    return result


def get_invoice(store: Store, invoice_id: int) -> Row | None:
    return store.get("invoice", invoice_id)


def get_by_number(store: Store, number_text: str) -> Row | None:
    return store.one(
        "SELECT * FROM invoice WHERE number_key = ? ORDER BY id LIMIT 1", (number_key(number_text),)
    )


def delete_invoice(store: Store, invoice_id: int) -> None:
    with store.transaction():
        store.execute("DELETE FROM invoice_line WHERE invoice_id = ?", (invoice_id,))
        store.execute("DELETE FROM invoice WHERE id = ?", (invoice_id,))
