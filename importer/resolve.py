"""Pre-flight: resolve every reference of the valid invoices against the CRM, before anything is posted.

Finance users write customers as an ID, an e-mail or a display name, products as an ID, a SKU or a title,
taxes as an ID or a name. The CRM wants IDs and answers nearly every mistake with the same useless 400, so
this stage looks every distinct value up once (concurrently, paging where needed), learns IDs, tax rates,
catalogue prices and the default terms, checks currency, language, deal and addresses, and computes the
total the CRM will compute. It returns new values (a :class:`ResolvedInvoice` per invoice that can be
posted) and every problem as a :class:`CellError`; it never writes into an Invoice.

Matching rules (the same whichever way the records were fetched):

* contact, consignee: all digits → the contact with that ID, else a contact with that exact display
  name; containing ``@`` → the contacts having that e-mail address, regardless of case; otherwise the
  contacts whose display name is exactly the value (after trimming).
* item: all digits without a leading zero → ID, then SKU, then title; all digits with a leading zero
  (``00731`` is a SKU, not ID 731) → SKU, then ID, then title; otherwise SKU, then title. SKUs and titles
  match exactly. The first rule that finds anything decides; several records found by it is ambiguous.
* tax: all digits → ID, then name; otherwise the exact name.

Where nothing matches, a case-insensitive near match is offered as "did you mean".

Request economy: for contacts and items the stage either lists every record in pages of 1000 or looks
each distinct value up on its own, whichever costs fewer requests (the first page of the listing tells
the total and is kept; :meth:`importer.client.CrmClient.list_all` decides, and on a tie looks up).
Taxes, currencies and invoice settings are one request each, fetched only when some invoice needs them
(the settings not at all when the caller has them already).
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

from importer.client import CrmApi
from importer.crm_constants import LANGUAGE_BY_KEY, LANGUAGES
from importer.errors import ForbiddenError
from importer.models import CellError, Invoice, Line, Resolution, ResolvedInvoice, ResolvedLine
from importer.totals import PricedLine, invoice_cost, mismatch_message

MAX_ID = 2**31 - 1
MAX_CANDIDATES_SHOWN = 10

INFO_TYPE_EMAIL = 1
INFO_TYPE_ADDRESS = 7
CATEGORY_POSTAL = 1
CATEGORY_BILLING = 3
_INFO_TYPES = {
    "phone": 0,
    "email": 1,
    "website": 2,
    "skype": 3,
    "twitter": 4,
    "linkedin": 5,
    "facebook": 6,
    "address": 7,
}
_ADDRESS_CATEGORIES = {"home": 0, "postal": 1, "office": 2, "billing": 3, "other": 4, "work": 5}

_DIGITS = re.compile(r"[0-9]+")


# ---------------------------------------------------------------------------------------------- records


@dataclass(frozen=True)
class InfoRow:
    """One contact-info row of ``contact/{id}/data``."""

    id: int
    info_type: int
    category: int


@dataclass(frozen=True)
class ContactRecord:
    id: int
    name: str
    emails: tuple[str, ...] = ()
    # the address rows embedded in the contact, when the server sends them with their IDs; else None
    addresses: tuple[InfoRow, ...] | None = None


@dataclass(frozen=True)
class ItemRecord:
    id: int
    title: str
    sku: str
    price: Decimal


@dataclass(frozen=True)
class TaxRecord:
    id: int
    name: str
    rate: Decimal


@dataclass(frozen=True)
class Deal:
    id: int
    title: str
    members: frozenset[int]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _enum(value: Any, names: Mapping[str, int]) -> int:
    """An enum sent as its number or its name."""
    if isinstance(value, str) and not value.strip().lstrip("-").isdigit():
        return names.get(value.strip().casefold(), -1)
    return _int(value) if value is not None else -1


def contact_record(data: Mapping[str, Any]) -> ContactRecord:
    """A contact as the API returns it (``displayName``, ``commonData`` with the e-mails)."""
    name = _text(data.get("displayName")).strip()
    if not name:
        name = _text(data.get("companyName")) or " ".join(
            _text(data.get(key)) for key in ("firstName", "lastName") if data.get(key)
        )
    emails = tuple(
        _text(info.get("data")).strip()
        for info in data.get("commonData") or ()
        if isinstance(info, Mapping) and _enum(info.get("infoType"), _INFO_TYPES) == INFO_TYPE_EMAIL
    )
    return ContactRecord(
        id=_int(data.get("id")),
        name=name.strip(),
        emails=emails,
        addresses=_embedded_addresses(data.get("addresses")),
    )


def _embedded_addresses(addresses: Any) -> tuple[InfoRow, ...] | None:
    """The ``addresses`` of a contact wrapper as info rows, if every one carries its ID; else None."""
    if not isinstance(addresses, list):
        return None
    rows = [a for a in addresses if isinstance(a, Mapping) and isinstance(a.get("id"), int)]
    if len(rows) != len(addresses):
        return None
    return tuple(
        InfoRow(a["id"], INFO_TYPE_ADDRESS, _enum(a.get("category"), _ADDRESS_CATEGORIES)) for a in rows
    )


def item_record(data: Mapping[str, Any]) -> ItemRecord:
    return ItemRecord(
        id=_int(data.get("id")),
        title=_text(data.get("title")),
        sku=_text(data.get("stockKeepingUnit")),
        price=_decimal(data.get("price")),
    )


def tax_record(data: Mapping[str, Any]) -> TaxRecord:
    return TaxRecord(id=_int(data.get("id")), name=_text(data.get("name")), rate=_decimal(data.get("rate")))


def info_row(data: Mapping[str, Any]) -> InfoRow:
    return InfoRow(
        id=_int(data.get("id")),
        info_type=_enum(data.get("infoType"), _INFO_TYPES),
        category=_enum(data.get("category"), _ADDRESS_CATEGORIES),
    )


# ---------------------------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class Candidate:
    id: int
    name: str
    detail: str = ""

    def __str__(self) -> str:
        extra = f", {self.detail}" if self.detail else ""
        return f"{self.name} (ID {self.id}{extra})"


@dataclass(frozen=True)
class Match:
    """What one value written in the file resolved to: exactly one candidate is a success."""

    value: str
    found: tuple[Candidate, ...] = ()
    suggestion: str | None = None  # a case-insensitive near match, when nothing matched exactly
    note: str | None = None  # why nothing could be found, when known (e.g. a private contact)

    @property
    def id(self) -> int | None:
        return self.found[0].id if len(self.found) == 1 else None

    @property
    def ambiguous(self) -> bool:
        return len(self.found) > 1


R = TypeVar("R", ContactRecord, ItemRecord, TaxRecord)
Rule = Callable[[R], bool]


def id_of(value: str) -> int | None:
    """The record ID a value can stand for: all ASCII digits, > 0 and in range; else None."""
    if not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


def has_leading_zero(value: str) -> bool:
    return bool(_DIGITS.fullmatch(value)) and len(value) > 1 and value.startswith("0")


def _unique(records: Iterable[R]) -> list[R]:
    seen: dict[int, R] = {}
    for record in records:
        seen.setdefault(record.id, record)
    return list(seen.values())


def _first_rule_that_matches(records: Sequence[R], rules: Sequence[Rule[R]]) -> list[R]:
    for rule in rules:
        found = [record for record in records if rule(record)]
        if found:
            return found
    return []


def _near(value: str, names: Iterable[str], *, fuzzy: bool = False) -> str | None:
    """A name the user probably meant: the same but for case, else (``fuzzy``, for display names and
    titles, not for codes such as SKUs or tax names) the closest spelling: "Acme Limited" for "Acme Ltd"."""
    key = value.casefold()
    candidates = {name.casefold(): name for name in names if name and name != value}
    if key in candidates:
        return candidates[key]
    if not fuzzy:
        return None
    close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.75)
    return candidates[close[0]] if close else None


def search_word(value: str) -> str:
    """The word to search the CRM with for a name: its longest word. The CRM's filter matches the start
    of a word, so the exact name is always among the results, and near misses too ("did you mean")."""
    words = value.split()
    return max(words, key=len) if words else value


def match_contact(value: str, contacts: Iterable[ContactRecord]) -> Match:
    """Resolve a contact written as an ID, an e-mail (any case) or an exact display name."""
    value = value.strip()
    records = _unique(contacts)
    number = id_of(value)
    rules: list[Rule[ContactRecord]]
    if "@" in value:
        email = value.casefold()
        rules = [lambda c: any(e.casefold() == email for e in c.emails)]
    else:
        rules = [lambda c: c.name == value]
        if number is not None:
            rules.insert(0, lambda c: c.id == number)
    found = _first_rule_that_matches(records, rules)
    candidates = tuple(Candidate(c.id, c.name) for c in sorted(found, key=lambda c: c.id))
    suggestion = None if found or "@" in value else _near(value, (c.name for c in records), fuzzy=True)
    return Match(value, candidates, suggestion)


def match_item(value: str, items: Iterable[ItemRecord]) -> Match:
    """Resolve an item written as an ID, a SKU or an exact title (see the module doc for the order)."""
    value = value.strip()
    records = _unique(items)
    number = id_of(value)
    by_id: Rule[ItemRecord] = lambda i: i.id == number  # noqa: E731
    by_sku: Rule[ItemRecord] = lambda i: i.sku == value  # noqa: E731
    by_title: Rule[ItemRecord] = lambda i: i.title == value  # noqa: E731
    if number is None:
        rules = [by_sku, by_title]
    elif has_leading_zero(value):
        rules = [by_sku, by_id, by_title]
    else:
        rules = [by_id, by_sku, by_title]
    found = _first_rule_that_matches(records, rules)
    candidates = tuple(
        Candidate(i.id, i.title, f"SKU {i.sku}" if i.sku else "") for i in sorted(found, key=lambda i: i.id)
    )
    suggestion = None
    if not found:
        near_sku = _near(value, (i.sku for i in records))
        suggestion = near_sku or _near(value, (i.title for i in records), fuzzy=True)
    return Match(value, candidates, suggestion)


def match_tax(value: str, taxes: Iterable[TaxRecord]) -> Match:
    """Resolve a tax written as an ID or its exact name."""
    value = value.strip()
    records = _unique(taxes)
    number = id_of(value)
    rules: list[Rule[TaxRecord]] = [lambda t: t.name == value]
    if number is not None:
        rules.insert(0, lambda t: t.id == number)
    found = _first_rule_that_matches(records, rules)
    candidates = tuple(Candidate(t.id, t.name) for t in sorted(found, key=lambda t: t.id))
    suggestion = None if found else _near(value, (t.name for t in records))
    return Match(value, candidates, suggestion)


def contact_key(value: str) -> str:
    """Cache key of a contact value: e-mails regardless of case, the rest as written (trimmed)."""
    value = value.strip()
    return value.casefold() if "@" in value else value


# ---------------------------------------------------------------------------------------------- the caches


@dataclass
class ReferenceData:
    """What the pre-flight learnt from the CRM: the matches of the values written and the records behind
    them (filled by the look-ups, read by the checks of each invoice)."""

    contacts: dict[str, Match] = field(default_factory=dict)  # contact_key(value) -> match
    items: dict[str, Match] = field(default_factory=dict)  # trimmed value -> match
    taxes: dict[str, Match] = field(default_factory=dict)  # trimmed value -> match
    contact_records: dict[int, ContactRecord] = field(default_factory=dict)
    item_records: dict[int, ItemRecord] = field(default_factory=dict)
    tax_records: dict[int, TaxRecord] = field(default_factory=dict)
    currencies: frozenset[str] | None = None  # None: not fetched
    default_terms: str | None = None
    contact_info: dict[int, tuple[InfoRow, ...]] = field(default_factory=dict)
    deals: dict[int, Deal | None] = field(default_factory=dict)  # None: no such deal

    def contact(self, value: str) -> Match | None:
        return self.contacts.get(contact_key(value))

    def item(self, value: str) -> Match | None:
        return self.items.get(value.strip())

    def tax(self, value: str) -> Match | None:
        return self.taxes.get(value.strip())


# ---------------------------------------------------------------------------------------------- look-ups


def _as_list(response: Any) -> list[Mapping[str, Any]]:
    if isinstance(response, list):
        return [r for r in response if isinstance(r, Mapping)]
    return [response] if isinstance(response, Mapping) else []


async def _contacts_for(crm: CrmApi, value: str) -> tuple[list[ContactRecord], str | None]:
    """The contacts that may match one value, with a note when the CRM hides the record."""
    number = id_of(value)
    if "@" in value:
        found = await crm.get("contact/bycontactinfo", {"infoType": "Email", "data": value})
        return [contact_record(c) for c in _as_list(found)], None
    if number is not None:
        one = await crm.get_or_none(f"contact/{number}")
        if one is not None:
            return [contact_record(c) for c in _as_list(one)], None
        # The CRM answers 404 for a contact that is absent and for one this user may not see alike;
        # contact/{id}/access tells them apart (404 absent, 403 not visible).
        try:
            await crm.get_or_none(f"contact/{number}/access")
        except ForbiddenError:
            return [], private_contact_message(number)
    found = await crm.list_all("contact/filter", {"filterValue": search_word(value), "sortBy": "id"})
    return [contact_record(c) for c in _as_list(found)], None


def private_contact_message(contact_id: int) -> str:
    return f"The CRM contact {contact_id} is not visible to you: ask its owner to share it"


async def _items_for(crm: CrmApi, value: str) -> list[ItemRecord]:
    """The items that may match one value, fetched in the order of the matching rules."""
    number = id_of(value)
    if number is not None and not has_leading_zero(value):
        one = await crm.get_or_none(f"invoiceitem/{number}")
        if one is not None:
            return [item_record(i) for i in _as_list(one)]
    found = await crm.list_all("invoiceitem/filter", {"filterValue": value, "sortBy": "id"})
    records = [item_record(i) for i in _as_list(found)]
    if number is not None and has_leading_zero(value) and not any(i.sku == value for i in records):
        one = await crm.get_or_none(f"invoiceitem/{number}")
        records.extend(item_record(i) for i in _as_list(one))
    return records


async def _resolve_contacts(crm: CrmApi, refs: ReferenceData, values: set[str]) -> None:
    keys = {contact_key(v): v.strip() for v in values}

    async def one(key: str, value: str, listed: Sequence[ContactRecord] = ()) -> None:
        records, note = await _contacts_for(crm, value)
        refs.contact_records.update((c.id, c) for c in records)
        match = match_contact(value, [*records, *listed])  # the listing's records give "did you mean"
        refs.contacts[key] = Match(value, match.found, match.suggestion, note) if note else match

    listing = await crm.list_all("contact/filter", {"sortBy": "id"}, cheaper_than=len(keys))
    if listing is None:
        await asyncio.gather(*(one(k, v) for k, v in keys.items()))
        return
    records = [contact_record(c) for c in _as_list(listing)]
    refs.contact_records.update((c.id, c) for c in records)
    for key, value in keys.items():
        refs.contacts[key] = match_contact(value, records)
    # A value the listing did not show is looked up on its own before it is called unknown: the listing
    # may have missed it (pages shifting), or the contact is one this user may not see (then it says so).
    missing = [(k, v) for k, v in keys.items() if not refs.contacts[k].found]
    await asyncio.gather(*(one(k, v, records) for k, v in missing))


async def _resolve_items(crm: CrmApi, refs: ReferenceData, values: set[str]) -> None:
    async def one(value: str, listed: Sequence[ItemRecord] = ()) -> None:
        records = await _items_for(crm, value)
        refs.item_records.update((i.id, i) for i in records)
        refs.items[value] = match_item(value, [*records, *listed])

    listing = await crm.list_all("invoiceitem/filter", {"sortBy": "id"}, cheaper_than=len(values))
    if listing is None:
        await asyncio.gather(*(one(v) for v in values))
        return
    records = [item_record(i) for i in _as_list(listing)]
    refs.item_records.update((i.id, i) for i in records)
    for value in values:
        refs.items[value] = match_item(value, records)
    # a value the listing did not show is looked up on its own before it is called unknown
    await asyncio.gather(*(one(v, records) for v in values if not refs.items[v].found))


async def _resolve_taxes(crm: CrmApi, refs: ReferenceData, values: set[str]) -> None:
    records = [tax_record(t) for t in _as_list(await crm.get("invoice/tax"))]
    refs.tax_records.update((t.id, t) for t in records)
    for value in values:
        refs.taxes[value] = match_tax(value, records)


async def _load_currencies(crm: CrmApi, refs: ReferenceData) -> None:
    response = await crm.get("settings/currency")
    refs.currencies = frozenset(_text(c.get("abbreviation")).upper() for c in _as_list(response))


async def _load_settings(crm: CrmApi, refs: ReferenceData, known: Awaitable[Any] | None) -> None:
    settings = await known if known is not None else await crm.get("invoice/settings")
    terms = _text(settings.get("terms")).strip() if isinstance(settings, Mapping) else ""
    refs.default_terms = terms or None


async def _load_deal_members(crm: CrmApi, refs: ReferenceData, deal_id: int) -> None:
    members = await crm.get_or_none(f"opportunity/{deal_id}/contact")
    if members is None:
        refs.deals[deal_id] = None
        return
    ids = frozenset(_int(c.get("id")) for c in _as_list(members))
    refs.deals[deal_id] = Deal(deal_id, "", ids)


async def _load_deal_title(crm: CrmApi, refs: ReferenceData, deal_id: int) -> None:
    """Confirm a deal exists and learn its title (only asked when a membership check failed)."""
    deal = await crm.get_or_none(f"opportunity/{deal_id}")
    known = refs.deals.get(deal_id)
    if deal is None or not isinstance(deal, Mapping):
        refs.deals[deal_id] = None
    elif known is not None:
        refs.deals[deal_id] = Deal(deal_id, _text(deal.get("title")), known.members)


async def _load_contact_info(crm: CrmApi, refs: ReferenceData, contact_id: int) -> None:
    rows = await crm.get_or_none(f"contact/{contact_id}/data")
    refs.contact_info[contact_id] = tuple(info_row(r) for r in _as_list(rows))


# ---------------------------------------------------------------------------------------------- the stage


@dataclass
class _Wanted:
    contacts: set[str] = field(default_factory=set)
    items: set[str] = field(default_factory=set)
    taxes: set[str] = field(default_factory=set)
    deals: set[int] = field(default_factory=set)
    currencies: bool = False
    settings: bool = False


def _blank(value: str | None) -> bool:
    return value is None or not str(value).strip()


def _wanted(invoices: Iterable[Invoice]) -> _Wanted:
    wanted = _Wanted()
    for invoice in invoices:
        for value in (invoice.contact, invoice.consignee):
            if not _blank(value):
                wanted.contacts.add(str(value).strip())
        for line in invoice.lines:
            if not _blank(line.item):
                wanted.items.add(line.item.strip())
            for tax in (line.tax1, line.tax2):
                if not _blank(tax):
                    wanted.taxes.add(str(tax).strip())
        if invoice.deal_id:
            wanted.deals.add(invoice.deal_id)
        wanted.currencies |= not _blank(invoice.currency)
        wanted.settings |= _blank(invoice.terms)
    return wanted


@dataclass(frozen=True)
class _LineRefs:
    """What one line resolved to (None/0 where it did not)."""

    line: Line
    item_id: int | None
    price: Decimal | None
    tax1_id: int
    tax1_rate: Decimal | None
    tax2_id: int
    tax2_rate: Decimal | None

    def resolved(self) -> ResolvedLine | None:
        """The resolved line, when the item, its price and every tax's rate are known."""
        if self.item_id is None or self.price is None:
            return None
        if (self.line.tax1 and self.tax1_rate is None) or (self.line.tax2 and self.tax2_rate is None):
            return None
        return ResolvedLine(
            line=self.line,
            item_id=self.item_id,
            price=self.price,
            tax1_id=self.tax1_id,
            tax2_id=self.tax2_id,
            tax1_rate=self.tax1_rate,
            tax2_rate=self.tax2_rate,
        )


