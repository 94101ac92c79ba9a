"""The pre-flight stage (importer.resolve): matching rules on plain data, request economy on an in-memory
CRM, and every reference kind by every form against the sandbox over real HTTP."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.client import CrmClient
from importer.errors import CrmRequestError
from importer.models import CellError, Invoice, Line, Resolution, ResolvedInvoice
from importer.resolve import (
    ContactRecord,
    ItemRecord,
    TaxRecord,
    contact_record,
    has_leading_zero,
    id_of,
    match_contact,
    match_item,
    match_tax,
    reference_error,
    resolve_invoices,
)
from tests import builders

# ------------------------------------------------------------------------------------------ plain data

CONTACTS = [
    ContactRecord(1, "Acme Ltd", ("billing@acme.example",)),
    ContactRecord(2, "Globex Corporation", ("accounts@globex.example",)),
    ContactRecord(3, "Jane Smith", ("jane.smith@example.com",)),
    ContactRecord(5, "John Smith", ("John.Smith@Example.com",)),
    ContactRecord(6, "Northwind Traders", ("ap@northwind.example",)),
    ContactRecord(7, "Northwind Traders", ("finance@northwind-uk.example",)),
    ContactRecord(12, "42", ()),
]
ITEMS = [
    ItemRecord(1, "Widget", "WID-001", Decimal("7.70")),
    ItemRecord(7, "Adapter", "ADP-EU", Decimal("4.50")),
    ItemRecord(8, "Adapter", "ADP-UK", Decimal("4.75")),
    ItemRecord(9, "Widget XL", "00731", Decimal("12.00")),
    ItemRecord(10, "Cable 7", "7", Decimal("1.00")),
]
TAXES = [TaxRecord(1, "VAT 20%", Decimal(20)), TaxRecord(2, "VAT 25%", Decimal(25))]


def test_contact_by_id_email_any_case_and_exact_name() -> None:
    assert match_contact("5", CONTACTS).id == 5
    assert match_contact(" BILLING@acme.EXAMPLE ", CONTACTS).id == 1
    assert match_contact("john.smith@example.com", CONTACTS).id == 5
    assert match_contact("Jane Smith", CONTACTS).id == 3


def test_contact_digits_not_an_id_fall_back_to_the_name() -> None:
    assert match_contact("42", CONTACTS).id == 12


def test_contact_email_is_exact_not_a_substring() -> None:
    match = match_contact("smith@example.com", CONTACTS)
    assert match.id is None and not match.ambiguous


def test_contact_duplicate_name_is_ambiguous_with_candidates() -> None:
    match = match_contact("Northwind Traders", CONTACTS)
    assert match.ambiguous and [c.id for c in match.found] == [6, 7]
    error = reference_error("contact", match, 4, "contact", "Northwind Traders")
    assert error is not None and error.code == "ambiguous_reference"
    assert "Northwind Traders (ID 6)" in error.message and "Northwind Traders (ID 7)" in error.message
    assert error.row == 4 and error.column == "contact" and error.value == "Northwind Traders"


def test_contact_name_in_other_case_is_unknown_with_did_you_mean() -> None:
    match = match_contact("acme ltd", CONTACTS)
    assert match.id is None and match.suggestion == "Acme Ltd"
    error = reference_error("contact", match, 2, "contact", "acme ltd")
    assert error is not None and error.code == "unknown_reference"
    assert "did you mean 'Acme Ltd'" in error.message and "\n" not in error.message


def test_item_by_id_sku_and_title() -> None:
    assert match_item("1", ITEMS).id == 1
    assert match_item("ADP-UK", ITEMS).id == 8
    assert match_item("Widget XL", ITEMS).id == 9


def test_item_leading_zero_is_a_sku_before_an_id() -> None:
    assert match_item("00731", ITEMS).id == 9
    assert match_item("007", ITEMS).id == 7  # no such SKU: the ID


def test_item_plain_digits_are_an_id_before_a_sku() -> None:
    assert match_item("7", ITEMS).id == 7  # ID 7 wins over the item whose SKU is "7"
    assert match_item("11", ITEMS).id is None


def test_item_duplicate_title_is_ambiguous_and_names_skus() -> None:
    match = match_item("Adapter", ITEMS)
    error = reference_error("item", match, 3, "item", "Adapter")
    assert error is not None and error.code == "ambiguous_reference"
    assert "Adapter (ID 7, SKU ADP-EU)" in error.message and "Adapter (ID 8, SKU ADP-UK)" in error.message


def test_item_sku_in_other_case_suggests_it() -> None:
    match = match_item("wid-001", ITEMS)
    assert match.id is None and match.suggestion == "WID-001"


def test_tax_by_id_and_exact_name() -> None:
    assert match_tax("2", TAXES).id == 2
    assert match_tax("VAT 20%", TAXES).id == 1
    assert match_tax("vat 20%", TAXES).suggestion == "VAT 20%"
    assert match_tax("VAT 21%", TAXES).id is None


_SKUS = st.sampled_from(["WID-001", "00731", "7", "9", "0", "ADP-EU", "wid-001"])
_TITLES = st.sampled_from(["Widget", "Adapter", "7", "widget", "00731"])
_ITEM_SETS = st.lists(
    st.builds(ItemRecord, st.integers(1, 12), _TITLES, _SKUS, st.just(Decimal(1))),
    max_size=8,
    unique_by=lambda i: i.id,
)


@settings(max_examples=200, deadline=None)
@given(items=_ITEM_SETS, value=st.one_of(_SKUS, _TITLES, st.integers(0, 13).map(str)), seed=st.randoms())
def test_item_matching_ignores_order_and_duplicates_and_only_returns_exact_matches(
    items: list[ItemRecord], value: str, seed: Any
) -> None:
    shuffled = items + items[: len(items) // 2]
    seed.shuffle(shuffled)
    match = match_item(value, items)
    assert match_item(value, shuffled) == match
    for candidate in match.found:
        record = next(i for i in items if i.id == candidate.id)
        assert value in (record.sku, record.title, str(record.id))
    if match.id is None and not match.ambiguous:
        assert all(value not in (i.sku, i.title) and str(i.id) != value for i in items)
    if any(i.sku == value for i in items) and (has_leading_zero(value) or id_of(value) is None):
        assert all(next(i for i in items if i.id == c.id).sku == value for c in match.found)


def test_contact_record_reads_emails_by_number_or_name() -> None:
    record = contact_record(
        {
            "id": 3,
            "displayName": "Jane Smith",
            "commonData": [
                {"infoType": 1, "data": "a@x.example"},
                {"infoType": "Email", "data": "b@x.example"},
                {"infoType": 0, "data": "+1 555"},
            ],
        }
    )
    assert record == ContactRecord(3, "Jane Smith", ("a@x.example", "b@x.example"))


# ------------------------------------------------------------------------------------------ an in-memory CRM


def _contact(cid: int, name: str, email: str) -> dict[str, Any]:
    return {
        "id": cid,
        "displayName": name,
        "isCompany": True,
        "commonData": [{"id": cid * 10, "infoType": 1, "category": 0, "data": email, "isPrimary": True}],
    }


def _envelope(response: Any, status: int = 200, total: int | None = None) -> httpx.Response:
    if status >= 400:
        body = {"status": 1, "statusCode": status, "error": {"message": "Not found"}}
        return httpx.Response(status, json=body)
    extra = {} if total is None else {"total": total, "count": len(response)}
    return httpx.Response(status, json={"status": 0, "statusCode": status, "response": response, **extra})


class MemoryCrm:
    """Just enough of the contract, behind the real client (httpx.MockTransport), to count the requests
    the resolver sends: ``sent`` holds each request's path under ``/api/2.0/crm/``, ``queries`` its query."""

    def __init__(self, extra_contacts: int = 0, extra_items: int = 0) -> None:
        self.contacts = [
            _contact(1, "Acme Ltd", "billing@acme.example"),
            _contact(6, "Northwind Traders", "ap@northwind.example"),
            _contact(7, "Northwind Traders", "finance@northwind-uk.example"),
        ]
        self.contacts += [
            _contact(100 + n, f"Filler {n}", f"f{n}@filler.example") for n in range(extra_contacts)
        ]
        self.items = [
            {"id": 1, "title": "Widget", "stockKeepingUnit": "WID-001", "price": 7.7},
            {"id": 9, "title": "Widget XL", "stockKeepingUnit": "00731", "price": 12.0},
        ]
        self.items += [
            {"id": 100 + n, "title": f"Filler {n}", "stockKeepingUnit": f"F{n}", "price": 1.0}
            for n in range(extra_items)
        ]
        self.sent: list[str] = []
        self.queries: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/2.0/crm/")
        params = dict(request.url.params)
        self.sent.append(path)
        self.queries.append(params)
        kind, _, rest = path.partition("/")
        if path == "invoice/tax":
            return _envelope([{"id": 1, "name": "VAT 20%", "rate": 20}])
        if path == "settings/currency":
            return _envelope([{"abbreviation": "EUR"}, {"abbreviation": "USD"}])
        if path == "invoice/settings":
            return _envelope({"terms": "Net 30"})
        if path == "contact/bycontactinfo":
            data = str(params["data"]).casefold()
            return _envelope([c for c in self.contacts if data in c["commonData"][0]["data"].casefold()])
        records = self.contacts if kind == "contact" else self.items
        if rest.isdigit():
            found = [r for r in records if r["id"] == int(rest)]
            return _envelope(found[0]) if found else _envelope(None, 404)
        if rest == "filter":
            value = params.get("filterValue", "").casefold()
            if value:
                key = "displayName" if kind == "contact" else "title"
                records = [
                    r
                    for r in records
                    if str(r[key]).casefold().startswith(value)
                    or str(r.get("stockKeepingUnit", "")).casefold().startswith(value)
                ]
            start, count = int(params["startIndex"]), int(params["count"])
            return _envelope(records[start : start + count], total=len(records))
        raise AssertionError(f"unexpected GET {path}")

    def requests(self, kind: str) -> int:
        """Requests sent for ``kind``: "contact" or "invoiceitem"."""
        return sum(1 for path in self.sent if path.startswith(kind + "/"))


