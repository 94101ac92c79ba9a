"""Who may see what, by the contract: the sandbox's viewer login (an ordinary CRM user) against the
administrator, over real HTTP, and the real CLI run as the viewer on a private contact.

The seed's contact 9 ("Pat Private", pat@private.example) is private: only the administrator sees it.
Contract, "Envelopes": "record not found, **or a record the caller may not read** (a private contact on
`GET contact/{id}` and its `/data`, `/addressdata` routes ...) | 404 | `Not found`".
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from importer.sandbox import SandboxServer
from tests.e2e_helpers import Crm, invoices_sheet, invoke
from tests.sandbox_helpers import GENERIC, crm_client, ok

ADMIN_TOKEN = "sandbox"
VIEWER_TOKEN = "sandbox-viewer"
PRIVATE_ID = 9


@pytest.fixture
def viewer(fresh_sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with crm_client(fresh_sandbox, VIEWER_TOKEN) as c:
        yield c


@pytest.fixture
def admin(fresh_sandbox: SandboxServer) -> Iterator[httpx.Client]:
    with crm_client(fresh_sandbox, ADMIN_TOKEN) as c:
        yield c


def assert_not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, response.text
    assert response.json()["error"]["message"] == "Not found"


def assert_access_denied(response: httpx.Response) -> None:
    """Exactly the contract's error envelope for 403."""
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"status", "statusCode", "error"}
    assert (body["status"], body["statusCode"]) == (1, 403)
    assert set(body["error"]) == {"message", "hresult", "data"}
    assert body["error"]["message"] == "Access Denied"
    assert isinstance(body["error"]["hresult"], int) and body["error"]["data"] == {}


def invoice(number: str, **changes: Any) -> dict[str, Any]:
    return {
        "number": number,
        "issueDate": "2026-06-01",
        "dueDate": "2026-07-01",
        "contactId": 1,
        "currency": "EUR",
        "exchangeRate": 1,
        "terms": "Net 30",
        "language": "en-US",
        "invoiceLines": [{"invoiceItemID": 1, "quantity": 1, "price": "7.70"}],
    } | changes


def login(server: SandboxServer, user: str, password: str = "sandbox") -> httpx.Response:
    return httpx.post(f"{server.url}/api/2.0/authentication", json={"userName": user, "password": password})


# The two logins


def test_the_viewer_logs_in_and_reads_like_any_user(
    fresh_sandbox: SandboxServer, viewer: httpx.Client
) -> None:
    assert ok(viewer.get("contact/1"))["displayName"] == "Acme Ltd"
    assert len(ok(viewer.get("invoiceitem/filter"))) == 9
    assert ok(viewer.get("invoice/settings"))["prefix"] == "INV-"
    response = login(fresh_sandbox, "Viewer@Example.com")
    assert response.status_code == 201, response.text
    with crm_client(fresh_sandbox, response.json()["response"]["token"]) as logged_in:
        assert ok(logged_in.get("contact/1"))["id"] == 1
        assert_not_found(logged_in.get(f"contact/{PRIVATE_ID}"))


def test_an_admin_login_token_still_sees_the_private_contact(fresh_sandbox: SandboxServer) -> None:
    token = login(fresh_sandbox, "admin@example.com").json()["response"]["token"]
    with crm_client(fresh_sandbox, token) as logged_in:
        assert ok(logged_in.get(f"contact/{PRIVATE_ID}"))["displayName"] == "Pat Private"


def test_the_viewer_password_is_checked_and_its_failures_lock_only_that_login(
    fresh_sandbox: SandboxServer,
) -> None:
    for _ in range(5):
        failed = login(fresh_sandbox, "viewer@example.com", "wrong")
        assert failed.status_code == 500
        assert failed.json()["error"]["message"] == "User authentication failed"
    assert (
        login(fresh_sandbox, "viewer@example.com").json()["error"]["message"]
        == "Login Fail. Too many attempts"
    )
    assert login(fresh_sandbox, "admin@example.com").status_code == 201
    # the admin's password is not the viewer's way in, nor the other way round
    assert login(fresh_sandbox, "admin@example.com", "nope").status_code == 500