@dataclass(frozen=True)
class _InvoiceRefs:
    """What one invoice's references resolved to, and the errors found doing so."""

    contact_id: int | None
    consignee_id: int | None
    lines: tuple[_LineRefs, ...]
    errors: tuple[CellError, ...]


async def resolve_invoices(
    invoices: Sequence[Invoice], crm: CrmApi, *, settings: Awaitable[Any] | None = None
) -> Resolution:
    """Resolve the references of the invoices against the CRM; see the module doc.

    ``settings``: the CRM's invoice settings when they are fetched anyway (the access check asks for them):
    awaited instead of asking again, and only when some invoice needs the default terms.

    Every invoice without offline errors (``Invoice.errors``) and without pre-flight errors gets a
    :class:`ResolvedInvoice`: contact and consignee IDs, each line's item ID, price (the catalogue's where
    the file left it blank), tax IDs and rates, the currency upper-cased, the language in the CRM's
    spelling, the terms (the CRM's default where blank) and the total. Invoices that already carry errors
    get their contact, item and tax references checked too (so that every problem of the file is reported
    at once), but nothing else. Every problem is a CellError in ``errors``; nothing is written into an
    Invoice. Raises a CrmError only for failures other than "not found" (the caller decides what an
    unreachable CRM means).
    """
    sent_before = crm.requests_sent
    refs = ReferenceData()
    valid = [invoice for invoice in invoices if invoice.is_valid]
    invalid = [invoice for invoice in invoices if not invoice.is_valid]
    wanted = _wanted(valid)
    also = _wanted(invalid)
    wanted.contacts |= also.contacts
    wanted.items |= also.items
    wanted.taxes |= also.taxes
    first: list[Awaitable[None]] = []
    if wanted.contacts:
        first.append(_resolve_contacts(crm, refs, wanted.contacts))
    if wanted.items:
        first.append(_resolve_items(crm, refs, wanted.items))
    if wanted.taxes:
        first.append(_resolve_taxes(crm, refs, wanted.taxes))
    if wanted.currencies:
        first.append(_load_currencies(crm, refs))
    if wanted.settings:
        first.append(_load_settings(crm, refs, settings))
    first.extend(_load_deal_members(crm, refs, deal) for deal in sorted(wanted.deals))
    await asyncio.gather(*first)

    errors: list[CellError] = []
    for invoice in invalid:
        errors.extend(_resolve_ids(invoice, refs).errors)
    found = {invoice.number: _resolve_ids(invoice, refs) for invoice in valid}
    needing_info = sorted(_contacts_needing_info(valid, found, refs))
    second: list[Awaitable[None]] = [_load_contact_info(crm, refs, cid) for cid in needing_info]
    not_joined = sorted(_deals_not_joined(valid, found, refs))
    second.extend(_load_deal_title(crm, refs, deal_id) for deal_id in not_joined)
    await asyncio.gather(*second)

    resolved: dict[str, ResolvedInvoice] = {}
    totals: dict[str, Decimal] = {}
    for invoice in valid:
        result, total, problems = _finish(invoice, found[invoice.number], refs)
        errors.extend(problems)
        if total is not None:
            totals[invoice.number] = total
        if result is not None:
            resolved[invoice.number] = result
    return Resolution(
        resolved=resolved,
        errors=tuple(errors),
        requests_sent=crm.requests_sent - sent_before,
        totals=totals,
    )


