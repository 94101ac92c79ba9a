"""The sandbox as the real server's double (issue 13): who may see what, the lists, the values and the
lifecycle routes, each rule beside the words of ../shared/onlyoffice-crm-api.md that it checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from importer.sandbox import SandboxServer
from tests.sandbox_helpers import GENERIC, crm_client, error, ok

VIEWER = "sandbox-viewer"


@pytest.fixture
def admin(fresh_sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with crm_client(fresh_sandbox) as c:
        yield c


@pytest.fixture
def viewer(fresh_sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with crm_client(fresh_sandbox, VIEWER) as c:
        yield c


def body(number: str, contact: int = 1, **changes: Any) -> dict[str, Any]:
    return {
        "number": number,
        "issueDate": "2026-06-01",
        "dueDate": "2026-07-01",
        "contactId": contact,
        "currency": "EUR",
        "exchangeRate": 1,
        "terms": "Net 30",
        "language": "en-US",
        "invoiceLines": [{"invoiceItemID": 1, "quantity": 2, "price": "7.70"}],
    } | changes


def create(client: httpx.Client, number: str, contact: int = 1, **changes: Any) -> dict[str, Any]:
    return dict(ok(client.post("invoice", json=body(number, contact, **changes)), 201))


def private_company(client: httpx.Client, **extra: Any) -> int:
    return int(ok(client.post("contact/company", json={"companyName": "Hidden Co", **extra}), 201)["id"])


# ----------------------------------------------------------------------------- who may see what


def test_a_contact_created_through_the_api_is_private_by_default(
    admin: httpx.Client, viewer: httpx.Client
) -> None:
    # "a contact created through the API is **private by default** (share type None: only administrators
    # and its `managerList` see it)"
    hidden = private_company(admin)
    shared = int(
        ok(admin.post("contact/company", json={"companyName": "Open Co", "shareType": 2}), 201)["id"]
    )
    managed = private_company(admin, managerList=["5b0e3c1a-7d2f-4e8a-9c61-2f4d8b9e0a17"])
    assert ok(admin.get(f"contact/{hidden}"))["isPrivate"] is True
    assert error(viewer.get(f"contact/{hidden}"), 404) == "Not found"
    assert ok(viewer.get(f"contact/{shared}"))["id"] == shared
    assert ok(viewer.get(f"contact/{managed}"))["id"] == managed  # on the access list
    listed = {c["id"] for c in ok(viewer.get("contact/filter", params={"sortBy": "id"}))}
    assert shared in listed and managed in listed and hidden not in listed


def test_invoices_of_a_contact_the_user_may_not_see(admin: httpx.Client, viewer: httpx.Client) -> None:
    # "`invoice/filter` silently leaves out the invoices they may not see, while `invoice/bynumber/exist`
    # still answers `true` for them"; "`GET invoice/{id}` or `invoice/bynumber` of an invoice the caller may
    # not read" -> 403
    hidden = create(admin, "INV-H1", private_company(admin))
    mine = create(viewer, "INV-V1")
    assert [i["number"] for i in ok(viewer.get("invoice/filter"))] == ["INV-V1"]
    assert sorted(i["number"] for i in ok(admin.get("invoice/filter"))) == ["INV-H1", "INV-V1"]
    assert ok(viewer.get("invoice/bynumber/exist", params={"number": "INV-H1"})) is True
    assert error(viewer.get("invoice/bynumber", params={"number": "INV-H1"}), 403) == "Access Denied"
    assert error(viewer.get(f"invoice/{hidden['id']}"), 403) == "Access Denied"
    assert ok(viewer.get(f"invoice/{mine['id']}"))["createBy"]["displayName"] == "Sandbox Viewer"


def test_creating_for_an_invisible_contact_is_403_in_the_validation_order(
    admin: httpx.Client, viewer: httpx.Client
) -> None:
    # "3. the contact: missing 400, not visible 403"; "1. the lines ... → 400" first; "8. number ... unused"
    # last
    hidden = private_company(admin)
    create(admin, "INV-TAKEN")
    assert error(viewer.post("invoice", json=body("INV-X", hidden)), 403) == "Access Denied"
    assert error(viewer.post("invoice", json=body("INV-X", hidden, invoiceLines=[])), 400) == GENERIC
    assert error(viewer.post("invoice", json=body("INV-TAKEN", hidden)), 403) == "Access Denied"
    assert error(viewer.post("invoice", json=body("INV-X", 1, consigneeId=hidden)), 403) == "Access Denied"
    assert error(viewer.post("invoice", json=body("INV-X", 9999)), 400) == GENERIC


# ----------------------------------------------------------------------------- answers and lists


def test_by_number_is_thin_with_null_lines_and_zero_cost(admin: httpx.Client) -> None:
    # "a thin invoice: `"contact": null`, `"invoiceLines": null`, `"cost": 0` (the keys are present ...)"
    create(admin, "INV-T1")
    thin = ok(admin.get("invoice/bynumber", params={"number": "INV-T1"}))
    assert thin["invoiceLines"] is None and thin["cost"] == 0 and thin["contact"] is None


def test_numbers_compare_ignoring_case_trailing_spaces_and_accents(admin: httpx.Client) -> None:
    # "compared ignoring case, trailing spaces **and accents** (`INV-É1` = `inv-e1`)"
    create(admin, "INV-É1")
    for same in ("inv-e1", "INV-E1  ", "Inv-é1"):
        assert ok(admin.get("invoice/bynumber/exist", params={"number": same})) is True
        assert error(admin.post("invoice", json=body(same)), 400) == GENERIC
    assert ok(admin.get("invoice/bynumber/exist", params={"number": " inv-e1"})) is False


def test_total_is_cached_per_user_and_blind_to_the_other_filters(
    fresh_sandbox: SandboxServer, admin: httpx.Client
) -> None:
    # "`total` on `invoice/filter` is cached for about 30 s per tenant, user and `filterValue`, ignoring the
    # status, date and currency filters"
    create(admin, "INV-1")
    assert admin.get("invoice/filter").json()["total"] == 1
    create(admin, "INV-2", currency="USD")
    body_ = admin.get("invoice/filter", params={"count": 1}).json()
    assert body_["total"] == 1 and len(body_["response"]) == 1  # cached: stale
    assert admin.get("invoice/filter", params={"currency": "USD"}).json()["total"] == 1
    assert admin.get("invoice/filter", params={"filterValue": "INV"}).json()["total"] == 2  # its own entry
    with crm_client(fresh_sandbox, VIEWER) as viewer:
        assert viewer.get("invoice/filter").json()["total"] == 2  # another user: counted afresh


def test_default_orders_are_not_unique_and_an_explicit_sort_by_is_honoured(admin: httpx.Client) -> None:
    # "Default orders are not unique: `contact/filter` sorts by creation date descending,
    # `invoiceitem/filter` by title. Pages fetched side by side ... can repeat or skip records."
    pages = [
        admin.get("contact/filter", params={"count": 3, "startIndex": s}).json()["response"]
        for s in (0, 3, 6)
    ]
    seen = [c["id"] for page in pages for c in page]
    by_id = [c["id"] for c in ok(admin.get("contact/filter", params={"sortBy": "id"}))]
    assert by_id == list(range(1, 10))
    assert sorted(seen) != by_id  # the seed's contacts share one creation date: pages repeat and skip
    titles = [i["title"] for i in ok(admin.get("invoiceitem/filter"))]
    assert titles == sorted(titles, key=str.lower)
    names = [c["displayName"] for c in ok(admin.get("contact/filter", params={"sortBy": "displayname"}))]
    assert names == sorted(names, key=str.lower)


def test_sort_order_descending_is_case_sensitive(admin: httpx.Client) -> None:
    # "`sortOrder=descending` is case-sensitive"
    ids = [
        i["id"]
        for i in ok(admin.get("invoiceitem/filter", params={"sortBy": "id", "sortOrder": "descending"}))
    ]
    assert ids == list(range(9, 0, -1))
    same = [
        i["id"]
        for i in ok(admin.get("invoiceitem/filter", params={"sortBy": "id", "sortOrder": "Descending"}))
    ]
    assert same == list(range(1, 10))


def test_filter_value_wildcards_are_not_escaped(admin: httpx.Client) -> None:
    # "`filterValue` does not escape the SQL wildcards `_` and `%`"
    assert [
        c["id"] for c in ok(admin.get("contact/filter", params={"filterValue": "_cme", "sortBy": "id"}))
    ] == [1]
    globex = ok(admin.get("contact/filter", params={"filterValue": "G%on", "sortBy": "id"}))
    assert [c["id"] for c in globex] == [2]


def test_count_and_start_index_are_left_out_when_0(admin: httpx.Client) -> None:
    # "`count` and `startIndex` may be left out when 0"
    empty = admin.get("invoice/filter").json()
    assert "count" not in empty and "startIndex" not in empty
    page = admin.get("contact/filter", params={"startIndex": 2, "sortBy": "id"}).json()
    assert page["startIndex"] == 2 and page["count"] == 7


# ----------------------------------------------------------------------------- the lifecycle routes


def test_status_moves_allowed_only_with_titles_and_stock(admin: httpx.Client) -> None:
    # "Allowed moves only: Draft→Sent, Sent→Paid, Sent→Rejected, Rejected→Draft, Paid→Sent; any other move
    # is **silently not made**"; "Draft→Sent takes the lines' quantities off the stock of items with
    # inventory tracking; Sent→Rejected puts them back"; titles "Draft", "Billed", "Rejected", "Paid"
    item = ok(
        admin.post(
            "invoiceitem", json={"title": "Tracked", "price": 5, "stockQuantity": 10, "trackInventory": True}
        ),
        201,
    )
    invoice = create(admin, "INV-S1", invoiceLines=[{"invoiceItemID": item["id"], "quantity": 3, "price": 5}])
    ids = {"invoiceids": [invoice["id"]]}
    assert ok(admin.put("invoice/status/paid", json=ids))["key"][0]["status"]["id"] == 1  # Draft→Paid: no
    moved = ok(admin.put("invoice/status/Billed", json=ids))
    assert moved["key"][0]["status"] == {"id": 2, "title": "Billed"}
    assert moved["value"][0]["stockQuantity"] == 7.0
    assert ok(admin.put("invoice/status/3", json=ids))["key"][0]["status"] == {"id": 3, "title": "Rejected"}
    assert ok(admin.get(f"invoiceitem/{item['id']}"))["stockQuantity"] == 10.0
    assert ok(admin.put("invoice/status/archived", json=ids))["key"][0]["status"]["id"] == 3
    assert error(admin.put("invoice/status/sent", json={"invoiceids": []}), 400) == GENERIC
    assert ok(admin.put("invoice/status/draft", json={"invoiceids": [999]}))["key"] == []


def test_update_replaces_every_field_only_for_a_draft_of_its_creator(
    admin: httpx.Client, viewer: httpx.Client
) -> None:
    # "**every field must be sent again** (an omitted optional field is reset ...); only a Draft invoice,
    # and only by an administrator or its creator, else **404**; lines are validated first; all the
    # invoice's lines are deleted and created anew (new line IDs)"
    created = create(admin, "INV-U1", description="first")
    old_line = created["invoiceLines"][0]["id"]
    update = {k: v for k, v in body("ignored").items() if k != "number"}
    updated = ok(admin.put(f"invoice/{created['id']}", json=update))
    assert updated["number"] == "INV-U1" and updated["description"] is None
    assert updated["invoiceLines"][0]["id"] != old_line
    assert error(viewer.put(f"invoice/{created['id']}", json=update), 404) == "Not found"
    assert error(viewer.put(f"invoice/{created['id']}", json={**update, "invoiceLines": []}), 400) == GENERIC
    ok(admin.put("invoice/status/sent", json={"invoiceids": [created["id"]]}))
    assert error(admin.put(f"invoice/{created['id']}", json=update), 404) == "Not found"


def test_delete_one_and_batch_with_their_access_rules(admin: httpx.Client, viewer: httpx.Client) -> None:
    # "`DELETE invoice/{id}` ... 404 if absent, 403 unless administrator or creator"; "`DELETE invoice` ...
    # invoices the caller may not delete are **skipped silently**; an empty list → 400"; answers "`cost` 0"
    theirs = create(admin, "INV-D1")
    mine = create(viewer, "INV-D2")
    assert error(viewer.delete(f"invoice/{theirs['id']}"), 403) == "Access Denied"
    assert error(viewer.delete("invoice/999"), 404) == "Not found"
    deleted = ok(viewer.request("DELETE", "invoice", json={"invoiceids": [theirs["id"], mine["id"]]}))
    assert [(d["number"], d["cost"]) for d in deleted] == [("INV-D2", 0)]
    assert error(viewer.request("DELETE", "invoice", json={"invoiceids": []}), 400) == GENERIC
    assert ok(admin.delete(f"invoice/{theirs['id']}"))["cost"] == 0


def test_sample_numbers_the_next_invoice_when_automatic(
    fresh_sandbox: SandboxServer, admin: httpx.Client
) -> None:
    # "its `number` is the next automatic number ... or \"\" when automatic numbering is off"
    assert ok(admin.get("invoice/sample"))["number"] == ""
    assert ok(admin.get("invoice/sample"))["terms"].startswith("Payment is due")