def test_configured_viewer_credentials(sandbox_factory: Any) -> None:
    server = sandbox_factory(viewer_user="clerk@corp.example", viewer_password="pw", viewer_token="vt")
    assert login(server, "clerk@corp.example", "pw").status_code == 201
    assert login(server, "viewer@example.com").status_code == 500
    with crm_client(server, "vt") as c:
        assert_not_found(c.get(f"contact/{PRIVATE_ID}"))
    with crm_client(server, VIEWER_TOKEN) as c:
        assert c.get("contact/1").status_code == 401


def test_the_two_tokens_must_differ() -> None:
    from importer.sandbox import SandboxConfig

    with pytest.raises(ValueError, match="tokens"):
        SandboxServer(SandboxConfig(token="same", viewer_token="same"))


# Admin-only calls


def test_admin_only_calls_are_403_for_the_viewer_and_create_nothing(
    viewer: httpx.Client, admin: httpx.Client
) -> None:
    assert_access_denied(viewer.post("invoiceitem", json={"title": "Sprocket", "price": 3}))
    assert_access_denied(viewer.post("invoiceitem.json", json={"title": "Sprocket", "price": 3}))
    assert_access_denied(viewer.post("invoice/tax", json={"name": "VAT 5%", "rate": 5}))
    assert_access_denied(viewer.post("invoiceitem", json={}))  # the right is checked before the arguments
    assert len(ok(admin.get("invoiceitem/filter"))) == 9
    assert len(ok(admin.get("invoice/tax"))) == 4
    assert ok(admin.post("invoiceitem", json={"title": "Sprocket", "price": 3}), 201)["id"] == 10
    assert ok(admin.post("invoice/tax", json={"name": "VAT 5%", "rate": 5}), 201)["id"] == 5


# The private contact


def test_the_private_contact_by_id_is_404_for_the_viewer(viewer: httpx.Client, admin: httpx.Client) -> None:
    # "a private contact on `GET contact/{id}` and its `/data`, `/addressdata` routes" -> 404 `Not found`
    assert_not_found(viewer.get(f"contact/{PRIVATE_ID}"))
    assert_not_found(viewer.get(f"contact/{PRIVATE_ID}.json"))
    assert_not_found(viewer.get(f"contact/{PRIVATE_ID}/data"))
    assert_not_found(viewer.post(f"contact/{PRIVATE_ID}/data", json={"infoType": "Email", "data": "x@y.z"}))
    address = {"address": {"city": "Oslo", "category": "Billing"}}
    assert_not_found(viewer.post(f"contact/{PRIVATE_ID}/addressdata", json=address))
    assert viewer.get("contact/99").status_code == 404  # absent: 404 too
    # GET contact/{id}/access (CommunityServer CRMApi.Contacts.cs, GetContactAccessList; not in the contract)
    # tells the two apart: 404 absent, 403 not visible
    assert_access_denied(viewer.get(f"contact/{PRIVATE_ID}/access"))
    assert viewer.get("contact/99/access").status_code == 404
    assert ok(viewer.get("contact/1/access")) == []
    pat = ok(admin.get(f"contact/{PRIVATE_ID}"))
    assert (pat["displayName"], pat["isCompany"], pat["isPrivate"]) == ("Pat Private", False, True)
    assert [row["data"] for row in ok(admin.get(f"contact/{PRIVATE_ID}/data"))] == ["pat@private.example"]


def test_the_private_contact_is_not_listed_for_the_viewer(viewer: httpx.Client, admin: httpx.Client) -> None:
    listed = viewer.get("contact/filter").json()
    assert sorted(c["id"] for c in listed["response"]) == list(range(1, 9))
    assert listed["total"] == 8
    assert viewer.get("contact/filter", params={"filterValue": "Pat"}).json()["response"] == []
    assert viewer.get("contact/filter", params={"filterValue": "Pat"}).json()["total"] == 0
    by_email = {"infoType": "Email", "data": "pat@private.example"}
    assert ok(viewer.get("contact/bycontactinfo", params=by_email)) == []
    assert ok(viewer.get("contact/bycontactinfo", params={"infoType": "Email", "data": "example"})) == [
        *ok(admin.get("contact/bycontactinfo", params={"infoType": "Email", "data": "example"}))[:-1]
    ]
    assert [c["id"] for c in ok(admin.get("contact/bycontactinfo", params=by_email))] == [PRIVATE_ID]
    assert [c["id"] for c in ok(admin.get("contact/filter", params={"filterValue": "pat"}))] == [PRIVATE_ID]
    assert admin.get("contact/filter").json()["total"] == 9