def _contacts_needing_info(
    invoices: Iterable[Invoice], found: Mapping[str, _InvoiceRefs], refs: ReferenceData
) -> set[int]:
    """Contacts whose addresses must be fetched: those an address ID refers to, unless the contact
    record already carried its addresses with their IDs (then they are taken from there)."""
    needed: set[int] = set()
    for invoice in invoices:
        ids = found[invoice.number]
        if invoice.billing_address_id and ids.contact_id:
            needed.add(ids.contact_id)
        if invoice.delivery_address_id and ids.consignee_id:
            needed.add(ids.consignee_id)
    for contact_id in list(needed):
        record = refs.contact_records.get(contact_id)
        if record is not None and record.addresses is not None:
            refs.contact_info[contact_id] = record.addresses
            needed.discard(contact_id)
    return needed


def _deals_not_joined(
    invoices: Iterable[Invoice], found: Mapping[str, _InvoiceRefs], refs: ReferenceData
) -> set[int]:
    failing: set[int] = set()
    for invoice in invoices:
        deal = refs.deals.get(invoice.deal_id or 0)
        contact_id = found[invoice.number].contact_id
        if deal is not None and contact_id and contact_id not in deal.members:
            failing.add(deal.id)
    return failing


# ---------------------------------------------------------------------------------------------- per invoice


