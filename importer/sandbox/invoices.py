"""Invoices: the create rule in the contract's order, and the read, filter and delete routes."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from importer.crm_constants import CURRENCIES, CURRENCY_CODES, LANGUAGE_BY_KEY
from importer.sandbox.dates import format_api_date, now_stored, stored_date
from importer.sandbox.store import Row, Store, number_key
from importer.sandbox.users import (
    ADMIN_USER,
    User,
    can_delete_invoice,
    can_edit_invoice,
    can_see_contact,
    can_see_invoice,
    user_wrapper,
)
from importer.sandbox.values import BadArgument, CostLine, invoice_cost, stored2, to_decimal, to_int, to_text
from importer.sandbox.wrappers import (
    ADDRESS_TYPE,
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


def _demand_access(store: Store, contact_id: int, user: User) -> None:
    """An existing contact (else 400) that the caller may see (else 403 Access Denied, as the server's
    SecurityException)."""
    contact = store.get("contact", contact_id) if contact_id > 0 else None
    _require(contact is not None)
    if contact is not None and not can_see_contact(user, contact):
        raise PermissionError()


def validate_lines(store: Store, draft: InvoiceDraft) -> None:
    """Step 1 of the contract's order: at least one line; each line's fields; the item and the taxes exist."""
    _require(len(draft.lines) > 0)
    for line in draft.lines:
        _require(line.item_id > 0 and line.tax1_id >= 0 and line.tax2_id >= 0)
        _require(line.quantity >= 0 and line.price >= 0 and 0 <= line.discount <= 100)
    for line in draft.lines:
        _require(store.get("item", line.item_id) is not None)
        for tax_id in (line.tax1_id, line.tax2_id):
            if tax_id > 0:
                _require(store.get("tax", tax_id) is not None)


def validate_invoice(
    store: Store, draft: InvoiceDraft, user: User = ADMIN_USER, *, lines: bool = True
) -> None:
    """Every rule but the number's, in the contract's order ("Validation order", steps 1 to 7); ``lines``
    False when the caller has checked them already (``PUT invoice/{id}`` checks them before the invoice)."""
    if lines:
        validate_lines(store, draft)
    _require(draft.issue_date is not None and draft.due_date is not None)
    _require(draft.contact_id > 0 and bool(draft.currency) and draft.exchange_rate > 0 and bool(draft.terms))
    _demand_access(store, draft.contact_id, user)
    if draft.consignee_id not in (0, draft.contact_id):
        _demand_access(store, draft.consignee_id, user)
    if draft.entity_id != 0:
        _require(store.get("deal", draft.entity_id) is not None)
        member = store.one(
            "SELECT 1 AS found FROM deal_member WHERE deal_id = ? AND contact_id = ?",
            (draft.entity_id, draft.contact_id),
        )
        _require(member is not None)
    _require((draft.currency or "").upper() in CURRENCY_CODES)
    if draft.billing_address_id > 0:
        _require(_is_address(store, draft.billing_address_id, draft.contact_id, BILLING))
    if draft.delivery_address_id > 0:
        _require(_is_address(store, draft.delivery_address_id, draft.consignee_id, POSTAL))


def number_exists(store: Store, number: str) -> bool:
    return store.one("SELECT 1 AS found FROM invoice WHERE number_key = ?", (number_key(number),)) is not None


def _invoice_values(draft: InvoiceDraft) -> dict[str, Any]:
    assert draft.issue_date is not None and draft.due_date is not None
    return {
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
        "exchange_rate": str(stored2(draft.exchange_rate)),
        "purchase_order_number": draft.purchase_order_number or "",
        "terms": draft.terms,
        "description": draft.description,
    }


def _insert_invoice(store: Store, draft: InvoiceDraft, user: User) -> int:
    assert draft.number is not None
    values = {"number": draft.number, "number_key": number_key(draft.number), "status": DRAFT}
    values |= _invoice_values(draft) | {"create_on": now_stored(), "create_by": user.id}
    invoice_id = store.insert("invoice", values)
    _insert_lines(store, invoice_id, draft)
    return invoice_id


def _insert_lines(store: Store, invoice_id: int, draft: InvoiceDraft) -> None:
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
                "quantity": str(stored2(line.quantity)),
                "price": str(stored2(line.price)),
                "discount": str(stored2(line.discount)),
            },
        )


# a .NET culture name: a language of 2-3 letters and optional subtags (script, region, variant)
_CULTURE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


def _check_language(language: str | None) -> None:
    """Looked up only when non-empty ("" takes the portal's culture); any well-formed culture name passes."""
    if not language:
        return
    if language.lower() not in LANGUAGE_BY_KEY and not _CULTURE.match(language):
        raise CultureNotFound(
            f"Culture is not supported. (Parameter 'name')\n{language} is an invalid culture identifier."
        )


class InvoiceNotEditable(LookupError):
    """``PUT invoice/{id}`` of an invoice that is absent, not a Draft, or not the caller's: 404 Not found."""


class NullLanguage(Exception):
    """A missing (null) language: the server fails with 500 before anything is saved."""

    def __init__(self) -> None:
        super().__init__("Value cannot be null. (Parameter 'name')")


async def create_invoice(
    store: Store, body: dict[str, Any], racy: bool = False, user: User = ADMIN_USER
) -> int:
    """Create an invoice as the server does, in the contract's validation order; return its ID, or raise
    BadArgument / DateFormatError, PermissionError (403) for a contact or consignee the caller may not see,
    NullLanguage (500) or CultureNotFound (400, after the save).

    By default the number check and the insert form one transaction. With ``racy`` they are apart, with a
    pause between them, so two concurrent creates of one number can both succeed, as on the real server.
    """
    draft = bind_invoice(body)
    validate_invoice(store, draft, user)
    _require(bool(draft.number))
    assert draft.number is not None
    if racy:
        _require(not number_exists(store, draft.number))
        if draft.language is None:
            raise NullLanguage()
        await asyncio.sleep(RACE_WINDOW_S)
        with store.transaction():
            invoice_id = _insert_invoice(store, draft, user)
    else:
        with store.transaction():
            _require(not number_exists(store, draft.number))
            if draft.language is None:
                raise NullLanguage()
            invoice_id = _insert_invoice(store, draft, user)
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


def invoice_wrapper(
    store: Store,
    row: Row,
    thin: bool = False,
    with_lines: bool = True,
    user: User = ADMIN_USER,
    cost: bool = True,
) -> dict[str, Any]:
    """The invoice; ``thin`` is the by-number shape (``contact``, ``consignee``, ``entity`` and
    ``invoiceLines`` null, ``cost`` 0); ``with_lines`` False is the list shape (no ``invoiceLines`` key);
    ``cost`` False is the answer of a delete (cost 0)."""
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
        "createBy": user_wrapper(row.get("create_by") or ""),
        "cost": number(_cost(store, row["id"])) if cost and not thin else 0.0,
        "canEdit": can_edit_invoice(user, row),
        "canDelete": can_delete_invoice(user, row),
    }
    if thin:
        result["invoiceLines"] = None
    elif with_lines:
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


