"""The sandbox's create-invoice route by the contract: rules, answers and computed cost, over real HTTP."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.sandbox_helpers import GENERIC


def invoice(number: str = "INV-1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "number": number,
        "issueDate": "2026-06-01",
        "dueDate": "2026-07-01",
        "contactId": 1,
        "currency": "EUR",
        "exchangeRate": 1,
        "terms": "Net 30",
        "language": "en-US",
        "invoiceLines": [{"invoiceItemID": 1, "quantity": 100, "price": "7.70", "discount": 25}],
    }
    body.update(changes)
    return body


def line(**fields: Any) -> dict[str, Any]:
    return {"invoiceItemID": 1, "quantity": 1, "price": "1.00"} | fields


def assert_generic_400(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.json() == {
        "status": 1,
        "statusCode": 400,
        "error": {"message": GENERIC, "hresult": -2147024809, "data": {}},
    }


def numbers(crm: httpx.Client) -> list[str]:
    return [row["number"] for row in crm.get("invoice/filter").json()["response"]]


def test_create_answers_201_with_the_full_invoice(crm: httpx.Client) -> None:
    response = crm.post("invoice", json=invoice(description="first"))
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["statusCode"], body["count"]) == (0, 201, 1)
    created = body["response"]
    assert created["id"] == 1
    assert created["status"] == {"id": 1, "title": "Draft"}
    assert created["number"] == "INV-1"
    assert created["issueDate"] == "2026-06-01T00:00:00.0000000Z"
    assert created["dueDate"] == "2026-07-01T00:00:00.0000000Z"
    assert created["contact"]["id"] == 1 and created["contact"]["displayName"] == "Acme Ltd"
    assert created["contact"]["isCompany"] is True
    assert created["consignee"] is None and created["entity"] is None
    assert created["currency"]["abbreviation"] == "EUR" and created["currency"]["title"] == "Euro"
    assert created["exchangeRate"] == 1.0 and created["language"] == "en-US" and created["templateType"] == 0
    assert created["terms"] == "Net 30" and created["description"] == "first"
    assert created["cost"] == 577.5
    assert created["invoiceLines"] == [
        {
            "id": 1,
            "invoiceID": 1,
            "invoiceItemID": 1,
            "invoiceTax1ID": 0,
            "invoiceTax2ID": 0,
            "sortOrder": 0,
            "description": "",  # "A missing line description comes back as `""`."
            "quantity": 100.0,
            "price": 7.7,
            "discount": 25.0,
        }
    ]
    assert crm.get("invoice/1").json()["response"] == created


@pytest.mark.parametrize(
    ("price", "quantity", "discount", "taxes", "cost"),
    [
        ("2.90", "1", "0", [2], "3.62"),  # 0.725 tax: half-even 0.72, half-up would give 3.63
        ("0.10", "0.25", "0", [], "0.02"),  # 0.025 -> 0.02
        ("0.30", "0.25", "0", [], "0.08"),  # 0.075 -> 0.08
        ("10.10", "1", "12.5", [], "8.84"),  # discount 1.2625 -> 1.26
        ("1.00", "1", "0", [1, 2], "1.45"),  # two taxes side by side on the net, not compounded
        ("100.00", "3", "10", [3], "288.90"),  # 270 net + 18.90
        ("4.50", "2", "0", [4, 3], "10.53"),  # 9 + 0.90 + 0.63
    ],
)
def test_cost_rounds_half_even_on_two_decimal_values(
    crm: httpx.Client, price: str, quantity: str, discount: str, taxes: list[int], cost: str
) -> None:
    tax_fields = {f"invoiceTax{i}ID": tax for i, tax in enumerate(taxes, start=1)}
    body = invoice(invoiceLines=[line(price=price, quantity=quantity, discount=discount, **tax_fields)])
    response = crm.post("invoice", json=body)
    assert response.status_code == 201, response.text
    assert Decimal(str(response.json()["response"]["cost"])) == Decimal(cost)


def test_cost_sums_the_lines_and_values_are_stored_with_two_decimals(crm: httpx.Client) -> None:
    lines = [
        line(price="2.90", invoiceTax1ID=2),
        line(price=19.99, quantity="3", discount="0.004"),
        line(price="0.005", quantity=2),
    ]
    response = crm.post("invoice", json=invoice(exchangeRate="1.237", invoiceLines=lines))
    created = response.json()["response"]
    # "MySQL rounds what it stores **half away from zero**": 3.62 + 59.97 (discount 0.004 stored as 0.00)
    # + 0.01 * 2 (price 0.005 stored as 0.01)
    assert Decimal(str(created["cost"])) == Decimal("63.61")
    assert created["exchangeRate"] == 1.24
    assert [row["discount"] for row in created["invoiceLines"]] == [0.0, 0.0, 0.0]
    assert [row["price"] for row in created["invoiceLines"]] == [2.9, 19.99, 0.01]
    assert [row["sortOrder"] for row in created["invoiceLines"]] == [0, 1, 2]


def test_line_ids_and_sort_order_sent_by_the_client_are_ignored(crm: httpx.Client) -> None:
    lines = [line(id=77, invoiceID=99, sortOrder=5, description="a"), line(sortOrder=0, description="b")]
    created = crm.post("invoice", json=invoice(invoiceLines=lines)).json()["response"]
    assert [
        (row["id"], row["invoiceID"], row["sortOrder"], row["description"]) for row in created["invoiceLines"]
    ] == [
        (1, 1, 0, "a"),
        (2, 1, 1, "b"),
    ]


def test_missing_price_is_zero_not_the_catalogue_price(crm: httpx.Client) -> None:
    created = crm.post("invoice", json=invoice(invoiceLines=[{"invoiceItemID": 4, "quantity": 1}]))
    assert created.json()["response"]["cost"] == 0.0


@pytest.mark.parametrize("spelling", ["invoiceItemID", "InvoiceItemID", "invoiceitemid"])
def test_line_item_id_is_read_under_its_three_spellings(crm: httpx.Client, spelling: str) -> None:
    body = invoice(invoiceLines=[{spelling: 3, "Quantity": 2, "price": "120.00", "invoicetax1id": 1}])
    response = crm.post("invoice", json=body)
    assert response.status_code == 201, response.text
    created = response.json()["response"]
    assert created["invoiceLines"][0]["invoiceItemID"] == 3
    assert created["invoiceLines"][0]["invoiceTax1ID"] == 1
    assert created["cost"] == 288.0


@pytest.mark.parametrize("spelling", ["invoiceItemId", "INVOICEITEMID", "itemId", "InvoiceItemId"])
def test_other_spellings_of_the_item_id_are_ignored_and_the_request_fails(
    crm: httpx.Client, spelling: str
) -> None:
    assert_generic_400(crm.post("invoice", json=invoice(invoiceLines=[{spelling: 1, "quantity": 1}])))
    assert numbers(crm) == []


def test_other_spelling_of_a_tax_id_is_ignored(crm: httpx.Client) -> None:
    created = crm.post("invoice", json=invoice(invoiceLines=[line(price="2.90", invoiceTax1Id=2)]))
    assert created.status_code == 201
    assert created.json()["response"]["invoiceLines"][0]["invoiceTax1ID"] == 0
    assert created.json()["response"]["cost"] == 2.9


def test_top_level_names_are_case_insensitive(crm: httpx.Client) -> None:
    body = {key.upper(): value for key, value in invoice().items()}
    response = crm.post("invoice", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["response"]["number"] == "INV-1"


def test_numbers_as_strings_and_json_numbers_are_both_read(crm: httpx.Client) -> None:
    body = invoice(
        contactId="1", exchangeRate="1.00", invoiceLines=[line(invoiceItemID="1", quantity=2.5, price=7.7)]
    )
    response = crm.post("invoice", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["response"]["cost"] == 19.25


def test_duplicate_number_is_refused_case_insensitively(crm: httpx.Client) -> None:
    assert crm.post("invoice", json=invoice("INV-ab")).status_code == 201
    assert_generic_400(crm.post("invoice", json=invoice("INV-ab")))
    assert_generic_400(crm.post("invoice", json=invoice("inv-AB")))
    assert numbers(crm) == ["INV-ab"]


BAD_BODIES: dict[str, dict[str, Any]] = {
    "no number": invoice(number=""),
    "no issue date": {k: v for k, v in invoice().items() if k != "issueDate"},
    "no due date": invoice(dueDate=None),
    "no contact": invoice(contactId=0),
    "negative contact": invoice(contactId=-1),
    "unknown contact": invoice(contactId=999),
    "unknown consignee": invoice(consigneeId=999),
    "unknown deal": invoice(entityId=99),
    "contact not a member of the deal": invoice(contactId=2, entityId=1),
    "billing address of another contact": invoice(contactId=2, billingAddressID=9),
    "billing address that is postal": invoice(billingAddressID=10),
    "billing address that is an e-mail": invoice(billingAddressID=1),
    "billing address unknown": invoice(billingAddressID=999),
    "delivery address without consignee": invoice(deliveryAddressID=10),
    "delivery address of another contact": invoice(consigneeId=2, deliveryAddressID=10),
    "delivery address that is billing": invoice(consigneeId=1, deliveryAddressID=9),
    "no currency": invoice(currency=""),
    "unknown currency": invoice(currency="XYZ"),
    "zero exchange rate": invoice(exchangeRate=0),
    "negative exchange rate": invoice(exchangeRate="-1"),
    "no exchange rate": invoice(exchangeRate=None),
    "no terms": invoice(terms=""),
    "no lines": invoice(invoiceLines=[]),
    "lines not a list": invoice(invoiceLines={"invoiceItemID": 1}),
    "line not an object": invoice(invoiceLines=[1]),
    "unknown item": invoice(invoiceLines=[line(invoiceItemID=99)]),
    "negative quantity": invoice(invoiceLines=[line(quantity=-1)]),
    "negative price": invoice(invoiceLines=[line(price="-0.01")]),
    "discount over 100": invoice(invoiceLines=[line(discount="100.01")]),
    "negative discount": invoice(invoiceLines=[line(discount=-5)]),
    "unknown tax": invoice(invoiceLines=[line(invoiceTax1ID=99)]),
    "unknown second tax": invoice(invoiceLines=[line(invoiceTax2ID=99)]),
    "negative tax": invoice(invoiceLines=[line(invoiceTax2ID=-1)]),
    "non-numeric price": invoice(invoiceLines=[line(price="7,70")]),
    "non-integral item id": invoice(invoiceLines=[line(invoiceItemID=1.5)]),
    "second line bad": invoice(invoiceLines=[line(), line(invoiceItemID=0)]),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_each_broken_rule_answers_the_generic_400_and_creates_nothing(crm: httpx.Client, case: str) -> None:
    assert_generic_400(crm.post("invoice", json=BAD_BODIES[case]))
    assert numbers(crm) == []


def test_due_before_issue_is_accepted_as_on_the_server(crm: httpx.Client) -> None:
    assert crm.post("invoice", json=invoice(issueDate="2026-07-01", dueDate="2026-06-01")).status_code == 201


def test_consignee_equal_to_contact_and_lower_case_currency_are_accepted(crm: httpx.Client) -> None:
    created = crm.post("invoice", json=invoice(consigneeId=1, currency="gbp")).json()["response"]
    assert created["consignee"]["id"] == 1
    assert created["currency"]["abbreviation"] == "GBP"


def test_billing_and_delivery_addresses_of_the_right_contacts_are_accepted(crm: httpx.Client) -> None:
    ok = crm.post("invoice", json=invoice("A", billingAddressID=9, consigneeId=2, deliveryAddressID=11))
    assert ok.status_code == 201, ok.text
    assert ok.json()["response"]["consignee"]["displayName"] == "Globex Corporation"
    same = crm.post("invoice", json=invoice("B", billingAddressID=9, consigneeId=1, deliveryAddressID=10))
    assert same.status_code == 201, same.text


def test_deal_of_which_the_contact_is_a_member_is_accepted(crm: httpx.Client) -> None:
    created = crm.post("invoice", json=invoice(entityId=1)).json()["response"]
    assert created["entity"] == {
        "entityType": "opportunity",
        "entityId": 1,
        "entityTitle": "Acme renewal 2026",
    }


def test_deal_members_added_by_post_opportunity_count(crm: httpx.Client) -> None:
    deal = crm.post("opportunity", json={"title": "Shared", "contactId": 2, "members": [3]}).json()[
        "response"
    ]
    assert crm.post("invoice", json=invoice("A", contactId=3, entityId=deal["id"])).status_code == 201
    assert crm.post("invoice", json=invoice("B", contactId=2, entityId=deal["id"])).status_code == 201
    assert_generic_400(crm.post("invoice", json=invoice("C", contactId=4, entityId=deal["id"])))


def test_template_type_and_optional_texts_are_kept(crm: httpx.Client) -> None:
    body = invoice(templateType=1, purchaseOrderNumber="PO-0042", description="Desc")
    created = crm.post("invoice", json=body).json()["response"]
    assert (created["templateType"], created["purchaseOrderNumber"], created["description"]) == (
        1,
        "PO-0042",
        "Desc",
    )


@pytest.mark.parametrize(
    "value",
    [
        "2026-13-01",
        "01.06.2026",
        "2026-6-1",
        "2026-06-01 10:00",
        "2026-06-01T10:00:00.12Z",  # "an optional fraction of exactly 3 or 7 digits"
        "2026-06-01T10:00:00.123456Z",
    ],
)
def test_an_unparseable_date_answers_its_own_message(crm: httpx.Client, value: str) -> None:
    response = crm.post("invoice", json=invoice(dueDate=value))
    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"invalid date time format: {value}"
    assert response.json()["status"] == 1


@pytest.mark.parametrize("value", ["June 1", "x", "2026-1"])
def test_a_date_shorter_than_7_characters_answers_without_the_value(crm: httpx.Client, value: str) -> None:
    # "anything shorter than 7 characters → 400 `invalid date time format` (no value in the message)"
    response = crm.post("invoice", json=invoice(dueDate=value))
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "invalid date time format"


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("2026-06-01", "2026-06-01T00:00:00.0000000Z"),
        ("2026-06-01T13:45:10", "2026-06-01T13:45:10.0000000Z"),
        ("2026-06-01T13:45:10.1234567Z", "2026-06-01T13:45:10.1234560Z"),
        ("2026-06-01T13:45:10.123Z", "2026-06-01T13:45:10.1230000Z"),
        ("2026-03-01T00:00:00+02:00", "2026-02-28T22:00:00.0000000Z"),
        ("2026-03-01T23:30:00-01:00", "2026-03-02T00:30:00.0000000Z"),
    ],
)
def test_dates_are_accepted_in_the_contract_formats(crm: httpx.Client, value: str, stored: str) -> None:
    response = crm.post("invoice", json=invoice(issueDate=value))
    assert response.status_code == 201, response.text
    assert response.json()["response"]["issueDate"] == stored


def test_malformed_json_answers_400_with_the_parser_message(crm: httpx.Client) -> None:
    response = crm.post(
        "invoice", content=b'{"number": "INV-1",', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["status"] == 1
    assert response.json()["error"]["message"].startswith("Expecting")


@pytest.mark.parametrize(("language", "fragment"), [("english", "english is an invalid culture")])
def test_unknown_language_fails_after_the_invoice_is_saved(
    crm: httpx.Client, language: str | None, fragment: str
) -> None:
    # "an unknown culture name answers 400 and leaves a half-created invoice"
    response = crm.post("invoice", json=invoice(language=language))
    assert response.status_code == 400
    assert fragment in response.json()["error"]["message"]
    assert crm.get("invoice/bynumber/exist", params={"number": "INV-1"}).json()["response"] is True
    assert numbers(crm) == ["INV-1"]


def test_a_null_language_fails_with_500_before_anything_is_saved(crm: httpx.Client) -> None:
    # "a missing (null) value most likely fails with 500 before anything is saved"
    response = crm.post("invoice", json=invoice(language=None))
    assert response.status_code == 500
    assert numbers(crm) == []


@pytest.mark.parametrize("language", ["", "xx-XX", "sr-Cyrl-RS"])
def test_empty_and_any_well_formed_culture_names_are_accepted(crm: httpx.Client, language: str) -> None:
    # "`""` is accepted (the portal's culture is used); any .NET culture name is accepted, not only the list"
    response = crm.post("invoice", json=invoice(language=language))
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("language", ["de-DE", "az-Latn-AZ", "en-gb"])
def test_known_languages_are_accepted(crm: httpx.Client, language: str) -> None:
    response = crm.post("invoice", json=invoice(language=language))
    assert response.status_code == 201
    assert response.json()["response"]["language"] == language