def _first_row(invoice: Invoice) -> int | None:
    return invoice.rows[0] if invoice.rows else None


def _candidates_text(found: Sequence[Candidate]) -> str:
    shown = ", ".join(str(c) for c in found[:MAX_CANDIDATES_SHOWN])
    more = len(found) - MAX_CANDIDATES_SHOWN
    return f"{shown} and {more} more" if more > 0 else shown


def _unknown_message(kind: str, match: Match) -> str:
    value = match.value
    if match.note:
        return match.note
    if kind == "contact":
        if "@" in value:
            text = f"No contact in the CRM has the e-mail address '{value}'"
        elif id_of(value) is not None:
            # A portal answers "not found" also for a contact that is private to another user.
            text = (
                f"No contact in the CRM has the ID or the name '{value}' "
                "(or it is private to another user: ask its owner to share it)"
            )
        else:
            text = f"No contact in the CRM is named exactly '{value}'"
    elif kind == "item":
        text = f"No product in the CRM has the ID, SKU or title '{value}'"
    else:
        text = f"No tax in the CRM has the ID or the name '{value}'"
    return f"{text}; did you mean '{match.suggestion}'?" if match.suggestion else text


_AMBIGUOUS_HINT = {
    "contact": "write the contact's ID or e-mail address instead",
    "item": "write the product's SKU or ID instead",
    "tax": "write the tax's ID instead",
}
_KIND_PLURAL = {"contact": "contacts", "item": "products", "tax": "taxes"}


