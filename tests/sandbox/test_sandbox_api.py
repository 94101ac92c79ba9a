"""The sandbox's routes besides create-invoice, by the contract: auth, envelopes, lists, paging, seed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from importer.crm_constants import CURRENCIES
from importer.sandbox import SandboxServer
from tests.sandbox_helpers import GENERIC, error, ok


def create(crm: httpx.Client, number: str, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": number,
        "issueDate": "2026-06-01",
        "dueDate": "2026-07-01",
        "contactId": 1,
        "currency": "EUR",
        "exchangeRate": 1,
        "terms": "Net 30",
        "language": "en-US",
        "invoiceLines": [{"invoiceItemID": 2, "quantity": 1, "price": "19.99"}],
    } | changes
    return dict(ok(crm.post("invoice", json=body), 201))


# Authentication


def login(url: str, user: str = "admin@example.com", password: str = "sandbox") -> httpx.Response:
    return httpx.post(f"{url}/api/2.0/authentication", json={"userName": user, "password": password})


@pytest.mark.parametrize("header", [{}, {"Authorization": "wrong"}, {"Authorization": "Bearer wrong"}])
def test_missing_or_wrong_token_is_a_plain_text_401(
    fresh_sandbox: SandboxServer, header: dict[str, str]
) -> None:
    response = httpx.get(f"{fresh_sandbox.url}/api/2.0/crm/invoice/settings", headers=header)
    assert response.status_code == 401
    assert response.text == "Unauthorized"
    assert response.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("header", ["sandbox", "Bearer sandbox", "bearer sandbox"])
def test_the_fixed_token_is_accepted_bare_or_as_bearer(fresh_sandbox: SandboxServer, header: str) -> None:
    response = httpx.get(
        f"{fresh_sandbox.url}/api/2.0/crm/invoice/settings", headers={"Authorization": header}
    )
    assert ok(response)["prefix"] == "INV-"


def test_login_issues_a_token_that_works_afterwards(fresh_sandbox: SandboxServer) -> None:
    answer = ok(login(fresh_sandbox.url, user="Admin@Example.com"), 201)
    assert answer["token"] and answer["token"] != "sandbox"
    assert answer["expires"].endswith("Z") and int(answer["expires"][:4]) >= 2026
    for header in (answer["token"], f"Bearer {answer['token']}"):
        response = httpx.get(
            f"{fresh_sandbox.url}/api/2.0/crm/invoice/tax", headers={"Authorization": header}
        )
        assert len(ok(response)) == 4


def test_login_answers_with_a_json_suffix_too(fresh_sandbox: SandboxServer) -> None:
    body = {"userName": "admin@example.com", "password": "sandbox"}
    assert ok(httpx.post(f"{fresh_sandbox.url}/api/2.0/authentication.json", json=body), 201)["token"]


def test_wrong_password_is_a_500_with_the_error_envelope(fresh_sandbox: SandboxServer) -> None:
    assert error(login(fresh_sandbox.url, password="nope"), 500) == "User authentication failed"
    assert error(login(fresh_sandbox.url, user="someone@example.com"), 500) == "User authentication failed"


def test_more_than_five_failures_in_a_minute_lock_the_login(fresh_sandbox: SandboxServer) -> None:
    for _ in range(5):
        assert error(login(fresh_sandbox.url, password="nope"), 500) == "User authentication failed"
    assert error(login(fresh_sandbox.url, password="nope"), 500) == "Login Fail. Too many attempts"
    assert error(login(fresh_sandbox.url), 500) == "Login Fail. Too many attempts"
    fresh_sandbox.reset()
    assert ok(login(fresh_sandbox.url), 201)["token"]


def test_the_lock_is_per_login(fresh_sandbox: SandboxServer) -> None:
    for _ in range(6):
        login(fresh_sandbox.url, user="intruder@example.com", password="x")
    assert ok(login(fresh_sandbox.url), 201)["token"]


def test_configured_token_and_credentials_are_used(sandbox_factory: Any) -> None:
    server = sandbox_factory(token="t0k", user="me@corp.example", password="pw", seed=False)
    assert (
        httpx.get(f"{server.url}/api/2.0/crm/invoice/tax", headers={"Authorization": "sandbox"}).status_code
        == 401
    )
    assert ok(httpx.get(f"{server.url}/api/2.0/crm/invoice/tax", headers={"Authorization": "t0k"})) == []
    assert error(login(server.url), 500) == "User authentication failed"
    assert ok(login(server.url, "me@corp.example", "pw"), 201)["token"]


# Envelopes, suffixes, paging


def test_success_envelope_of_a_list_and_of_an_object(crm: httpx.Client) -> None:
    # "`count` and `startIndex` may be left out when 0": the sandbox leaves them out
    listed = crm.get("invoice/tax").json()
    assert {k: listed[k] for k in ("count", "status", "statusCode")} == {
        "count": 4,
        "status": 0,
        "statusCode": 200,
    }
    assert "startIndex" not in listed
    empty = crm.get("invoice/filter").json()
    assert "count" not in empty and "startIndex" not in empty and empty["response"] == []
    single = crm.get("contact/1").json()
    assert (single["count"], single["status"], single["statusCode"]) == (1, 0, 200)


@pytest.mark.parametrize(
    "path", ["invoiceitem/1.json", "INVOICEITEM/1", "invoiceitem/1/", "InvoiceItem/1.json"]
)
def test_routes_answer_with_a_json_suffix_and_in_any_case(crm: httpx.Client, path: str) -> None:
    assert ok(crm.get(path))["title"] == "Widget"


def test_record_not_found_is_404(crm: httpx.Client) -> None:
    for path in (
        "invoice/5",
        "invoiceitem/99",
        "contact/99",
        "contact/99/data",
        "opportunity/9",
        "opportunity/9/contact",
    ):
        assert error(crm.get(path), 404) == "Not found"
    assert error(crm.delete("invoice/5"), 404) == "Not found"
    assert error(crm.post("contact/99/data", json={"infoType": "Email", "data": "a@b.c"}), 404) == "Not found"


def test_paging_takes_count_and_start_index_and_reports_total(crm: httpx.Client) -> None:
    body = crm.get("invoiceitem/filter", params={"count": 3, "startIndex": 2, "sortBy": "Id"}).json()
    assert [item["id"] for item in body["response"]] == [3, 4, 5]
    assert (body["count"], body["startIndex"], body["total"]) == (3, 2, 9)
    params: dict[str, str | int] = {"count": 5, "startIndex": 5, "sortBy": "id"}
    contacts = crm.get("contact/filter", params=params).json()
    assert [c["id"] for c in contacts["response"]] == [6, 7, 8, 9]
    assert (contacts["count"], contacts["total"]) == (4, 9)


def test_paging_count_is_at_most_1000(crm: httpx.Client) -> None:
    for i in range(995):
        crm.post("contact/company", json={"companyName": f"C{i}"})
    contacts = crm.get("contact/filter", params={"count": 5000}).json()
    assert (contacts["count"], contacts["total"]) == (1000, 1004)
    assert crm.get("contact/filter", params={"startIndex": 1000}).json()["count"] == 4
    assert crm.get("contact/filter").json()["count"] == 1000


# Invoices


def test_by_number_is_thin_and_case_insensitive(crm: httpx.Client) -> None:
    created = create(crm, "INV-Q1")
    thin = ok(crm.get("invoice/bynumber", params={"number": "inv-q1"}))
    assert thin["id"] == created["id"] and thin["number"] == "INV-Q1"
    # "a thin invoice: `"contact": null`, `"invoiceLines": null`, `"cost": 0` (the keys are present ...)"
    assert thin["contact"] is None and thin["cost"] == 0 and thin["invoiceLines"] is None
    assert error(crm.get("invoice/bynumber", params={"number": "INV-404"}), 404) == "Not found"
    assert error(crm.get("invoice/bynumber", params={"number": ""}), 400) == GENERIC


def test_by_number_exist_is_the_idempotency_check(crm: httpx.Client) -> None:
    assert ok(crm.get("invoice/bynumber/exist", params={"number": "INV-Q1"})) is False
    create(crm, "INV-Q1")
    assert ok(crm.get("invoice/bynumber/exist.json", params={"number": "INV-Q1"})) is True
    assert ok(crm.get("invoice/bynumber/exist", params={"number": "inv-q1"})) is True
    assert error(crm.get("invoice/bynumber/exist", params={"number": ""}), 400) == GENERIC


def test_delete_removes_the_invoice(crm: httpx.Client) -> None:
    created = create(crm, "INV-1")
    assert ok(crm.delete(f"invoice/{created['id']}"))["id"] == created["id"]
    assert error(crm.get(f"invoice/{created['id']}"), 404) == "Not found"
    assert ok(crm.get("invoice/bynumber/exist", params={"number": "INV-1"})) is False
    assert create(crm, "INV-1")["id"] == created["id"] + 1


def test_invoice_filter_lists_without_lines_with_total_and_filters(crm: httpx.Client) -> None:
    create(crm, "INV-003", issueDate="2026-03-10", dueDate="2026-04-10", description="March hardware")
    create(crm, "INV-001", issueDate="2026-01-10", dueDate="2026-02-10", currency="USD", contactId=2)
    create(crm, "INV-002", issueDate="2026-02-10", dueDate="2026-03-10", description="Spare parts")

    def listed(**params: Any) -> list[str]:
        body = crm.get("invoice/filter", params=params).json()
        # "`total` ... ignoring the status, date and currency filters"
        assert body["total"] == 3 or "filterValue" in params
        assert all("invoiceLines" not in row for row in body["response"])
        return [row["number"] for row in body["response"]]

    assert listed() == ["INV-001", "INV-002", "INV-003"]
    assert listed(sortBy="IssueDate", sortOrder="descending") == ["INV-003", "INV-002", "INV-001"]
    assert listed(sortBy="Id") == ["INV-003", "INV-001", "INV-002"]
    assert listed(sortBy="Contact") == ["INV-003", "INV-002", "INV-001"]
    assert listed(currency="usd") == ["INV-001"]
    assert listed(status="Draft") == ["INV-001", "INV-002", "INV-003"]
    assert listed(status=4) == []
    assert listed(issueDateFrom="2026-02-01", issueDateTo="2026-03-10") == ["INV-002", "INV-003"]
    assert listed(dueDateTo="2026-03-10") == ["INV-001", "INV-002"]
    assert listed(filterValue="INV-00") == ["INV-001", "INV-002", "INV-003"]
    assert listed(filterValue="hard") == ["INV-003"]
    assert listed(filterValue="parts") == ["INV-002"]
    assert listed(filterValue="ardware") == []
    page = crm.get("invoice/filter", params={"count": 1, "startIndex": 1}).json()
    assert ([row["number"] for row in page["response"]], page["total"], page["startIndex"]) == (
        ["INV-002"],
        3,
        1,
    )
    assert page["response"][0]["cost"] == 19.99
    message = error(crm.get("invoice/filter", params={"issueDateFrom": "10/01/2026"}), 400)
    assert message == "invalid date time format: 10/01/2026"


def test_invoice_settings(crm: httpx.Client) -> None:
    assert ok(crm.get("invoice/settings")) == {
        "autogenerated": False,
        "prefix": "INV-",
        "number": "0000001",
        "terms": "Payment is due within 30 days of the invoice date.",
        "companyName": "Sandbox Company",
        "companyLogoID": 0,
        "companyAddress": ok(crm.get("invoice/settings"))["companyAddress"],
    }


# Items and taxes


SEED_ITEMS = [
    (1, "Widget", "WID-001", 7.7),
    (2, "Gadget", "GAD-002", 19.99),
    (3, "Consulting hour", "SRV-HOUR", 120.0),
    (4, "Annual support", "SUP-ANNUAL", 1500.0),
    (5, "USB cable", "CAB-USB", 2.9),
    (6, "Shipping", "SHIP", 15.0),
    (7, "Adapter", "ADP-EU", 4.5),
    (8, "Adapter", "ADP-UK", 4.75),
    (9, "Widget XL", "00731", 12.0),
]


def test_seeded_items(crm: httpx.Client) -> None:
    items = ok(crm.get("invoiceitem/filter", params={"sortBy": "Id"}))
    assert [(i["id"], i["title"], i["stockKeepingUnit"], i["price"]) for i in items] == SEED_ITEMS
    assert items[0]["currency"]["abbreviation"] == "EUR"
    assert {"trackInvenory", "stockQuantity", "invoiceTax1", "invoiceTax2", "description"} <= set(items[0])


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("widget", [1, 9]),
        ("XL", [9]),
        ("WID", [1, 9]),
        ("007", [9]),
        ("001", []),
        ("hour", [3]),
        ("ADP", [7, 8]),
        ("cable usb", [5]),
        ("idget", []),
    ],
)
def test_item_filter_matches_the_start_of_a_word(crm: httpx.Client, value: str, ids: list[int]) -> None:
    body = crm.get("invoiceitem/filter", params={"filterValue": value, "sortBy": "id"}).json()
    assert [item["id"] for item in body["response"]] == ids
    assert body["total"] == len(ids)


def test_get_and_create_an_item(crm: httpx.Client) -> None:
    assert ok(crm.get("invoiceitem/9"))["stockKeepingUnit"] == "00731"
    body = {"title": "Widget", "price": "3.335", "sku": "WID-002", "description": "Small", "invoiceTax1id": 1}
    created = ok(crm.post("invoiceitem", json=body), 201)
    assert (created["id"], created["title"], created["price"]) == (10, "Widget", 3.34)
    assert created["invoiceTax1"]["name"] == "VAT 20%" and created["invoiceTax2"] is None
    assert ok(crm.get("invoiceitem/10"))["stockKeepingUnit"] == "WID-002"


@pytest.mark.parametrize(
    "body",
    [
        {"price": 1},
        {"title": " ", "price": 1},
        {"title": "X"},
        {"title": "X", "price": 0},
        {"title": "X", "price": "100000000.00"},
        {"title": "X", "price": 1, "invoiceTax1id": 99},
    ],
)
def test_invalid_items_are_refused(crm: httpx.Client, body: dict[str, Any]) -> None:
    assert error(crm.post("invoiceitem", json=body), 400) == GENERIC


def test_seeded_taxes(crm: httpx.Client) -> None:
    taxes = ok(crm.get("invoice/tax"))
    assert [(t["id"], t["name"], t["rate"]) for t in taxes] == [
        (1, "VAT 20%", 20.0),
        (2, "VAT 25%", 25.0),
        (3, "Reduced VAT 7%", 7.0),
        (4, "GST 10%", 10.0),
    ]
    assert "description" in taxes[0]


def test_create_tax_and_its_two_named_errors(crm: httpx.Client) -> None:
    created = ok(crm.post("invoice/tax", json={"name": "Zero", "description": "none", "rate": "0"}), 201)
    assert (created["id"], created["name"], created["rate"]) == (5, "Zero", 0.0)
    assert (
        error(crm.post("invoice/tax", json={"name": "", "rate": 5}), 400)
        == "The tax name field cannot be empty"
    )
    assert error(crm.post("invoice/tax", json={"rate": 5}), 400) == "The tax name field cannot be empty"
    assert (
        error(crm.post("invoice/tax", json={"name": "vat 20%", "rate": 5}), 400)
        == "The tax name already exists"
    )
    assert len(ok(crm.get("invoice/tax"))) == 5


# Contacts and deals


def test_seeded_contacts_with_their_emails_in_common_data(crm: httpx.Client) -> None:
    contacts = ok(crm.get("contact/filter", params={"sortBy": "id"}))
    assert [(c["id"], c["displayName"], c["isCompany"]) for c in contacts] == [
        (1, "Acme Ltd", True),
        (2, "Globex Corporation", True),
        (3, "Jane Smith", False),
        (4, "Initech GmbH", True),
        (5, "John Smith", False),
        (6, "Northwind Traders", True),
        (7, "Northwind Traders", True),
        (8, "Umbrella Inc", True),
        (9, "Pat Private", False),
    ]
    emails = [[row["data"] for row in c["commonData"] if row["infoType"] == 1] for c in contacts]
    assert emails == [
        ["billing@acme.example"],
        ["accounts@globex.example"],
        ["jane.smith@example.com"],
        ["rechnung@initech.example"],
        ["John.Smith@Example.com"],
        ["ap@northwind.example"],
        ["finance@northwind-uk.example"],
        ["invoices@umbrella.example"],
        ["pat@private.example"],
    ]
    assert [c["isPrivate"] for c in contacts] == [False] * 8 + [True]
    jane = contacts[2]
    assert (jane["firstName"], jane["lastName"]) == ("Jane", "Smith")
    assert contacts[0]["companyName"] == "Acme Ltd"


def test_seeded_contact_info_ids(crm: httpx.Client) -> None:
    acme = ok(crm.get("contact/1/data"))
    assert [(r["id"], r["infoType"], r["category"]) for r in acme] == [(1, 1, 1), (9, 7, 3), (10, 7, 1)]
    assert [(r["id"], r["infoType"], r["category"]) for r in ok(crm.get("contact/2/data"))] == [
        (2, 1, 1),
        (11, 7, 1),
    ]
    for contact_id in range(3, 9):
        assert [r["id"] for r in ok(crm.get(f"contact/{contact_id}/data"))] == [contact_id]
    assert [(r["id"], r["data"]) for r in ok(crm.get("contact/9/data"))] == [(12, "pat@private.example")]


@pytest.mark.parametrize(
    ("value", "ids"),
    [
        ("smith", [3, 5]),
        ("North", [6, 7]),
        ("trad", [6, 7]),
        ("corp", [2]),
        ("mith", []),
        ("jane smith", [3]),
    ],
)
def test_contact_filter_matches_the_start_of_a_word_of_the_name(
    crm: httpx.Client, value: str, ids: list[int]
) -> None:
    body = crm.get("contact/filter", params={"filterValue": value, "sortBy": "Id"}).json()
    assert [c["id"] for c in body["response"]] == ids
    assert body["total"] == len(ids)


@pytest.mark.parametrize(
    ("data", "ids"),
    [("john.smith@example.com", [5]), ("SMITH@", [3, 5]), ("northwind", [6, 7]), ("nobody@x", [])],
)
def test_by_contact_info_is_a_case_insensitive_substring_match(
    crm: httpx.Client, data: str, ids: list[int]
) -> None:
    found = ok(crm.get("contact/bycontactinfo", params={"infoType": "Email", "data": data}))
    assert [c["id"] for c in found] == ids


def test_by_contact_info_needs_the_info_type(crm: httpx.Client) -> None:
    assert ok(crm.get("contact/bycontactinfo", params={"infoType": 1, "data": "acme"}))[0]["id"] == 1
    assert ok(crm.get("contact/bycontactinfo", params={"infoType": "Phone", "data": "acme"})) == []
    assert error(crm.get("contact/bycontactinfo", params={"data": "acme"}), 400) == GENERIC
    assert error(crm.get("contact/bycontactinfo", params={"infoType": "Fax", "data": "x"}), 400) == GENERIC


def test_create_person_and_company_and_their_info_rows(crm: httpx.Client) -> None:
    company = ok(crm.post("contact/company", json={"companyName": "Hooli"}), 201)
    assert (company["id"], company["displayName"], company["isCompany"]) == (10, "Hooli", True)
    person = ok(
        crm.post("contact/person", json={"firstName": "Ada", "lastName": "Byron", "companyId": 10}), 201
    )
    assert (person["id"], person["displayName"], person["company"]["id"]) == (11, "Ada Byron", 10)
    info = ok(
        crm.post(
            "contact/11/data",
            json={"infoType": "Email", "data": "ada@hooli.example", "isPrimary": True, "category": "Work"},
        ),
        201,
    )
    assert (info["id"], info["infoType"], info["category"], info["isPrimary"]) == (13, 1, 1, True)
    phone = ok(crm.post("contact/11/data", json={"infoType": 0, "data": "+1 555", "category": "Mobile"}), 201)
    assert (phone["infoType"], phone["category"]) == (0, 2)
    assert ok(crm.get("contact/11"))["commonData"][0]["data"] == "ada@hooli.example"
    assert error(crm.post("contact/person", json={"firstName": "Solo"}), 400) == GENERIC
    assert error(crm.post("contact/company", json={}), 400) == GENERIC
    assert error(crm.post("contact/11/data", json={"infoType": "Email", "data": ""}), 400) == GENERIC


def test_address_rows_feed_the_invoice_address_rules(crm: httpx.Client) -> None:
    address = {
        "street": "5 Main St",
        "city": "Oslo",
        "zip": "0150",
        "country": "Norway",
        "category": 3,
        "isPrimary": True,
    }
    row = ok(crm.post("contact/4/addressdata", json={"address": address}), 201)
    assert (row["id"], row["infoType"], row["category"]) == (13, 7, 3)
    postal = ok(crm.post("contact/4/addressdata", json={"address": address | {"category": "Postal"}}), 201)
    assert postal["category"] == 1
    assert ok(crm.get("contact/4"))["addresses"][0]["city"] == "Oslo"
    create(crm, "INV-A", contactId=4, billingAddressID=13, consigneeId=4, deliveryAddressID=14)
    response = crm.post(
        "invoice",
        json={
            "number": "INV-B",
            "issueDate": "2026-06-01",
            "dueDate": "2026-06-01",
            "contactId": 4,
            "billingAddressID": 14,
            "currency": "EUR",
            "exchangeRate": 1,
            "terms": "t",
            "language": "en-US",
            "invoiceLines": [{"invoiceItemID": 1, "quantity": 1}],
        },
    )
    assert error(response, 400) == GENERIC


def test_deals_with_their_contact_and_members(crm: httpx.Client) -> None:
    deal = ok(crm.get("opportunity/1"))
    assert (deal["id"], deal["title"], deal["contact"]["id"], deal["members"]) == (
        1,
        "Acme renewal 2026",
        1,
        [1],
    )
    assert ok(crm.get("opportunity/2"))["members"] == [2]
    assert [c["id"] for c in ok(crm.get("opportunity/1/contact"))] == [1]
    new = ok(crm.post("opportunity", json={"title": "Big one", "contactId": 3, "members": [5, 6]}), 201)
    assert (new["id"], new["members"]) == (3, [3, 5, 6])
    assert [c["displayName"] for c in ok(crm.get("opportunity/3/contact"))] == [
        "Jane Smith",
        "John Smith",
        "Northwind Traders",
    ]
    assert error(crm.post("opportunity", json={"title": "x", "members": [99]}), 400) == GENERIC


# Currencies


NOT_CONVERTIBLE = "AMD AOA AZN BYN BYR CRC CUP DZD ETB GEL KZT LTL LVL MNT TTD UZS VEF"


def test_all_74_currencies_with_their_flags(crm: httpx.Client) -> None:
    currencies = ok(crm.get("settings/currency"))
    assert len(currencies) == 74
    assert [c["abbreviation"] for c in currencies] == [c.abbreviation for c in CURRENCIES]
    by_code = {c["abbreviation"]: c for c in currencies}
    assert {code for code, c in by_code.items() if c["isBasic"]} == {
        "AUD",
        "CAD",
        "CHF",
        "EUR",
        "GBP",
        "JPY",
        "USD",
    }
    not_convertible = {code for code, c in by_code.items() if not c["isConvertable"]}
    assert not_convertible == set(NOT_CONVERTIBLE.split())
    assert by_code["EUR"] == {
        "title": "Euro",
        "symbol": "€",
        "abbreviation": "EUR",
        "cultureName": "EU",
        "isConvertable": True,
        "isBasic": True,
    }