def strategy(paths: Sequence[str], queries: Sequence[dict[str, str]], kind: str) -> str | None:
    """How the resolver fetched ``kind`` ("contact" or "invoiceitem"), read from the requests it sent:
    "listed" when it read the whole list and looked no value up on its own, "individual" when it looked
    values up on their own, None when it asked nothing of that kind."""
    listing = lookups = 0
    for path, query in zip(paths, queries, strict=True):
        if not path.startswith(kind + "/"):
            continue
        if path == f"{kind}/filter" and "filterValue" not in query:
            listing += 1
        else:
            lookups += 1
    if lookups:
        return "individual"
    return "listed" if listing else None


def _line(row: int, item: str, **values: Any) -> Line:
    return builders.line(row, item, values.pop("quantity", 1), values.pop("price", None), **values)


def _invoice(number: str, contact: str, *items: str, row: int = 2, **fields: Any) -> Invoice:
    lines = fields.pop("lines", None) or [_line(row + n, item) for n, item in enumerate(items)]
    if "expected_total" in fields:
        fields["invoice_total"] = fields.pop("expected_total")
    return builders.invoice(number, lines, contact=contact, **fields)


def _client(crm: Callable[[httpx.Request], httpx.Response]) -> CrmClient:
    return CrmClient("http://127.0.0.1:9", token="t", transport=httpx.MockTransport(crm), rate=None)