def test_deal_members_hide_the_private_contact_from_the_viewer(
    viewer: httpx.Client, admin: httpx.Client
) -> None:
    deal = ok(
        admin.post("opportunity", json={"title": "Secret", "contactId": 1, "members": [PRIVATE_ID]}), 201
    )
    assert [c["id"] for c in ok(admin.get(f"opportunity/{deal['id']}/contact"))] == [1, PRIVATE_ID]
    assert [c["id"] for c in ok(viewer.get(f"opportunity/{deal['id']}/contact"))] == [1]


# Creating an invoice


def test_an_invoice_for_the_private_contact_is_403_for_the_viewer_and_not_saved(
    fresh_sandbox: SandboxServer, viewer: httpx.Client, admin: httpx.Client
) -> None:
    assert_access_denied(viewer.post("invoice", json=invoice("INV-P1", contactId=PRIVATE_ID)))
    assert_access_denied(viewer.post("invoice", json=invoice("INV-P2", consigneeId=PRIVATE_ID)))
    assert ok(admin.get("invoice/bynumber/exist", params={"number": "INV-P1"})) is False
    assert ok(admin.get("invoice/bynumber/exist", params={"number": "INV-P2"})) is False
    assert fresh_sandbox.stats.invoice_creates == 0
    # not a contact at all: the generic 400, whoever asks
    assert viewer.post("invoice", json=invoice("INV-P3", contactId=99)).json()["error"]["message"] == GENERIC
    # the viewer may create invoices for the contacts it sees; the administrator for the private one too
    assert ok(viewer.post("invoice", json=invoice("INV-V1")), 201)["contact"]["id"] == 1
    created = ok(admin.post("invoice", json=invoice("INV-A1", contactId=PRIVATE_ID)), 201)
    assert created["contact"]["id"] == PRIVATE_ID


# The real CLI as the viewer


def test_cli_as_the_viewer_reports_the_private_contact_on_its_invoice(
    fresh_sandbox: SandboxServer, tmp_path: Path
) -> None:
    source = tmp_path / "private.csv"
    source.write_text(
        "Invoice Number,Issue Date,Due Date,Customer,Currency,Item,Qty,Unit Price\n"
        f"INV-PRIV-1,2026-06-01,2026-07-01,{PRIVATE_ID},EUR,WID-001,2,7.70\n",
        encoding="utf-8",
    )
    result = invoke(
        "run",
        source,
        "--url",
        fresh_sandbox.url,
        "--token",
        VIEWER_TOKEN,
        "--journal",
        tmp_path / "journal.sqlite",
        "--yes",
        "--json",
    )

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.summary["invalid"] == 1 and result.summary["created"] == 0
    row = invoices_sheet(Path(result.summary["results"]))["INV-PRIV-1"]
    assert row["status"] == "invalid"
    assert (
        row["error"]
        == f"row 2, Customer: The CRM contact {PRIVATE_ID} is not visible to you: ask its owner to share it"
    )
    assert Crm(fresh_sandbox.url).numbers() == []
    assert fresh_sandbox.stats.invoice_creates == 0


def test_cli_as_the_viewer_says_private_also_among_other_contacts(
    fresh_sandbox: SandboxServer, tmp_path: Path
) -> None:
    source = tmp_path / "mixed.csv"
    rows = [
        f"INV-MIX-{n},2026-06-01,2026-07-01,{who},EUR,WID-001,2,7.70" for n, who in enumerate(["9", "2", "3"])
    ]
    source.write_text(
        "Invoice Number,Issue Date,Due Date,Customer,Currency,Item,Qty,Unit Price\n" + "\n".join(rows) + "\n",
        encoding="utf-8",
    )
    result = invoke(
        "run",
        source,
        "--url",
        fresh_sandbox.url,
        "--token",
        VIEWER_TOKEN,
        "--journal",
        tmp_path / "journal.sqlite",
        "--yes",
        "--json",
    )
    assert result.exit_code == 1, result.stdout + result.stderr
    sheet = invoices_sheet(Path(result.summary["results"]))
    assert [sheet[f"INV-MIX-{n}"]["status"] for n in range(3)] == ["invalid", "created", "created"]
    assert "is not visible to you: ask its owner to share it" in str(sheet["INV-MIX-0"]["error"])
