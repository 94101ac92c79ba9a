"""The real CLI on a portal as a finance clerk who is not a CRM administrator (issue 13).

The sandbox holds what a real portal holds and the clerk (token ``sandbox-viewer``) cannot see: another
user's private contact, and an invoice on it whose number collides with the file's. The contract's rules
at play ("Who may see what"): `invoice/filter` leaves that invoice out, `invoice/bynumber` answers 403,
`GET contact/{id}` answers 404 for the private contact and creating an invoice for it 403; numbers are
compared "ignoring case, trailing spaces **and accents**"; `invoice/bynumber` is thin (`"cost": 0`).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from importer.sandbox import SandboxConfig, SandboxServer
from tests.e2e_helpers import Crm, invoices_sheet, invoke, spawn

ADMIN_TOKEN = "sandbox"
VIEWER_TOKEN = "sandbox-viewer"
HEADER = "Invoice Number,Issue Date,Due Date,Customer,Currency,Item,Qty,Unit Price,Discount %,VAT"


def admin_post(server: SandboxServer, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/api/2.0/crm/{path}", json=body, headers={"Authorization": ADMIN_TOKEN}, timeout=10
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["response"])


def invoice_body(number: str, contact_id: int, price: str = "10.00") -> dict[str, Any]:
    return {
        "number": number,
        "issueDate": "2026-06-01",
        "dueDate": "2026-07-01",
        "contactId": contact_id,
        "currency": "EUR",
        "exchangeRate": 1,
        "terms": "Net 30",
        "language": "en-US",
        "invoiceLines": [{"invoiceItemID": 1, "quantity": 1, "price": price}],
    }


@pytest.fixture
def portal(fresh_sandbox: SandboxServer) -> dict[str, int]:
    """Another user's private company with an invoice ``INV-É1`` on it (invisible to the clerk), and an
    invoice ``INV-Ä2`` on the shared contact Acme (visible)."""
    private = admin_post(fresh_sandbox, "contact/company", {"companyName": "Hidden Holdings"})
    assert private["isPrivate"] is True  # "a contact created through the API is private by default"
    hidden = admin_post(fresh_sandbox, "invoice", invoice_body("INV-É1", private["id"]))
    visible = admin_post(fresh_sandbox, "invoice", invoice_body("INV-Ä2", 1))
    return {"private_contact": private["id"], "hidden": hidden["id"], "visible": visible["id"]}


def run_as_viewer(server: SandboxServer, source: Path, tmp_path: Path, *extra: str) -> Any:
    return invoke(
        "run",
        source,
        "--url",
        server.url,
        "--token",
        VIEWER_TOKEN,
        "--journal",
        tmp_path / "journal.sqlite",
        "--yes",
        "--json",
        *extra,
    )


def test_the_clerk_imports_beside_what_they_cannot_see(
    fresh_sandbox: SandboxServer, portal: dict[str, int], tmp_path: Path
) -> None:
    private = portal["private_contact"]
    source = tmp_path / "invoices.csv"
    source.write_text(
        "\n".join(
            [
                HEADER,
                "inv-e1,2026-06-01,2026-07-01,1,EUR,WID-001,1,7.70,0,",  # = INV-É1, hidden
                "inv-a2,2026-06-01,2026-07-01,1,EUR,WID-001,1,7.70,0,",  # = INV-Ä2, visible
                "RP-1,2026-06-01,2026-07-01,1,EUR,WID-001,1,7.70,0,",  # = rp-1 (case)
                "rp-1,2026-06-01,2026-07-01,1,EUR,WID-001,1,7.70,0,",
                "RP-Ü3,2026-06-01,2026-07-01,1,EUR,WID-001,1,7.70,0,",  # = rp-u3 (accent)
                "rp-u3,2026-06-01,2026-07-01,1,EUR,WID-001,1,7.70,0,",
                f"RP-4,2026-06-01,2026-07-01,{private},EUR,WID-001,1,7.70,0,",  # the private contact
                "RP-5,2026-06-01,2026-07-01,billing@acme.example,EUR,GAD-002,3,19.99,10,VAT 20%",
                "RP-6,2026-06-01,2026-07-01,Globex Corporation,EUR,WID-001,2,7.70,0,",
            ]
        )
        + "\n",
        encoding="utf-8",
    )

    result = run_as_viewer(fresh_sandbox, source, tmp_path)

    assert result.exit_code == 1, result.stdout + result.stderr
    summary = result.summary
    assert (summary["created"], summary["exists"], summary["invalid"], summary["failed"]) == (2, 2, 5, 0)
    sheet = invoices_sheet(Path(summary["results"]))
    hidden = sheet["inv-e1"]
    assert hidden["status"] == "exists" and hidden["crm_id"] is None
    assert "used by an invoice you cannot see in the CRM" in str(hidden["error"])
    assert sheet["inv-a2"]["status"] == "exists" and sheet["inv-a2"]["crm_id"] == portal["visible"]
    for number, other in (("RP-1", "rp-1"), ("rp-1", "RP-1"), ("RP-Ü3", "rp-u3"), ("rp-u3", "RP-Ü3")):
        assert sheet[number]["status"] == "invalid"
        assert f"'{other}'" in str(sheet[number]["error"]) and "accents" in str(sheet[number]["error"])
    assert sheet["RP-4"]["status"] == "invalid"
    assert f"The CRM contact {private} is not visible to you: ask its owner to share it" in str(
        sheet["RP-4"]["error"]
    )
    admin = Crm(fresh_sandbox.url)
    assert sorted(admin.numbers()) == ["INV-Ä2", "INV-É1", "RP-5", "RP-6"]
    for number in ("RP-5", "RP-6"):
        row = sheet[number]
        assert row["status"] == "created"
        assert float(row["crm_total"]) == admin.invoice(int(row["crm_id"]))["cost"]
    # the portal's two, RP-5 and RP-6; inv-e1 is either refused (number taken) or classified before posting
    assert fresh_sandbox.stats.invoice_creates in (4, 5)


def test_every_answer_lost_the_invoices_are_adopted_with_the_crm_total(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    """Each create's answer is dropped: the clerk's run finds each number by its thin by-number answer
    (cost 0) and must report the invoice's real total, read from GET invoice/{id}."""
    server = sandbox_factory(drop_rate=1.0)
    source = tmp_path / "lost.csv"
    rows = [f"AD-{n},2026-06-01,2026-07-01,1,EUR,GAD-002,{n + 1},19.99,5,VAT 20%" for n in range(3)]
    source.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")

    result = run_as_viewer(server, source, tmp_path, "--retries", "2")

    assert result.exit_code == 0, result.stdout + result.stderr
    sheet = invoices_sheet(Path(result.summary["results"]))
    admin = Crm(server.url)
    for n in range(3):
        row = sheet[f"AD-{n}"]
        assert row["status"] == "created", row
        cost = admin.invoice(int(row["crm_id"]))["cost"]
        assert cost > 0 and float(row["crm_total"]) == cost, (row, cost)