# --- the lifecycle: update, status changes, the sample

SENT, REJECTED, PAID, ARCHIVED = 2, 3, 4, 5
ALLOWED_MOVES = frozenset({(DRAFT, SENT), (SENT, PAID), (SENT, REJECTED), (REJECTED, DRAFT), (PAID, SENT)})
_STATUS_WORDS = {"draft": DRAFT, "sent": SENT, "billed": SENT, "rejected": REJECTED, "paid": PAID}
_STATUS_WORDS |= {"archived": ARCHIVED}


def status_of(value: str) -> int:
    """A status of the path: its name in any case, its number, or the title ``Billed``; else 400."""
    text = value.strip().lower()
    if text.isdigit() and int(text) in INVOICE_STATUSES:
        return int(text)
    if text in _STATUS_WORDS:
        return _STATUS_WORDS[text]
    raise BadArgument()


def update_invoice(store: Store, invoice_id: int, body: dict[str, Any], user: User) -> int:
    """``PUT invoice/{id}`` in the server's order: the lines (400); the invoice absent, not Draft, or the
    caller neither administrator nor creator (404); then the create's rules (no number). Every field is
    replaced (an omitted one reset), the lines deleted and made anew."""
    draft = bind_invoice({key: value for key, value in body.items() if key.lower() != "number"})
    validate_lines(store, draft)
    row = store.get("invoice", invoice_id)
    if row is None or not can_edit_invoice(user, row):
        raise InvoiceNotEditable()
    validate_invoice(store, draft, user, lines=False)
    with store.transaction():
        values = _invoice_values(draft)
        names = ", ".join(f"{name} = ?" for name in values)
        store.execute(f"UPDATE invoice SET {names} WHERE id = ?", (*values.values(), invoice_id))
        store.execute("DELETE FROM invoice_line WHERE invoice_id = ?", (invoice_id,))
        _insert_lines(store, invoice_id, draft)
    _check_language(draft.language)
    return invoice_id