def reference_error(kind: str, match: Match, row: int | None, column: str, written: str) -> CellError | None:
    """The error for a value that did not resolve to exactly one record, else None."""
    if match.id is not None:
        return None
    if match.ambiguous:
        message = (
            f"'{match.value}' matches {len(match.found)} {_KIND_PLURAL[kind]} in the CRM: "
            f"{_candidates_text(match.found)}; {_AMBIGUOUS_HINT[kind]}"
        )
        return CellError(message, row=row, column=column, value=written, code="ambiguous_reference")
    return CellError(
        _unknown_message(kind, match), row=row, column=column, value=written, code="unknown_reference"
    )


def _resolve_ids(invoice: Invoice, refs: ReferenceData) -> _InvoiceRefs:
    """Contact, consignee, items and taxes: their IDs, rates and catalogue prices, and the errors."""
    row = _first_row(invoice)
    errors: list[CellError] = []
    contact_id = _resolve_contact(refs, "contact", invoice.contact, row, errors)
    consignee_id = _resolve_contact(refs, "consignee", invoice.consignee, row, errors)
    lines = tuple(_resolve_line(line, refs, errors) for line in invoice.lines)
    return _InvoiceRefs(contact_id, consignee_id, lines, tuple(errors))


def _resolve_contact(
    refs: ReferenceData, column: str, written: str | None, row: int | None, errors: list[CellError]
) -> int | None:
    if _blank(written):
        return None
    match = refs.contact(str(written))
    if match is None:  # not looked up (cannot happen for a valid invoice)
        return None
    error = reference_error("contact", match, row, column, str(written))
    if error is not None:
        errors.append(error)
    return match.id