@pytest.mark.slow
def test_killed_after_the_creates_a_rerun_reports_the_crm_totals(tmp_path: Path) -> None:
    """kill -9 right after the CRM saved the invoices (the journal may still say `posting`); the rerun,
    as the clerk, adopts or skips each and reports the CRM's own total (never the by-number 0.00)."""
    with SandboxServer(SandboxConfig(port=0, latency_ms=20)) as server:
        numbers = [f"KP-{n}" for n in range(6)]
        rows = [
            f"{number},2026-06-01,2026-07-01,1,EUR,GAD-002,{n + 2},19.99,12.5,VAT 20%"
            for n, number in enumerate(numbers)
        ]
        source = tmp_path / "kill.csv"
        source.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
        journal = tmp_path / "journal.sqlite"
        args: list[str | Path] = [
            "run",
            source,
            "--url",
            server.url,
            "--token",
            VIEWER_TOKEN,
            "--journal",
            journal,
        ]
        args += ["--yes", "--json", "--concurrency", "4"]
        process = spawn(*args)
        deadline = time.monotonic() + 30
        while server.stats.invoice_creates < len(numbers) and process.poll() is None:
            assert time.monotonic() < deadline, "the creates did not happen in time"
            time.sleep(0.001)
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=10)

        # one invoice per rerun: the look-up is by number (thin), never a listing with costs
        admin = Crm(server.url)
        for number in numbers:
            single = tmp_path / f"{number}.csv"
            single.write_text(
                "\n".join([HEADER, next(r for r in rows if r.startswith(number + ","))]) + "\n",
                encoding="utf-8",
            )
            rerun = subprocess.run(
                [sys.executable, "-m", "importer.cli", *[str(a) for a in [*args[:1], single, *args[2:]]]],
                capture_output=True,
                text=True,
                timeout=60,
                cwd=Path(__file__).resolve().parents[2],
            )
            assert rerun.returncode == 0, rerun.stderr
            summary_line = rerun.stdout.strip().splitlines()[-1]
            results = Path(json.loads(summary_line)["results"])
            row = invoices_sheet(results)[number]
            assert row["status"] in ("skipped", "created"), row
            cost = admin.invoice(int(row["crm_id"]))["cost"]
            assert cost > 0 and float(row["crm_total"]) == cost, (number, row, cost)
        assert sorted(admin.numbers()) == numbers