def _resolve(invoices: list[Invoice], crm: MemoryCrm) -> Resolution:
    async def go() -> Resolution:
        async with _client(crm) as client:
            return await resolve_invoices(invoices, client)

    return asyncio.run(go())


def errors_of(resolution: Resolution, invoice: Invoice) -> list[CellError]:
    rows = set(invoice.rows)
    return [e for e in resolution.errors if e.row in rows]


def test_one_value_each_is_looked_up_individually() -> None:
    crm = MemoryCrm()
    invoice = _invoice("A-1", "billing@acme.example", "WID-001")
    resolution = _resolve([invoice], crm)
    assert resolution.errors == ()
    done = resolution.resolved["A-1"]
    assert (done.contact_id, done.lines[0].item_id, done.lines[0].price) == (1, 1, Decimal("7.7"))
    assert strategy(crm.sent, crm.queries, "contact") == "individual"
    assert strategy(crm.sent, crm.queries, "invoiceitem") == "individual"
    assert sorted(crm.sent) == ["contact/bycontactinfo", "invoiceitem/filter", "settings/currency"]


def test_small_crm_is_listed_in_one_request_per_kind() -> None:
    crm = MemoryCrm(extra_contacts=10, extra_items=10)
    invoices = [_invoice("A-1", "1", "WID-001", "00731"), _invoice("A-2", "ap@northwind.example", "9", row=5)]
    resolution = _resolve(invoices, crm)
    assert resolution.errors == () and sorted(resolution.resolved) == ["A-1", "A-2"]
    assert strategy(crm.sent, crm.queries, "contact") == "listed"
    assert strategy(crm.sent, crm.queries, "invoiceitem") == "listed"
    assert sorted(crm.sent) == ["contact/filter", "invoiceitem/filter", "settings/currency"]
    assert resolution.requests_sent == len(crm.sent)