def _resolve_line(line: Line, refs: ReferenceData, errors: list[CellError]) -> _LineRefs:
    item_id, price = None, line.price
    match = refs.item(line.item) if not _blank(line.item) else None
    if match is not None:
        error = reference_error("item", match, line.row, "item", line.item)
        if error is not None:
            errors.append(error)
        item_id = match.id
        if match.id is not None and price is None:
            price = refs.item_records[match.id].price
    tax1_id, tax1_rate = _resolve_tax(refs, line.row, "tax1", line.tax1, errors)
    tax2_id, tax2_rate = _resolve_tax(refs, line.row, "tax2", line.tax2, errors)
    return _LineRefs(
        line=line,
        item_id=item_id,
        price=price,
        tax1_id=tax1_id,
        tax1_rate=tax1_rate,
        tax2_id=tax2_id,
        tax2_rate=tax2_rate,
    )


def _resolve_tax(
    refs: ReferenceData, row: int, column: str, written: str | None, errors: list[CellError]
) -> tuple[int, Decimal | None]:
    if _blank(written):
        return 0, None
    match = refs.tax(str(written))
    if match is None:
        return 0, None
    error = reference_error("tax", match, row, column, str(written))
    if error is not None:
        if not match.suggestion and not match.ambiguous and refs.tax_records:
            names = ", ".join(t.name for t in sorted(refs.tax_records.values(), key=lambda t: t.id))
            error = CellError(
                f"{error.message}; the CRM's taxes are: {names}",
                row=error.row,
                column=error.column,
                value=error.value,
                code=error.code,
            )
        errors.append(error)
        return 0, None
    assert match.id is not None
    return match.id, refs.tax_records[match.id].rate


