"""The pre-flight stage (importer.resolve): matching rules on plain data, request economy on an in-memory
CRM, and every reference kind by every form against the sandbox over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from importer.errors import CrmRequestError
from importer.models import CellError, Invoice, Line
from importer.resolve import (
    ContactRecord,
    ItemRecord,
    ReferenceData,
    TaxRecord,
    contact_record,
    match_contact,
    match_item,
    match_tax,
    reference_error,
    resolve_invoices,
)

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


def test_contact_record_reads_emails_by_number_or_name() -> None:
    record = contact_record({"id": 3, "displayName": "Jane Smith", "commonData": [
        {"infoType": 1, "data": "a@x.example"}, {"infoType": "Email", "data": "b@x.example"},
        {"infoType": 0, "data": "+1 555"}]})
    assert record == ContactRecord(3, "Jane Smith", ("a@x.example", "b@x.example"))


# ------------------------------------------------------------------------------------------ an in-memory CRM


def _contact(cid: int, name: str, email: str) -> dict[str, Any]:
    return {"id": cid, "displayName": name, "isCompany": True,
            "commonData": [{"id": cid * 10, "infoType": 1, "category": 0, "data": email, "isPrimary": True}]}


class MemoryCrm:
    """Just enough of the contract to count the requests the resolver sends."""

    def __init__(self, extra_contacts: int = 0, extra_items: int = 0) -> None:
        self.contacts = [_contact(1, "Acme Ltd", "billing@acme.example"),
                         _contact(6, "Northwind Traders", "ap@northwind.example"),
                         _contact(7, "Northwind Traders", "finance@northwind-uk.example")]
        self.contacts += [_contact(100 + n, f"Filler {n}", f"f{n}@filler.example")
                          for n in range(extra_contacts)]
        self.items = [{"id": 1, "title": "Widget", "stockKeepingUnit": "WID-001", "price": 7.7},
                      {"id": 9, "title": "Widget XL", "stockKeepingUnit": "00731", "price": 12.0}]
        self.items += [{"id": 100 + n, "title": f"Filler {n}", "stockKeepingUnit": f"F{n}", "price": 1.0}
                       for n in range(extra_items)]
        self.sent: list[str] = []

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        self.sent.append(path)
        await asyncio.sleep(0)
        params = params or {}
        kind, _, rest = path.partition("/")
        if path == "invoice/tax":
            return [{"id": 1, "name": "VAT 20%", "rate": 20}]
        if path == "settings/currency":
            return [{"abbreviation": "EUR"}, {"abbreviation": "USD"}]
        if path == "invoice/settings":
            return {"terms": "Net 30"}
        if path == "contact/bycontactinfo":
            data = str(params["data"]).casefold()
            return [c for c in self.contacts if data in c["commonData"][0]["data"].casefold()]
        records = self.contacts if kind == "contact" else self.items
        if rest.isdigit():
            found = [r for r in records if r["id"] == int(rest)]
            if not found:
                raise CrmRequestError(404, "Not found", method="GET", path=path)
            return found[0]
        raise AssertionError(f"unexpected GET {path}")

    async def get_page(
        self, path: str, params: Mapping[str, Any] | None = None, *, count: int, start: int = 0
    ) -> tuple[list[Any], int | None]:
        self.sent.append(path)
        await asyncio.sleep(0)
        records = self.contacts if path == "contact/filter" else self.items
        value = str((params or {}).get("filterValue", "")).casefold()
        if value:
            key = "displayName" if path == "contact/filter" else "title"
            records = [r for r in records if str(r[key]).casefold().startswith(value)
                       or str(r.get("stockKeepingUnit", "")).casefold().startswith(value)]
        return records[start:start + count], len(records)


def _invoice(number: str, contact: str, *items: str, row: int = 2, **fields: Any) -> Invoice:
    lines = [Line(row=row + n, item=item, quantity=Decimal(1), price=None) for n, item in enumerate(items)]
    return Invoice(number=number, rows=[line.row for line in lines], lines=lines, issue_date=date(2026, 6, 1),
                   due_date=date(2026, 7, 1), contact=contact, currency="EUR", terms="Net 30", **fields)


def _resolve(invoices: list[Invoice], crm: Any) -> ReferenceData:
    return asyncio.run(resolve_invoices(invoices, crm))


def test_one_value_each_is_looked_up_individually() -> None:
    crm = MemoryCrm()
    invoice = _invoice("A-1", "billing@acme.example", "WID-001")
    refs = _resolve([invoice], crm)
    assert invoice.errors == []
    assert (invoice.contact_id, invoice.lines[0].item_id, invoice.lines[0].price) == (1, 1, Decimal("7.7"))
    assert refs.strategy == {"contacts": "individual", "items": "individual"}
    assert sorted(crm.sent) == ["contact/bycontactinfo", "invoiceitem/filter", "settings/currency"]


def test_small_crm_is_listed_in_one_request_per_kind() -> None:
    crm = MemoryCrm(extra_contacts=10, extra_items=10)
    invoices = [_invoice("A-1", "1", "WID-001", "00731"), _invoice("A-2", "ap@northwind.example", "9", row=5)]
    refs = _resolve(invoices, crm)
    assert [i.errors for i in invoices] == [[], []]
    assert refs.strategy == {"contacts": "listed", "items": "listed"}
    assert sorted(crm.sent) == ["contact/filter", "invoiceitem/filter", "settings/currency"]
    assert refs.requests_sent == len(crm.sent)


def test_large_crm_few_values_costs_one_probe_plus_one_lookup_each() -> None:
    crm = MemoryCrm(extra_contacts=5000)
    invoices = [_invoice(f"A-{n}", value, "WID-001") for n, value in
                enumerate(["1", "ap@northwind.example", "Acme Ltd"])]
    refs = _resolve(invoices, crm)
    assert refs.strategy["contacts"] == "individual"
    assert refs.requests["contacts"] == 1 + 3
    assert [i.contact_id for i in invoices] == [1, 6, 1]


def test_large_crm_many_values_is_listed_in_concurrent_pages() -> None:
    crm = MemoryCrm(extra_contacts=2500)
    invoices = [_invoice(f"A-{n}", f"f{n}@filler.example", "WID-001") for n in range(40)]
    refs = _resolve(invoices, crm)
    assert refs.strategy["contacts"] == "listed" and refs.requests["contacts"] == 3
    assert [i.contact_id for i in invoices] == [100 + n for n in range(40)]


def test_invoices_with_errors_are_left_alone_and_cost_nothing() -> None:
    crm = MemoryCrm()
    invoice = _invoice("A-1", "nobody@nowhere.example", "WID-001")
    invoice.errors.append(CellError("bad date", row=2, column="issue_date", code="date"))
    refs = _resolve([invoice], crm)
    assert crm.sent == [] and refs.requests_sent == 0 and invoice.contact_id is None


def test_each_distinct_value_is_looked_up_once() -> None:
    crm = MemoryCrm(extra_contacts=5000)
    invoices = [_invoice(f"A-{n}", "BILLING@acme.example" if n % 2 else "billing@acme.example", "WID-001")
                for n in range(20)]
    _resolve(invoices, crm)
    assert crm.sent.count("contact/bycontactinfo") == 1 and crm.sent.count("invoiceitem/filter") == 1


def test_unknown_and_ambiguous_errors_sit_on_the_right_rows() -> None:
    crm = MemoryCrm()
    invoice = _invoice("A-1", "Northwind Traders", "WID-001", "Gizmo", row=7)
    _resolve([invoice], crm)
    by_column = {e.column: e for e in invoice.errors}
    assert by_column["contact"].code == "ambiguous_reference" and by_column["contact"].row == 7
    assert by_column["item"].code == "unknown_reference" and by_column["item"].row == 8
    assert by_column["item"].value == "Gizmo" and "'Gizmo'" in by_column["item"].message
    assert invoice.total is None