def test_large_crm_few_values_costs_one_probe_plus_one_lookup_each() -> None:
    crm = MemoryCrm(extra_contacts=5000)
    invoices = [
        _invoice(f"A-{n}", value, "WID-001")
        for n, value in enumerate(["1", "ap@northwind.example", "Acme Ltd"])
    ]
    resolution = _resolve(invoices, crm)
    assert strategy(crm.sent, crm.queries, "contact") == "individual"
    assert crm.requests("contact") == 1 + 3
    assert [resolution.resolved[i.number].contact_id for i in invoices] == [1, 6, 1]


def test_large_crm_many_values_is_listed_in_concurrent_pages() -> None:
    crm = MemoryCrm(extra_contacts=2500)
    invoices = [_invoice(f"A-{n}", f"f{n}@filler.example", "WID-001") for n in range(40)]
    resolution = _resolve(invoices, crm)
    assert strategy(crm.sent, crm.queries, "contact") == "listed" and crm.requests("contact") == 3
    assert [resolution.resolved[i.number].contact_id for i in invoices] == [100 + n for n in range(40)]


def test_invoices_with_errors_get_their_references_checked_and_nothing_else() -> None:
    crm = MemoryCrm()
    bad_date = CellError("bad date", row=2, column="issue_date", code="date")
    invoice = _invoice("A-1", "nobody@nowhere.example", "WID-001", errors=[bad_date])
    resolution = _resolve([invoice], crm)
    assert [e.column for e in (*invoice.errors, *resolution.errors)] == ["issue_date", "contact"]
    assert invoice.errors == (bad_date,)  # never written into
    assert "invoice/settings" not in crm.sent and "settings/currency" not in crm.sent
    assert "A-1" not in resolution.totals and "A-1" not in resolution.resolved


def test_each_distinct_value_is_looked_up_once() -> None:
    crm = MemoryCrm(extra_contacts=5000)
    invoices = [
        _invoice(f"A-{n}", "BILLING@acme.example" if n % 2 else "billing@acme.example", "WID-001")
        for n in range(20)
    ]
    _resolve(invoices, crm)
    assert crm.sent.count("contact/bycontactinfo") == 1 and crm.sent.count("invoiceitem/filter") == 1


def test_unknown_and_ambiguous_errors_sit_on_the_right_rows() -> None:
    crm = MemoryCrm()
    invoice = _invoice("A-1", "Northwind Traders", "WID-001", "Gizmo", row=7)
    resolution = _resolve([invoice], crm)
    by_column = {e.column: e for e in resolution.errors}
    assert by_column["contact"].code == "ambiguous_reference" and by_column["contact"].row == 7
    assert by_column["item"].code == "unknown_reference" and by_column["item"].row == 8
    assert by_column["item"].value == "Gizmo" and "'Gizmo'" in by_column["item"].message
    assert "A-1" not in resolution.totals and "A-1" not in resolution.resolved


def test_a_total_mismatch_is_reported_once_and_an_offline_one_not_again() -> None:
    crm = MemoryCrm()
    wrong = _invoice("A-1", "1", lines=[_line(2, "WID-001", price="5")], expected_total=Decimal(1))
    already = CellError("already", row=3, column="invoice_total", code="total_mismatch")
    offline = _invoice(
        "A-2", "1", lines=[_line(3, "WID-001", price="5")], expected_total=Decimal(1), errors=[already]
    )
    resolution = _resolve([wrong, offline], crm)
    assert [e.code for e in errors_of(resolution, wrong)] == ["total_mismatch"]
    assert resolution.totals["A-1"] == Decimal("5.00") and "A-1" not in resolution.resolved
    assert errors_of(resolution, offline) == []
    assert [e.message for e in offline.errors] == ["already"]


# -------------------------------------------------------------------------------------- against the sandbox

TOKEN = "sandbox"


