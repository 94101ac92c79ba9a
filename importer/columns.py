"""The input columns of the product contract, each declared once.

A :class:`Column` says everything the importer knows about one input column: its canonical name and
aliases, its kind and level (invoice or line), whether it is required and its built-in default, how its
text is normalised, the checks its values must pass (each with its stable error code, a vectorised
predicate and the message a finance user reads), its documentation and template example, and where it
goes in the CRM's request body. Header mapping (importer.mapping), validation (importer.validate and the
pandera schemas in schemas/), grouping (importer.group), the template workbook (importer.template) and the
request body (importer.payload) are all driven from :data:`COLUMNS`: a new column is one entry here.

Rules spanning two columns live in schemas/invoices.py (``INVOICE_RULES``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

import pandas as pd

from importer.crm_constants import CURRENCIES, CURRENCY_CODES, LANGUAGE_BY_KEY, LANGUAGES, TEMPLATE_TYPES
from importer.models import CellError, CrmStatus


class Kind(StrEnum):
    TEXT = "text"  # free text or an identifier kept exactly as written (leading zeros kept)
    REF = "ref"  # a reference resolved against the CRM (ID, e-mail, name, SKU ...)
    DATE = "date"
    NUMBER = "number"  # a decimal amount
    INTEGER = "integer"  # a CRM record ID


class Level(StrEnum):
    INVOICE = "invoice"  # one value per invoice: continuation rows may leave it blank
    LINE = "line"  # one value per row


class Write(StrEnum):
    """How a value is written in the request body."""

    TEXT = "text"  # as is
    DATE = "date"  # yyyy-mm-dd
    AMOUNT = "amount"  # 2-decimal text (importer.payload.decimal_text); blank: 0.00
    ID = "id"  # a record ID; blank: 0
    INTEGER = "integer"  # a whole number


@dataclass(frozen=True)
class Payload:
    """Where a column goes in ``POST invoice``: the body's ``key`` (of the invoice, or of its line for a
    line-level column), how the value is written, where it comes from when the CRM resolved it (an
    attribute of ResolvedInvoice / ResolvedLine, e.g. ``contact_id``), and whether a blank value is left
    out. ``order`` places the key in the body (the CRM does not care; the journal's hash and the messages
    that show a body do): invoice keys before ``invoiceLines`` have orders below :data:`LINES_ORDER`."""

    key: str
    order: int
    write: Write = Write.TEXT
    resolved: str | None = None
    omit_blank: bool = False
    note: str = ""  # said beside the key on the template's Columns sheet


LINES_ORDER = 100  # the place of ``invoiceLines`` among the invoice's keys


@dataclass(frozen=True)
class Check:
    """A rule on one cell: ``passes`` takes a column of check values (numbers and IDs as float64, dates
    as datetime64, text as str) and says which pass; ``code`` is the CellError code; ``message`` the
    sentence shown when a cell fails."""

    code: str
    passes: Callable[[pd.Series], pd.Series]
    message: str


@dataclass(frozen=True)
class Column:
    """One input column. ``default`` is the built-in value of a blank cell (as text, read like a cell);
    ``normalize`` maps the distinct text values to the CRM's spelling (values it does not know are
    kept: a check then reports them); ``to_value`` turns a normalised text value into the typed value
    (for a TEXT column whose CRM value is not text); ``template`` holds the cells of the template's
    example invoice, one per row; ``choices`` the template's drop-down list; ``cell_format`` its number
    format there (None: by kind)."""

    name: str
    kind: Kind
    level: Level
    required: bool = False
    aliases: tuple[str, ...] = ()
    default: str | None = None
    normalize: Callable[[pd.Series], pd.Series] | None = None
    to_value: Callable[[Any], Any] | None = None
    checks: tuple[Check, ...] = ()
    required_message: str | None = None
    required_doc: str | None = None
    doc: str = ""
    example: str = ""
    template: tuple[Any, ...] = ()
    choices: tuple[str, ...] = ()
    cell_format: str | None = None
    payload: Payload | None = None
    crm_doc: str = ""  # what the Columns sheet says of a column that is not sent
    percent: bool = False  # a number that may end in %
    money: bool = False  # an amount that may carry a currency sign or code ($19.99, 1.234,50 €, EUR 100.00)

    @property
    def invoice_level(self) -> bool:
        return self.level is Level.INVOICE

    @property
    def label(self) -> str:
        """The name in a message: ``due date``."""
        return self.name.replace("_", " ")

    def message(self, code: str) -> str:
        """The one-line message for a failed check ``code`` (``required``: a blank required cell)."""
        if code == "required":
            if self.required_message is not None:
                return self.required_message
            hint = f" (e.g. {self.example})" if self.example else ""
            return f"The {self.label} is missing: fill it in{hint}."
        for check in self.checks:
            if check.code == code:
                return check.message
        return f"The {self.label} is not valid."


# --------------------------------------------------------------------------------------------- checks

MAX_AMOUNT = 99_999_999.99
MAX_ID = 2**31 - 1
AMOUNT_FORMAT = "#,##0.00"


def _at_most_two_decimals(values: pd.Series) -> pd.Series:
    cents = values * 100
    return (cents - cents.round()).abs() < 1e-3


def _decimals(label: str) -> Check:
    return Check(
        "decimals",
        _at_most_two_decimals,
        f"The {label} has more than 2 decimals: the CRM keeps 2 and would round it; round it yourself.",
    )


def amount_checks(label: str, range_message: str, *, positive: bool = False) -> tuple[Check, ...]:
    """An amount: 0 or more (above 0 when ``positive``), at most 99,999,999.99, at most 2 decimals."""
    in_range: Callable[[pd.Series], pd.Series] = (lambda s: s > 0) if positive else (lambda s: s >= 0)
    return (
        Check("range", in_range, range_message),
        Check(
            "too_large",
            lambda s: s <= MAX_AMOUNT,
            f"The {label} is too large: the CRM accepts at most 99,999,999.99.",
        ),
        _decimals(label),
    )


def id_checks(label: str) -> tuple[Check, ...]:
    """A CRM record ID: a positive 32-bit whole number."""
    return (
        Check(
            "range",
            lambda s: (s > 0) & (s <= MAX_ID),
            f"The {label} must be a positive whole number (a CRM ID).",
        ),
    )


def _one_of(allowed: frozenset[str] | tuple[str, ...]) -> Callable[[pd.Series], pd.Series]:
    return lambda s: s.isin(allowed)


# --------------------------------------------------------------------------------------------- normalise


def _upper(values: pd.Series) -> pd.Series:
    return values.str.upper()


def _known_language(values: pd.Series) -> pd.Series:
    known = values.str.replace("_", "-", regex=False).str.casefold().map(LANGUAGE_BY_KEY)
    return known.where(known.notna(), values)


_TEMPLATE_CODES: dict[str, str] = {key: str(code) for key, code in TEMPLATE_TYPES.items()}
_TEMPLATE_NUMBERS: dict[str, int] = {"0": 0, "1": 1}


def _template_code(values: pd.Series) -> pd.Series:
    code = values.str.casefold().map(_TEMPLATE_CODES)
    return code.where(code.notna(), values)


_STATUS_WORDS: dict[str, str] = {
    "draft": "Draft",
    "sent": "Sent",
    "billed": "Sent",  # the portal's English title of Sent
    "paid": "Paid",
    "rejected": "Rejected",
}
STATUS_CHOICES: tuple[str, ...] = ("Draft", "Sent", "Paid", "Rejected")
_STATUS_VALUES: dict[str, CrmStatus] = {title: CrmStatus[title.upper()] for title in STATUS_CHOICES}


def _status_word(values: pd.Series) -> pd.Series:
    word = values.str.strip().str.casefold().map(_STATUS_WORDS)
    return word.where(word.notna(), values)


# --------------------------------------------------------------------------------------------- the columns

COLUMNS: tuple[Column, ...] = (
    Column(
        "invoice_number",
        Kind.TEXT,
        Level.INVOICE,
        required=True,
        aliases=("number", "invoice no", "invoice #", "invoice"),
        required_message="This row has no invoice number, so it belongs to no invoice: fill it in.",
        doc="The invoice number. Rows with the same number form one invoice. Kept as text (leading zeros "
        "kept). Numbers differing only in case are the same number to the CRM.",
        example="INV-2026-0001",
        template=("INV-2026-0001", "INV-2026-0001"),
        payload=Payload("number", 0),
    ),
    Column(
        "issue_date",
        Kind.DATE,
        Level.INVOICE,
        required=True,
        aliases=("date", "invoice date"),
        doc="Issue date: a date cell, yyyy-mm-dd, dd.mm.yyyy, dd/mm/yyyy or mm/dd/yyyy.",
        example="2026-06-01",
        template=(date(2026, 6, 1),),
        payload=Payload("issueDate", 1, Write.DATE),
    ),
    Column(
        "due_date",
        Kind.DATE,
        Level.INVOICE,
        required=True,
        aliases=("due", "payment due"),
        doc="Due date, not before the issue date.",
        example="2026-07-01",
        template=(date(2026, 7, 1),),
        payload=Payload("dueDate", 2, Write.DATE),
    ),
    Column(
        "contact",
        Kind.REF,
        Level.INVOICE,
        required=True,
        aliases=("customer", "client", "contact id", "contact email"),
        doc="The customer: a CRM contact ID, the e-mail address of a contact, or its exact display name.",
        example="billing@acme.example",
        template=("billing@acme.example",),
        payload=Payload("contactId", 3, Write.ID, resolved="contact_id"),
    ),
    Column(
        "consignee",
        Kind.REF,
        Level.INVOICE,
        aliases=("ship to", "consignee id"),
        doc="Who receives the goods, resolved like contact. Blank: none.",
        payload=Payload("consigneeId", 4, Write.ID, resolved="consignee_id"),
    ),
    Column(
        "currency",
        Kind.TEXT,
        Level.INVOICE,
        required=True,
        normalize=_upper,
        checks=(
            Check(
                "currency",
                _one_of(CURRENCY_CODES),
                "This currency is not in the CRM's list: use an ISO code such as EUR, USD or GBP.",
            ),
        ),
        required_message="The currency is missing: fill it in (e.g. EUR) or set a default currency under "
        "[defaults] in a --mapping file.",
        required_doc="yes, unless the mapping sets a default",
        doc="ISO currency code from the CRM's list (EUR, USD, GBP ...). "
        "Required unless the mapping sets a default.",
        example="EUR",
        template=("EUR",),
        choices=tuple(currency.abbreviation for currency in CURRENCIES),
        payload=Payload("currency", 9, resolved="currency"),
    ),
    Column(
        "exchange_rate",
        Kind.NUMBER,
        Level.INVOICE,
        aliases=("rate", "fx rate"),
        default="1",
        checks=amount_checks(
            "exchange rate",
            "The exchange rate must be greater than 0 (leave it blank for 1).",
            positive=True,
        ),
        doc="Exchange rate, greater than 0. Blank: 1.",
        example="1",
        template=(1,),
        payload=Payload("exchangeRate", 10, Write.AMOUNT),
    ),
    Column(
        "language",
        Kind.TEXT,
        Level.INVOICE,
        default="en-US",
        normalize=_known_language,
        checks=(
            Check(
                "language",
                _one_of(LANGUAGES),
                "This language is not one the CRM offers: use a culture name such as en-US, de-DE or fr-FR.",
            ),
        ),
        doc="Invoice language, a culture name such as en-US or de-DE. Blank: en-US (or the mapping's "
        "default).",
        example="en-US",
        template=("en-US",),
        choices=LANGUAGES,
        payload=Payload("language", 8, resolved="language"),
    ),
    Column(
        "template_type",
        Kind.TEXT,
        Level.INVOICE,
        aliases=("template",),
        default="0",
        normalize=_template_code,
        to_value=_TEMPLATE_NUMBERS.get,
        checks=(Check("template_type", _one_of(("0", "1")), "The template type must be Eur, Rus, 0 or 1."),),
        doc="Invoice template: Eur or Rus (or 0 / 1). Blank: Eur.",
        example="Eur",
        template=("Eur",),
        choices=("Eur", "Rus"),
        payload=Payload("templateType", 12, Write.INTEGER),
    ),
    Column(
        "purchase_order_number",
        Kind.TEXT,
        Level.INVOICE,
        aliases=("po", "po number", "purchase order"),
        doc="The customer's purchase order number (text).",
        example="PO-7781",
        template=("PO-7781",),
        payload=Payload("purchaseOrderNumber", LINES_ORDER + 1, omit_blank=True),
    ),
    Column(
        "terms",
        Kind.TEXT,
        Level.INVOICE,
        aliases=("payment terms",),
        doc="Payment terms. Blank: the CRM's default invoice terms.",
        example="Net 30",
        template=("Net 30",),
        payload=Payload("terms", 11, resolved="terms"),
    ),
    Column(
        "description",
        Kind.TEXT,
        Level.INVOICE,
        aliases=("notes", "invoice description"),
        doc="A note on the invoice.",
        payload=Payload("description", LINES_ORDER + 2, omit_blank=True),
    ),
    Column(
        "deal_id",
        Kind.INTEGER,
        Level.INVOICE,
        aliases=("deal", "opportunity id"),
        checks=id_checks("deal id"),
        doc="A CRM deal (opportunity) ID; the contact must be a member of the deal.",
        payload=Payload("entityId", 5, Write.ID, note="a deal"),
    ),
    Column(
        "billing_address_id",
        Kind.INTEGER,
        Level.INVOICE,
        checks=id_checks("billing address id"),
        doc="ID of one of the contact's billing addresses in the CRM.",
        payload=Payload("billingAddressID", 6, Write.ID),
    ),
    Column(
        "delivery_address_id",
        Kind.INTEGER,
        Level.INVOICE,
        checks=id_checks("delivery address id"),
        doc="ID of one of the consignee's postal addresses in the CRM (needs a consignee).",
        payload=Payload("deliveryAddressID", 7, Write.ID),
    ),
    Column(
        "item",
        Kind.REF,
        Level.LINE,
        required=True,
        aliases=("product", "sku", "item id"),
        doc="The product: a CRM item ID, its SKU, or its exact title.",
        example="WID-001",
        template=("WID-001", "SRV-HOUR"),
        payload=Payload("invoiceItemID", 0, Write.ID, resolved="item_id"),
    ),
    Column(
        "line_description",
        Kind.TEXT,
        Level.LINE,
        aliases=("line description", "item description"),
        doc="Text of the invoice line.",
        example="Blue widgets",
        template=("Blue widgets", "Installation, hours"),
        payload=Payload("description", 6, omit_blank=True),
    ),
    Column(
        "quantity",
        Kind.NUMBER,
        Level.LINE,
        required=True,
        aliases=("qty",),
        checks=amount_checks("quantity", "The quantity cannot be negative: enter 0 or more."),
        doc="Quantity, 0 or more, at most 2 decimals.",
        example="100",
        template=(100, 2),
        payload=Payload("quantity", 3, Write.AMOUNT),
    ),
    Column(
        "price",
        Kind.NUMBER,
        Level.LINE,
        aliases=("unit price",),
        checks=amount_checks(
            "price",
            "The price cannot be negative: enter 0 or more, or leave it blank for the catalogue price.",
        ),
        money=True,
        doc="Unit price, 0 or more, at most 2 decimals. Blank: the item's catalogue price.",
        example="7.70",
        template=(Decimal("7.70"), Decimal("120.00")),
        cell_format=AMOUNT_FORMAT,
        payload=Payload("price", 4, Write.AMOUNT, resolved="price"),
    ),
    Column(
        "discount",
        Kind.NUMBER,
        Level.LINE,
        aliases=("discount %", "disc"),
        default="0",
        percent=True,
        checks=(
            Check("range", lambda s: (s >= 0) & (s <= 100), "The discount is a percentage from 0 to 100."),
            _decimals("discount"),
        ),
        doc="Discount in percent, 0 to 100. Blank: 0.",
        example="25",
        template=(25,),
        payload=Payload("discount", 5, Write.AMOUNT),
    ),
    Column(
        "tax1",
        Kind.REF,
        Level.LINE,
        aliases=("tax", "tax 1", "vat"),
        doc="First tax: a CRM tax ID or the tax's name. Blank: none.",
        example="VAT 20%",
        template=("VAT 20%", "VAT 20%"),
        payload=Payload("invoiceTax1ID", 1, Write.ID, resolved="tax1_id"),
    ),
    Column(
        "tax2",
        Kind.REF,
        Level.LINE,
        aliases=("tax 2",),
        doc="Second tax, applied beside the first on the discounted amount.",
        payload=Payload("invoiceTax2ID", 2, Write.ID, resolved="tax2_id"),
    ),
    Column(
        "invoice_total",
        Kind.NUMBER,
        Level.INVOICE,
        aliases=("total", "expected total"),
        checks=amount_checks("invoice total", "The expected total cannot be negative."),
        money=True,
        doc="Optional: the total you expect. Not sent; compared to the cent with the total the CRM computes.",
        template=(Decimal("981.00"),),  # 100 x 7.70 less 25% = 577.50 +20% VAT; 2 x 120.00 +20% VAT
        cell_format=AMOUNT_FORMAT,
        crm_doc="(not sent: checked against the CRM's total)",
    ),
    Column(
        "status",
        Kind.TEXT,
        Level.INVOICE,
        aliases=("invoice status", "state"),
        default="Draft",
        normalize=_status_word,
        to_value=_STATUS_VALUES.get,
        checks=(
            Check(
                "status",
                _one_of(STATUS_CHOICES),
                "The status must be Draft, Sent (or Billed), Paid or Rejected (leave it blank for Draft).",
            ),
        ),
        doc="The status the invoice ends at: Draft, Sent (Billed), Paid or Rejected. Blank: Draft. The "
        "CRM creates every invoice as Draft; the importer then moves it along the CRM's allowed moves "
        "(Draft → Sent → Paid, Sent → Rejected). Moving to Sent takes the lines' quantities off the stock "
        "of items with inventory tracking.",
        example="Paid",
        template=("Draft",),
        choices=STATUS_CHOICES,
        crm_doc="(not sent with the invoice: reached after the create through PUT invoice/status)",
    ),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
CANONICAL: tuple[str, ...] = tuple(c.name for c in COLUMNS)
REQUIRED: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.required)
INVOICE_LEVEL: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.invoice_level)
LINE_LEVEL: tuple[str, ...] = tuple(c.name for c in COLUMNS if not c.invoice_level)
BUILT_IN_DEFAULTS: dict[str, str] = {c.name: c.default for c in COLUMNS if c.default is not None}

# The CellError codes of a workbook cell that cannot be read, whatever its column (importer.validate).
CELL_ERROR = "cell_error"  # the cell shows an error value (#N/A, #DIV/0!, #REF! ...)
NO_SAVED_RESULT = "no_saved_result"  # a formula the file holds no result of (written by a script)

# A totals row of a finance sheet (not an invoice): its invoice number or first cell says so, in words
# without digits (an invoice number "TOTAL-2026-01" is a number).
TOTALS_WORDS = re.compile(
    r"(?:grand\s*|sub\s*-?\s*)?totals?|sum|summe|zwischensumme|gesamt\w*|total\s+g[ée]n[ée]ral|totale"
    r"|totaal|totalt|suma|razem|celkem|yhteens[äa]|итого|всего|合計|总计|合计",
    re.IGNORECASE,
)


_TOTALS_LABEL = re.compile(rf"(?:{TOTALS_WORDS.pattern})(?:\b[\s\w.:()/-]*)?", re.IGNORECASE)


def says_total(value: object) -> bool:
    """Whether a cell reads as the label of a totals row: ``Total``, ``Sub-total:``, ``Summe EUR``,
    ``Итого`` ... (the word first, no digit anywhere)."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    if TOTALS_WORDS.match(text) is None:  # most cells (invoice numbers) stop here
        return False
    return _TOTALS_LABEL.fullmatch(text) is not None and not any(char.isdigit() for char in text)


# The column whose value groups rows into invoices (Invoice.number).
INVOICE_KEY = "invoice_number"
# The columns a totals row leaves blank (it has only amounts besides): the number and the item.
NOT_IN_TOTALS_ROWS: tuple[str, ...] = (INVOICE_KEY, "item")


@dataclass(frozen=True)
class TotalColumns:
    """The columns the CRM's total of an invoice is computed from, and the total the file expects."""

    price: str = "price"
    quantity: str = "quantity"
    discount: str = "discount"
    taxes: tuple[str, ...] = ("tax1", "tax2")
    expected: str = "invoice_total"


TOTAL = TotalColumns()


_PUNCT = re.compile(r"[\s_\W]+", re.UNICODE)
_ORDER = {name: position for position, name in enumerate(CANONICAL)}


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


def error_order(error: CellError) -> tuple[int, int]:
    """Errors by row, then by column in the declared order (whole-row problems first)."""
    row = error.row if error.row is not None else -1
    return row, -1 if error.column is None else _ORDER.get(error.column, len(_ORDER))