def _finish(
    invoice: Invoice, ids: _InvoiceRefs, refs: ReferenceData
) -> tuple[ResolvedInvoice | None, Decimal | None, list[CellError]]:
    """Everything else the CRM would refuse, then the total: the resolved invoice (None if it has an
    error), its total (None if a price or rate is unknown) and the errors."""
    errors = list(ids.errors)
    currency, currency_errors = _check_currency(invoice, refs)
    language, language_errors = _check_language(invoice)
    terms, terms_errors = _check_terms(invoice, refs)
    errors += currency_errors + language_errors + terms_errors
    errors += _check_deal(invoice, ids, refs) + _check_addresses(invoice, ids, refs)
    candidates = [line.resolved() for line in ids.lines]
    lines = tuple(line for line in candidates if line is not None)
    total = invoice_cost(lines) if lines and len(lines) == len(candidates) else None
    expected = invoice.expected_total
    if total is not None and expected is not None and expected != total:
        priced = [
            PricedLine(
                row=line.row,
                price=line.price,
                quantity=line.line.quantity,
                discount=line.line.discount,
                rate1=line.tax1_rate,
                rate2=line.tax2_rate,
            )
            for line in lines
        ]
        message = mismatch_message(expected, total, priced)
        errors.append(_error(invoice, message, "invoice_total", expected, "total_mismatch"))
    if errors or total is None:
        return None, total, errors
    # validated offline: a valid invoice has a contact and a currency, so they resolved or erred above
    assert ids.contact_id is not None and currency is not None and terms is not None, invoice.number
    resolved = ResolvedInvoice(
        invoice=invoice,
        contact_id=ids.contact_id,
        consignee_id=ids.consignee_id,
        currency=currency,
        language=language,
        terms=terms,
        lines=lines,
        total=total,
    )
    return resolved, total, errors