def change_status(store: Store, ids: list[int], status: int, user: User) -> tuple[list[Row], list[Row]]:
    """``PUT invoice/status/{status}``: the visible invoices among ``ids`` (others dropped), each moved when
    the move is allowed (else silently left); Draft→Sent takes the lines' quantities off the stock of tracked
    items, Sent→Rejected puts them back. Returns the invoices (as they are now) and the items changed."""
    changed_items: dict[int, Row] = {}
    rows: list[Row] = []
    with store.transaction():
        for invoice_id in dict.fromkeys(ids):
            row = store.get("invoice", invoice_id)
            if row is None or not can_see_invoice(store, user, row):
                continue
            if (row["status"], status) in ALLOWED_MOVES:
                store.execute("UPDATE invoice SET status = ? WHERE id = ?", (status, invoice_id))
                sign = -1 if (row["status"], status) == (DRAFT, SENT) else 1 if status == REJECTED else 0
                if sign:
                    changed_items |= _move_stock(store, invoice_id, sign)
            rows.append(store.get("invoice", invoice_id) or row)
    return rows, list(changed_items.values())


def _move_stock(store: Store, invoice_id: int, sign: int) -> dict[int, Row]:
    changed: dict[int, Row] = {}
    lines = store.rows("SELECT item_id, quantity FROM invoice_line WHERE invoice_id = ?", (invoice_id,))
    for line in lines:
        item = store.get("item", line["item_id"])
        if item is None or not item["track_inventory"]:
            continue
        stock = Decimal(item["stock_quantity"]) + sign * Decimal(line["quantity"])
        store.execute("UPDATE item SET stock_quantity = ? WHERE id = ?", (str(stock), item["id"]))
        changed[item["id"]] = store.get("item", item["id"]) or item
    return changed


def sample(store: Store) -> dict[str, Any]:
    """``GET invoice/sample``: a template invoice; ``number`` the next automatic number (derived from the last
    invoice created, not reserved), or "" when automatic numbering is off."""
    now = datetime.now(UTC)
    number_text = ""
    if store.setting("autogenerated") == "true":
        prefix = store.setting("prefix")
        last = store.one("SELECT number FROM invoice ORDER BY id DESC LIMIT 1")
        digits = re.search(r"(\d+)$", last["number"]) if last else None
        start = store.setting("number", "1")
        width = len(digits.group(1)) if digits else len(start)
        value = int(digits.group(1)) + 1 if digits else int(start or "1")
        number_text = f"{prefix}{value:0{width}d}"
    code = store.setting("defaultCurrency", "EUR")
    currency = next((c for c in CURRENCIES if c.abbreviation == code), None)
    return {
        "id": 0,
        "status": {"id": DRAFT, "title": INVOICE_STATUSES[DRAFT]},
        "number": number_text,
        "issueDate": format_api_date(now),
        "templateType": 0,
        "contact": None,
        "consignee": None,
        "entity": None,
        "dueDate": format_api_date(now + timedelta(days=30)),
        "language": "",
        "currency": currency_wrapper(currency) if currency else None,
        "exchangeRate": 1.0,
        "purchaseOrderNumber": "",
        "terms": store.setting("terms"),
        "description": "",
        "fileID": 0,
        "createOn": format_api_date(now),
        "createBy": None,
        "cost": 0.0,
        "canEdit": True,
        "canDelete": True,
        "invoiceLines": [
            {
                "id": 0,
                "invoiceID": 0,
                "invoiceItemID": 0,
                "invoiceTax1ID": 0,
                "invoiceTax2ID": 0,
                "sortOrder": 0,
                "description": "",
                "quantity": 1.0,
                "price": 0.0,
                "discount": 0.0,
            }
        ],
    }