class Recording(httpx.AsyncBaseTransport):
    """The real HTTP transport, recording each request's path under /api/2.0/crm/ and its query; with
    ``blank_terms``, the CRM's invoice settings answer with blank default terms."""

    def __init__(self, *, blank_terms: bool = False) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.blank_terms = blank_terms
        self.paths: list[str] = []
        self.queries: list[dict[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/2.0/crm/")
        self.paths.append(path)
        self.queries.append(dict(request.url.params))
        response = await self.inner.handle_async_request(request)
        if not (self.blank_terms and path == "invoice/settings"):
            return response
        body = json.loads(await response.aread())
        body["response"] = {**body["response"], "terms": "  "}
        return httpx.Response(response.status_code, json=body)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def strategy(self, kind: str) -> str | None:
        return strategy(self.paths, self.queries, kind)


async def _resolve_over_http(url: str, invoices: list[Invoice], transport: Recording) -> Resolution:
    async with CrmClient(url, token=TOKEN, transport=transport) as client:
        return await resolve_invoices(invoices, client)


def resolve_in_sandbox(
    server: Any, invoices: list[Invoice], *, together: bool = True, blank_terms: bool = False
) -> list[tuple[Resolution, Recording]]:
    """Resolve all invoices in one call (values listed or looked up, as the resolver decides), or one
    invoice per call (each value then looked up on its own): each call's resolution and requests."""
    batches = [invoices] if together else [[invoice] for invoice in invoices]
    runs = []
    for batch in batches:
        transport = Recording(blank_terms=blank_terms)
        runs.append((asyncio.run(_resolve_over_http(server.url, batch, transport)), transport))
    return runs


def resolve_one_run(server: Any, invoices: list[Invoice]) -> Resolution:
    return resolve_in_sandbox(server, invoices)[0][0]


def merged(runs: list[tuple[Resolution, Recording]]) -> tuple[dict[str, ResolvedInvoice], list[CellError]]:
    resolved: dict[str, ResolvedInvoice] = {}
    errors: list[CellError] = []
    for resolution, _ in runs:
        resolved.update(resolution.resolved)
        errors.extend(resolution.errors)
    return resolved, errors


def _one(contact: str = "1", item: str = "WID-001", **fields: Any) -> Invoice:
    return _invoice(fields.pop("number", "T-1"), contact, item, **fields)


CONTACT_FORMS = [
    ("1", 1),
    ("billing@acme.example", 1),
    ("BILLING@Acme.Example", 1),
    ("john.smith@example.com", 5),
    ("Jane Smith", 3),
    ("Acme Ltd", 1),
    ("Umbrella Inc", 8),
    (" Initech GmbH ", 4),
    ("8", 8),
]
ITEM_FORMS = [
    ("1", 1),
    ("WID-001", 1),
    ("Consulting hour", 3),
    ("00731", 9),
    ("9", 9),
    ("SHIP", 6),
    ("Shipping", 6),
    ("Widget", 1),
    ("Widget XL", 9),
]


@pytest.mark.parametrize("together", [True, False], ids=["one-run", "one-by-one"])
def test_every_contact_and_item_form_resolves(fresh_sandbox: Any, together: bool) -> None:
    invoices = [
        _one(contact, item, number=f"T-{n}")
        for n, ((contact, _), (item, _)) in enumerate(zip(CONTACT_FORMS, ITEM_FORMS, strict=True))
    ]
    runs = resolve_in_sandbox(fresh_sandbox, invoices, together=together)
    resolved, errors = merged(runs)
    assert errors == [] and sorted(resolved) == sorted(i.number for i in invoices)
    assert [resolved[i.number].contact_id for i in invoices] == [cid for _, cid in CONTACT_FORMS]
    assert [resolved[i.number].lines[0].item_id for i in invoices] == [iid for _, iid in ITEM_FORMS]
    expected = "listed" if together else "individual"
    assert all(
        (requests.strategy("contact"), requests.strategy("invoiceitem")) == (expected, expected)
        for _, requests in runs
    )


@pytest.mark.parametrize("together", [True, False], ids=["one-run", "one-by-one"])
def test_ambiguous_and_unknown_references(fresh_sandbox: Any, together: bool) -> None:
    cases = [
        _one("Northwind Traders", number="T-1", row=2),
        _one("1", "Adapter", number="T-2", row=3),
        _one("Nobody Ltd", number="T-3", row=4),
        _one("nobody@nowhere.example", number="T-4", row=5),
        _one("999", "999", number="T-5", row=6),
        _one("acme ltd", "wid-001", number="T-6", row=7),
        _one("smith@example.com", number="T-7", row=8),
    ]
    resolved, errors = merged(resolve_in_sandbox(fresh_sandbox, cases, together=together))
    messages = [{(e.column, e.code): e.message for e in errors if e.row in i.rows} for i in cases]
    northwind = messages[0][("contact", "ambiguous_reference")]
    assert "Northwind Traders (ID 6)" in northwind and "Northwind Traders (ID 7)" in northwind
    adapter = messages[1][("item", "ambiguous_reference")]
    assert "(ID 7, SKU ADP-EU)" in adapter and "(ID 8, SKU ADP-UK)" in adapter
    assert "'Nobody Ltd'" in messages[2][("contact", "unknown_reference")]
    assert "e-mail address 'nobody@nowhere.example'" in messages[3][("contact", "unknown_reference")]
    assert set(messages[4]) == {("contact", "unknown_reference"), ("item", "unknown_reference")}
    assert "did you mean 'Acme Ltd'" in messages[5][("contact", "unknown_reference")]
    assert "did you mean 'WID-001'" in messages[5][("item", "unknown_reference")]
    assert set(messages[6]) == {("contact", "unknown_reference")}
    assert resolved == {}  # an invoice with an unknown reference is not resolved


def test_consignee_and_taxes_by_id_or_name(fresh_sandbox: Any) -> None:
    lines = [
        builders.line(2, "WID-001", 10, tax1="VAT 20%", tax2="4"),
        builders.line(3, "SRV-HOUR", 2, "100.00", tax1="3"),
        builders.line(4, "SHIP", 1, tax1="VAT 21%", tax2="vat 25%"),
    ]
    good = _one(number="T-1", consignee="accounts@globex.example", lines=lines[:2])
    bad = _one(number="T-2", consignee="accounts@globex.example", lines=lines[2:])
    resolution = resolve_one_run(fresh_sandbox, [good, bad])
    done = resolution.resolved["T-1"]
    assert done.consignee_id == 2
    assert [(line.tax1_id, line.tax2_id) for line in done.lines] == [(1, 4), (3, 0)]
    rates = [(line.tax1_rate, line.tax2_rate) for line in done.lines]
    assert rates == [(Decimal(20), Decimal(10)), (Decimal(7), None)]
    errors = {(e.row, e.column): e for e in resolution.errors}
    assert set(errors) == {(4, "tax1"), (4, "tax2")}
    assert "VAT 20%, VAT 25%, Reduced VAT 7%, GST 10%" in errors[4, "tax1"].message
    assert "did you mean 'VAT 25%'" in errors[4, "tax2"].message


def test_blank_price_takes_the_catalogue_price_and_the_total_is_computed(fresh_sandbox: Any) -> None:
    lines = [
        builders.line(2, "GAD-002", 3, discount="10", tax1="VAT 20%"),
        builders.line(3, "Annual support", 1),
        builders.line(4, "USB cable", 5, "2.50"),
    ]
    right = _one(number="T-1", lines=lines)
    wrong = _one(number="T-2", lines=lines, expected_total=Decimal("1578.29"))
    resolution = resolve_one_run(fresh_sandbox, [right, wrong])
    done = resolution.resolved["T-1"]
    assert [line.price for line in done.lines] == [Decimal("19.99"), Decimal("1500"), Decimal("2.50")]
    # 59.97 - 6.00 = 53.97, + 10.79 tax; 1500; 12.50
    assert done.total == Decimal("1577.26") == resolution.totals["T-1"]
    assert resolution.totals["T-2"] == Decimal("1577.26") and "T-2" not in resolution.resolved
    mismatch = [e for e in resolution.errors if e.code == "total_mismatch"]
    assert len(mismatch) == 1 and mismatch[0].column == "invoice_total" and mismatch[0].row == 2
    assert "1,578.29" in mismatch[0].message and "1,577.26" in mismatch[0].message
    assert "half to even" in mismatch[0].message  # how the CRM rounds (issue 12, point 10)


def test_blank_terms_take_the_crm_default(fresh_sandbox: Any) -> None:
    invoice = _one(terms=None)
    [(resolution, requests)] = resolve_in_sandbox(fresh_sandbox, [invoice])
    assert resolution.errors == ()
    assert resolution.resolved["T-1"].terms == "Payment is due within 30 days of the invoice date."
    assert invoice.terms is None  # never written into
    assert requests.paths.count("invoice/settings") == 1


def test_blank_terms_without_a_crm_default_are_invalid(fresh_sandbox: Any) -> None:
    invoice = _one(terms=None)
    [(resolution, _)] = resolve_in_sandbox(fresh_sandbox, [invoice], blank_terms=True)
    assert [(e.column, e.code, e.row) for e in resolution.errors] == [("terms", "terms", 2)]


def test_currency_and_language_against_the_crm(fresh_sandbox: Any) -> None:
    good = _one(number="T-1", currency="usd", language="de-de", row=2)
    bad = _one(number="T-2", currency="XYZ", language="xx-XX", row=3)
    resolution = resolve_one_run(fresh_sandbox, [good, bad])
    done = resolution.resolved["T-1"]
    assert errors_of(resolution, good) == [] and (done.currency, done.language) == ("USD", "de-DE")
    codes = sorted((e.column, e.code) for e in errors_of(resolution, bad))
    assert codes == [("currency", "currency"), ("language", "language")]


def test_deal_must_exist_and_have_the_contact_as_member(fresh_sandbox: Any) -> None:
    member = _one("Acme Ltd", number="T-1", deal_id=1, row=2)
    outsider = _one("Acme Ltd", number="T-2", deal_id=2, row=3)
    missing = _one("Acme Ltd", number="T-3", deal_id=99, row=4)
    resolution = resolve_one_run(fresh_sandbox, [member, outsider, missing])
    assert errors_of(resolution, member) == [] and "T-1" in resolution.resolved
    assert [(e.column, e.code) for e in errors_of(resolution, outsider)] == [("deal_id", "deal")]
    assert "Globex rollout" in errors_of(resolution, outsider)[0].message
    assert [(e.column, e.code) for e in errors_of(resolution, missing)] == [("deal_id", "deal")]
    assert "No deal with ID 99" in errors_of(resolution, missing)[0].message


def test_billing_and_delivery_addresses_follow_the_contract(fresh_sandbox: Any) -> None:
    # seed: 9 = Acme's Billing address, 10 = Acme's Postal address, 11 = Globex's Postal address
    good = _one(
        "Acme Ltd", number="T-1", billing_address_id=9, consignee="Acme Ltd", delivery_address_id=10, row=2
    )
    good2 = _one("Acme Ltd", number="T-2", consignee="2", delivery_address_id=11, row=3)
    postal_as_billing = _one("Acme Ltd", number="T-3", billing_address_id=10, row=4)
    no_consignee = _one("Acme Ltd", number="T-4", delivery_address_id=10, row=5)
    wrong_consignee = _one(
        "Globex Corporation", number="T-5", consignee="Acme Ltd", delivery_address_id=11, row=6
    )
    invoices = [good, good2, postal_as_billing, no_consignee, wrong_consignee]
    resolution = resolve_one_run(fresh_sandbox, invoices)
    assert errors_of(resolution, good) == [] and errors_of(resolution, good2) == []
    for invoice, column in (
        (postal_as_billing, "billing_address_id"),
        (no_consignee, "delivery_address_id"),
        (wrong_consignee, "delivery_address_id"),
    ):
        assert [(e.column, e.code) for e in errors_of(resolution, invoice)] == [(column, "address")]
    assert "its billing addresses: 9" in errors_of(resolution, postal_as_billing)[0].message
    assert "needs a consignee" in errors_of(resolution, no_consignee)[0].message


def payload(resolved: ResolvedInvoice) -> dict[str, Any]:
    """The create body, spelled exactly as in the API contract."""
    invoice = resolved.invoice
    assert invoice.issue_date is not None and invoice.due_date is not None
    return {
        "number": invoice.number,
        "issueDate": invoice.issue_date.isoformat(),
        "dueDate": invoice.due_date.isoformat(),
        "contactId": resolved.contact_id,
        "consigneeId": resolved.consignee_id or 0,
        "entityId": invoice.deal_id or 0,
        "billingAddressID": invoice.billing_address_id or 0,
        "deliveryAddressID": invoice.delivery_address_id or 0,
        "language": resolved.language,
        "currency": resolved.currency,
        "exchangeRate": str(invoice.exchange_rate),
        "terms": resolved.terms,
        "templateType": invoice.template_type,
        "invoiceLines": [
            {
                "invoiceItemID": line.item_id,
                "invoiceTax1ID": line.tax1_id,
                "invoiceTax2ID": line.tax2_id,
                "quantity": str(line.line.quantity),
                "price": str(line.price),
                "discount": str(line.line.discount),
                "description": line.line.description or "",
            }
            for line in resolved.lines
        ],
    }


async def _post_all(url: str, invoices: list[ResolvedInvoice]) -> list[Any]:
    async with CrmClient(url, token=TOKEN) as client:
        return [await client.post("invoice", payload(invoice)) for invoice in invoices]


def _mixed_invoices() -> list[Invoice]:
    """Valid-looking invoices using every reference kind and form."""

    def line(
        row: int,
        item: str,
        qty: str,
        price: str | None = None,
        disc: str = "0",
        t1: str | None = None,
        t2: str | None = None,
    ) -> Line:
        return builders.line(row, item, qty, price, discount=disc, tax1=t1, tax2=t2)

    return [
        _one(
            "billing@acme.example",
            number="P-1",
            terms=None,
            deal_id=1,
            billing_address_id=9,
            consignee="Acme Ltd",
            delivery_address_id=10,
            lines=[
                line(2, "WID-001", "100", "7.70", "25", "VAT 20%"),
                line(3, "00731", "3", None, "0", "2", "4"),
            ],
        ),
        _one(
            "Jane Smith",
            number="P-2",
            currency="usd",
            language="fr-fr",
            lines=[line(4, "Consulting hour", "7.5", None, "12.5", "Reduced VAT 7%")],
        ),
        _one(
            "john.smith@example.com",
            number="P-3",
            consignee="2",
            delivery_address_id=11,
            deal_id=None,
            lines=[line(5, "9", "0.33", "3.33", "33.33", "1", "GST 10%"), line(6, "SHIP", "1")],
        ),
        _one(
            "6",
            number="P-4",
            currency="GBP",
            language="en-GB",
            lines=[line(7, "ADP-UK", "12", None, "100"), line(8, "Annual support", "1", "0.00")],
        ),
    ]


def test_every_invoice_the_preflight_passes_is_accepted_with_the_same_total(fresh_sandbox: Any) -> None:
    invoices = _mixed_invoices()
    resolution = resolve_one_run(fresh_sandbox, invoices)
    assert resolution.errors == ()
    resolved = [resolution.resolved[i.number] for i in invoices]
    created = asyncio.run(_post_all(fresh_sandbox.url, resolved))
    assert [Decimal(str(answer["cost"])) for answer in created] == [r.total for r in resolved]
    assert created[0]["terms"] == "Payment is due within 30 days of the invoice date."


def test_what_the_preflight_refuses_the_sandbox_refuses_too(fresh_sandbox: Any) -> None:
    """The address and deal rules are the server's: the same invoices posted anyway are refused."""
    refused = [
        _one("Acme Ltd", number="R-1", deal_id=2, row=2),
        _one("Acme Ltd", number="R-2", billing_address_id=10, row=3),
        _one("Acme Ltd", number="R-3", delivery_address_id=10, row=4),
    ]
    resolution = resolve_one_run(fresh_sandbox, refused)
    assert all(errors_of(resolution, invoice) for invoice in refused) and resolution.resolved == {}
    # the same invoices without the refused value resolve: post them with it put back
    twin = resolve_one_run(fresh_sandbox, [_one("Acme Ltd", number="R-0")]).resolved["R-0"]
    for invoice in refused:
        with pytest.raises(CrmRequestError) as caught:
            asyncio.run(_post_all(fresh_sandbox.url, [dataclasses.replace(twin, invoice=invoice)]))
        assert caught.value.status == 400


def test_an_unknown_contact_id_may_be_a_private_one() -> None:
    """A real portal answers 'not found' for a contact private to another user: the message says so."""
    error = reference_error("contact", match_contact("9999", []), 2, "contact", "9999")
    assert error is not None and error.code == "unknown_reference"
    assert "'9999'" in error.message and "private to another user" in error.message


class SkippingListing(MemoryCrm):
    """A listing that leaves out contact 6 (pages shifted under it), found by a look-up of its own."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        if request.url.path.endswith("contact/filter") and "filterValue" not in params:
            self.sent.append("contact/filter")
            self.queries.append(params)
            shown = [c for c in self.contacts if c["id"] != 6]
            return _envelope(shown, total=len(shown))
        return super().__call__(request)


def test_a_reference_the_listing_did_not_show_is_looked_up_before_it_is_called_unknown() -> None:
    # issue 13: "a reference that the listing did not show is looked up before it is called unknown"
    crm = SkippingListing()
    invoices = [
        _invoice("L-1", "billing@acme.example", "WID-001"),
        _invoice("L-2", "ap@northwind.example", "WID-001", row=3),
    ]
    resolution = _resolve(invoices, crm)
    assert resolution.errors == ()
    assert resolution.resolved["L-2"].contact_id == 6
    listing = [q for p, q in zip(crm.sent, crm.queries, strict=True) if p == "contact/filter"]
    assert listing and all(q.get("sortBy") == "id" for q in listing)  # a unique order
    assert "contact/bycontactinfo" in crm.sent