def _error(invoice: Invoice, message: str, column: str, value: Any, code: str) -> CellError:
    written = "" if value is None else str(value)
    return CellError(message, row=_first_row(invoice), column=column, value=written, code=code)


def _check_currency(invoice: Invoice, refs: ReferenceData) -> tuple[str | None, list[CellError]]:
    """The CRM's currency code (upper case), or an error."""
    if _blank(invoice.currency) or refs.currencies is None:
        return None, []
    code = str(invoice.currency).strip().upper()
    if code in refs.currencies:
        return code, []
    message = f"'{invoice.currency}' is not a currency of the CRM; write an ISO code such as EUR, USD or GBP"
    return None, [_error(invoice, message, "currency", invoice.currency, "currency")]


def _check_language(invoice: Invoice) -> tuple[str, list[CellError]]:
    """The language in the CRM's spelling, or an error."""
    written = (invoice.language or "").strip()
    canonical = LANGUAGE_BY_KEY.get(written.casefold())
    if canonical is not None:
        return canonical, []
    examples = ", ".join(LANGUAGES[:5])
    message = f"'{written}' is not a language the CRM offers; write a culture name such as {examples}"
    return written, [_error(invoice, message, "language", invoice.language, "language")]


def _check_terms(invoice: Invoice, refs: ReferenceData) -> tuple[str | None, list[CellError]]:
    """The file's terms, or the CRM's default terms where blank, or an error."""
    if not _blank(invoice.terms):
        return invoice.terms, []
    if refs.default_terms:
        return refs.default_terms, []
    message = "The terms are blank and the CRM has no default invoice terms: fill in the terms column"
    return None, [_error(invoice, message, "terms", "", "terms")]


def _check_deal(invoice: Invoice, ids: _InvoiceRefs, refs: ReferenceData) -> list[CellError]:
    if not invoice.deal_id:
        return []
    deal = refs.deals.get(invoice.deal_id)
    if deal is None:
        message = f"No deal with ID {invoice.deal_id} in the CRM"
        return [_error(invoice, message, "deal_id", invoice.deal_id, "deal")]
    if ids.contact_id is None or ids.contact_id in deal.members:
        return []
    title = f" ('{deal.title}')" if deal.title else ""
    message = (
        f"The contact '{invoice.contact}' is not a member of deal {deal.id}{title}: "
        "add the contact to the deal in the CRM or clear the deal"
    )
    return [_error(invoice, message, "deal_id", invoice.deal_id, "deal")]


def _address_ids(refs: ReferenceData, contact_id: int, category: int) -> list[int]:
    return [
        row.id
        for row in refs.contact_info.get(contact_id, ())
        if row.info_type == INFO_TYPE_ADDRESS and row.category == category
    ]


def _check_addresses(invoice: Invoice, ids: _InvoiceRefs, refs: ReferenceData) -> list[CellError]:
    errors: list[CellError] = []
    billing = invoice.billing_address_id
    if billing and ids.contact_id is not None:
        known = _address_ids(refs, ids.contact_id, CATEGORY_BILLING)
        if billing not in known:
            message = (
                f"Address {billing} is not a billing address of contact '{invoice.contact}' in the CRM; "
                + (f"its billing addresses: {', '.join(map(str, known))}" if known else "it has none")
            )
            errors.append(_error(invoice, message, "billing_address_id", billing, "address"))
    delivery = invoice.delivery_address_id
    if delivery and _blank(invoice.consignee):
        message = "A delivery address needs a consignee: fill in the consignee or clear the delivery address"
        errors.append(_error(invoice, message, "delivery_address_id", delivery, "address"))
    elif delivery and ids.consignee_id is not None:
        known = _address_ids(refs, ids.consignee_id, CATEGORY_POSTAL)
        if delivery not in known:
            message = (
                f"Address {delivery} is not a postal address of consignee '{invoice.consignee}' in the CRM; "
                + (f"its postal addresses: {', '.join(map(str, known))}" if known else "it has none")
            )
            errors.append(_error(invoice, message, "delivery_address_id", delivery, "address"))
    return errors
