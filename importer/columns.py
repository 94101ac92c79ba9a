"""The input columns of the product contract: canonical names, aliases, kinds and documentation.

This table is the single source of truth for header mapping, parsing, the template workbook
and the documentation sheet.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"  # free text or an identifier kept exactly as written (leading zeros kept)
    REF = "ref"  # a reference resolved against the CRM (ID, e-mail, name, SKU ...)
    DATE = "date"
    NUMBER = "number"  # a decimal amount
    INTEGER = "integer"  # a CRM record ID


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    required: bool
    invoice_level: bool
    aliases: tuple[str, ...] = ()
    doc: str = ""
    example: str = ""


COLUMNS: tuple[Column, ...] = (
    Column(
        "invoice_number",
        Kind.TEXT,
        True,
        True,
        ("number", "invoice no", "invoice #", "invoice"),
        "The invoice number. Rows with the same number form one invoice. Kept as text (leading zeros kept). "
        "Numbers differing only in case are the same number to the CRM.",
        "INV-2026-0001",
    ),
    Column(
        "issue_date",
        Kind.DATE,
        True,
        True,
        ("date", "invoice date"),
        "Issue date: a date cell, yyyy-mm-dd, dd.mm.yyyy, dd/mm/yyyy or mm/dd/yyyy.",
        "2026-06-01",
    ),
    Column(
        "due_date",
        Kind.DATE,
        True,
        True,
        ("due", "payment due"),
        "Due date, not before the issue date.",
        "2026-07-01",
    ),
    Column(
        "contact",
        Kind.REF,
        True,
        True,
        ("customer", "client", "contact id", "contact email"),
        "The customer: a CRM contact ID, the e-mail address of a contact, or its exact display name.",
        "billing@acme.example",
    ),
    Column(
        "consignee",
        Kind.REF,
        False,
        True,
        ("ship to", "consignee id"),
        "Who receives the goods, resolved like contact. Blank: none.",
        "",
    ),
    Column(
        "currency",
        Kind.TEXT,
        True,
        True,
        (),
        "ISO currency code from the CRM's list (EUR, USD, GBP ...). "
        "Required unless the mapping sets a default.",
        "EUR",
    ),
    Column(
        "exchange_rate",
        Kind.NUMBER,
        False,
        True,
        ("rate", "fx rate"),
        "Exchange rate, greater than 0. Blank: 1.",
        "1",
    ),
    Column(
        "language",
        Kind.TEXT,
        False,
        True,
        (),
        "Invoice language, a culture name such as en-US or de-DE. Blank: en-US (or the mapping's default).",
        "en-US",
    ),
    Column(
        "template_type",
        Kind.TEXT,
        False,
        True,
        ("template",),
        "Invoice template: Eur or Rus (or 0 / 1). Blank: Eur.",
        "Eur",
    ),
    Column(
        "purchase_order_number",
        Kind.TEXT,
        False,
        True,
        ("po", "po number", "purchase order"),
        "The customer's purchase order number (text).",
        "PO-7781",
    ),
    Column(
        "terms",
        Kind.TEXT,
        False,
        True,
        ("payment terms",),
        "Payment terms. Blank: the CRM's default invoice terms.",
        "Net 30",
    ),
    Column(
        "description", Kind.TEXT, False, True, ("notes", "invoice description"), "A note on the invoice.", ""
    ),
    Column(
        "deal_id",
        Kind.INTEGER,
        False,
        True,
        ("deal", "opportunity id"),
        "A CRM deal (opportunity) ID; the contact must be a member of the deal.",
        "",
    ),
    Column(
        "billing_address_id",
        Kind.INTEGER,
        False,
        True,
        (),
        "ID of one of the contact's billing addresses in the CRM.",
        "",
    ),
    Column(
        "delivery_address_id",
        Kind.INTEGER,
        False,
        True,
        (),
        "ID of one of the consignee's postal addresses in the CRM (needs a consignee).",
        "",
    ),
    Column(
        "item",
        Kind.REF,
        True,
        False,
        ("product", "sku", "item id"),
        "The product: a CRM item ID, its SKU, or its exact title.",
        "WID-001",
    ),
    Column(
        "line_description",
        Kind.TEXT,
        False,
        False,
        ("line description", "item description"),
        "Text of the invoice line.",
        "Blue widgets",
    ),
    Column("quantity", Kind.NUMBER, True, False, ("qty",), "Quantity, 0 or more, at most 2 decimals.", "100"),
    Column(
        "price",
        Kind.NUMBER,
        False,
        False,
        ("unit price",),
        "Unit price, 0 or more, at most 2 decimals. Blank: the item's catalogue price.",
        "7.70",
    ),
    Column(
        "discount",
        Kind.NUMBER,
        False,
        False,
        ("discount %", "disc"),
        "Discount in percent, 0 to 100. Blank: 0.",
        "25",
    ),
    Column(
        "tax1",
        Kind.REF,
        False,
        False,
        ("tax", "tax 1", "vat"),
        "First tax: a CRM tax ID or the tax's name. Blank: none.",
        "VAT 20%",
    ),
    Column(
        "tax2",
        Kind.REF,
        False,
        False,
        ("tax 2",),
        "Second tax, applied beside the first on the discounted amount.",
        "",
    ),
    Column(
        "invoice_total",
        Kind.NUMBER,
        False,
        True,
        ("total", "expected total"),
        "Optional: the total you expect. Not sent; compared to the cent with the total the CRM computes.",
        "",
    ),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
CANONICAL: tuple[str, ...] = tuple(c.name for c in COLUMNS)
REQUIRED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
INVOICE_LEVEL: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.invoice_level)
LINE_LEVEL: tuple[str, ...] = tuple(c.name for c in COLUMNS if not c.invoice_level)

# Columns a results workbook adds to the Rows sheet. When such a sheet is fed back as input these
# are not input data: the loader drops them and the writer adds fresh ones.
RESULT_COLUMNS: tuple[str, ...] = ("row", "status", "crm_id", "error")

_PUNCT = re.compile(r"[\s_\W]+", re.UNICODE)


def normalize_header(header: str) -> str:
    """Header key for matching: case, spaces, underscores and punctuation ignored."""
    return _PUNCT.sub("", str(header)).casefold()


def alias_index() -> dict[str, str]:
    """normalized header -> canonical column, from canonical names and aliases."""
    index: dict[str, str] = {}
    for column in COLUMNS:
        for name in (column.name, *column.aliases):
            index.setdefault(normalize_header(name), column.name)
    return index
