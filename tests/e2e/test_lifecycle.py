"""Issue 14 through the real CLI against the sandbox over HTTP: the status column (a migration mixing Draft,
Sent, Paid and Rejected invoices), --update, history and undo (of a run someone partly changed since),
checked through the CRM's API, the results workbooks and the journal.

The kill loop of these commands is in tests/e2e/test_crash_safety.py."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from importer.journal import Journal, JournalState
from importer.sandbox import SandboxServer
from tests.e2e_helpers import TOKEN, Crm, invoices_sheet, invoke, sheet_rows

HEADER = "Invoice Number,Issue Date,Due Date,Customer,Currency,Item,Qty,Unit Price,VAT,Status"
DRAFT, SENT, REJECTED, PAID = 1, 2, 3, 4


def write_csv(path: Path, rows: list[tuple[str, str, str, str]]) -> Path:
    """One line per invoice: (number, item, quantity, status) for Acme in EUR at 10.00 with VAT 20%."""
    lines = [HEADER]
    for number, item, quantity, status in rows:
        head = f"{number},2026-06-01,2026-07-01,billing@acme.example,EUR"
        lines.append(f"{head},{item},{quantity},10.00,VAT 20%,{status}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def crm_args(server: SandboxServer, journal: Path) -> list[str | Path]:
    return ["--url", server.url, "--token", TOKEN, "--journal", journal]


def tracked_item(server: SandboxServer, stock: int = 100) -> dict[str, Any]:
    response = httpx.post(
        f"{server.url}/api/2.0/crm/invoiceitem",
        json={
            "title": "Tracked",
            "sku": "TRK-1",
            "price": 10,
            "stockQuantity": stock,
            "trackInventory": True,
        },
        headers={"Authorization": TOKEN},
    )
    response.raise_for_status()
    return dict(response.json()["response"])


def put(server: SandboxServer, path: str, body: dict[str, Any]) -> Any:
    response = httpx.put(f"{server.url}/api/2.0/crm/{path}", json=body, headers={"Authorization": TOKEN})
    response.raise_for_status()
    return response.json()["response"]


@pytest.fixture
def server(fresh_sandbox: SandboxServer) -> SandboxServer:
    return fresh_sandbox


# ----------------------------------------------------------------------------- 1. the status column


def test_a_migration_mixing_statuses_ends_with_every_invoice_at_its_status(
    server: SandboxServer, tmp_path: Path
) -> None:
    item = tracked_item(server)
    rows = [
        ("MIG-1", "TRK-1", "3", "Draft"),
        ("MIG-2", "TRK-1", "4", "sent"),
        ("MIG-3", "TRK-1", "5", "Billed"),
        ("MIG-4", "TRK-1", "6", "PAID"),
        ("MIG-5", "TRK-1", "7", "Rejected"),
        ("MIG-6", "WID-001", "1", ""),
        ("MIG-7", "WID-001", "1", "paid"),
    ]
    source = write_csv(tmp_path / "migration.csv", rows)
    journal = tmp_path / "journal.sqlite"
    result = invoke("run", source, *crm_args(server, journal), "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert "ending as: 2 Draft, 2 Sent, 1 Rejected, 2 Paid" in result.stderr
    assert "takes its lines' quantities off the stock" in result.stderr
    sheet = invoices_sheet(tmp_path / "migration.csv.results.xlsx")
    expected = {"MIG-1": DRAFT, "MIG-2": SENT, "MIG-3": SENT, "MIG-4": PAID, "MIG-5": REJECTED}
    expected |= {"MIG-6": DRAFT, "MIG-7": PAID}
    crm = Crm(server.url)
    titles = {DRAFT: "Draft", SENT: "Sent", REJECTED: "Rejected", PAID: "Paid"}
    for number, status in expected.items():
        row = sheet[number]
        assert row["status"] == "created" and row["crm_status"] == titles[status], row
        assert crm.invoice(int(row["crm_id"]))["status"]["id"] == status, number
    # Draft→Sent took 4 + 5 + 6 + 7 off the stock; Sent→Rejected put the 7 back
    assert Decimal(str(crm.get(f"invoiceitem/{item['id']}")["stockQuantity"])) == 100 - 4 - 5 - 6
    # one status request per move for all the invoices making it: Sent (5 invoices), Paid (2), Rejected (1)
    assert server.stats.count("PUT", "/api/2.0/crm/invoice/status/{status}") == 3
    # the Rows sheet: the input's own Status column beside the result columns, fed back as it is
    rows_sheet = sheet_rows(tmp_path / "migration.csv.results.xlsx", "Rows")
    assert [r["Status"] for r in rows_sheet][:3] == ["Draft", "sent", "Billed"]
    assert [r["import_status"] for r in rows_sheet][:3] == ["created"] * 3
    again = invoke(
        "run", tmp_path / "migration.csv.results.xlsx", *crm_args(server, journal), "--yes", "--json"
    )
    assert again.exit_code == 0 and again.summary["skipped"] == 7, again.stderr
    assert server.stats.count("PUT", "/api/2.0/crm/invoice/status/{status}") == 3  # nothing moved again


def test_an_invalid_status_is_named_with_its_row_and_column(server: SandboxServer, tmp_path: Path) -> None:
    source = write_csv(tmp_path / "bad.csv", [("BAD-1", "WID-001", "1", "Archived")])
    result = invoke("run", source, *crm_args(server, tmp_path / "j.sqlite"), "--yes")
    assert result.exit_code == 1
    assert (
        "bad.csv: row 2, Status: The status must be Draft, Sent (or Billed), Paid or Rejected"
        in result.stderr
    )


def test_a_results_workbook_written_before_the_status_column_is_still_read_as_input(tmp_path: Path) -> None:
    # the Rows sheet of an older results workbook began with row, status, crm_id, error
    book = openpyxl.Workbook()
    book.active.title = "Invoices"  # type: ignore[union-attr]
    rows = book.create_sheet("Rows")
    book.create_sheet("Summary")
    rows.append(["row", "status", "crm_id", "error", *HEADER.split(",")[:-1]])
    rows.append([2, "created", 7, None, "OLD-1", "2026-06-01", "2026-07-01", "billing@acme.example", "EUR"])
    rows.append(
        [3, "invalid", None, "bad", "OLD-2", "2026-06-01", "2026-07-01", "billing@acme.example", "EUR"]
    )
    for row in rows.iter_rows(min_row=2):
        row[9].value, row[10].value, row[11].value, row[12].value = "WID-001", 1, 10, "VAT 20%"
    path = tmp_path / "march.results.xlsx"
    book.save(path)
    result = invoke("validate", path, "--json")
    assert result.exit_code == 0, result.stderr  # 'created' / 'invalid' are not read as the invoice's status
    assert result.summary["invoices"] == 2


# ----------------------------------------------------------------------------- 2. --update


def test_update_updates_a_changed_draft_in_place_and_leaves_a_sent_one_changed(
    server: SandboxServer, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite"
    first = [
        ("UPD-1", "WID-001", "2", "Draft"),
        ("UPD-2", "WID-001", "2", "Sent"),
        ("UPD-3", "WID-001", "2", ""),
    ]
    source = write_csv(tmp_path / "monthly.csv", first)
    assert invoke("run", source, *crm_args(server, journal), "--yes").exit_code == 0
    ids = {n: int(r["crm_id"]) for n, r in invoices_sheet(tmp_path / "monthly.csv.results.xlsx").items()}
    write_csv(source, [("UPD-1", "WID-001", "5", "Draft"), ("UPD-2", "WID-001", "5", "Sent"), first[2]])
    plain = invoke(
        "run", source, *crm_args(server, journal), "--yes", "--json"
    )  # without --update: as before
    assert plain.exit_code == 1 and plain.summary["changed"] == 2 and plain.summary["updated"] == 0
    assert Decimal(str(Crm(server.url).invoice(ids["UPD-1"])["cost"])) == Decimal("24.00")
    updated = invoke("run", source, *crm_args(server, journal), "--yes", "--json", "--update")
    assert updated.exit_code == 1, updated.stderr  # UPD-2 is Sent: not updated
    assert (updated.summary["updated"], updated.summary["changed"], updated.summary["skipped"]) == (1, 1, 1)
    sheet = invoices_sheet(tmp_path / "monthly.csv.results.xlsx")
    assert sheet["UPD-1"]["status"] == "updated" and int(sheet["UPD-1"]["crm_id"]) == ids["UPD-1"]
    assert (
        Decimal(str(sheet["UPD-1"]["crm_total"])) == Decimal("60.00") == Decimal(str(sheet["UPD-1"]["total"]))
    )
    assert Decimal(str(Crm(server.url).invoice(ids["UPD-1"])["cost"])) == Decimal("60.00")
    assert (
        sheet["UPD-2"]["status"] == "changed"
        and "only a Draft invoice can be updated" in sheet["UPD-2"]["error"]
    )
    assert len(Crm(server.url).numbers()) == 3  # nothing created twice
    again = invoke("run", source, *crm_args(server, journal), "--yes", "--json", "--update")
    assert again.summary["skipped"] == 2 and again.summary["changed"] == 1  # the update is recorded


def test_update_leaves_an_invoice_changed_in_the_crm_since_the_import(
    server: SandboxServer, tmp_path: Path
) -> None:
    journal = tmp_path / "journal.sqlite"
    source = write_csv(tmp_path / "m.csv", [("UPC-1", "WID-001", "2", "Draft")])
    assert invoke("run", source, *crm_args(server, journal), "--yes").exit_code == 0
    crm_id = int(invoices_sheet(tmp_path / "m.csv.results.xlsx")["UPC-1"]["crm_id"])
    body = {
        "issueDate": "2026-06-01", "dueDate": "2026-07-01", "contactId": 1, "currency": "EUR",
        "exchangeRate": "1.00", "terms": "t", "language": "en-US",
        "invoiceLines": [{"invoiceItemID": 1, "quantity": "9.00", "price": "10.00"}],
    }  # fmt: skip
    put(server, f"invoice/{crm_id}", body)  # someone corrects it in the CRM
    write_csv(source, [("UPC-1", "WID-001", "5", "Draft")])
    result = invoke("run", source, *crm_args(server, journal), "--yes", "--json", "--update")
    assert result.exit_code == 1 and result.summary["changed"] == 1
    row = invoices_sheet(tmp_path / "m.csv.results.xlsx")["UPC-1"]
    assert "its lines were changed in the CRM since the import" in row["error"]
    assert Decimal(str(Crm(server.url).invoice(crm_id)["cost"])) == Decimal("90.00")  # left as they made it


# ----------------------------------------------------------------------------- 3. history


def test_history_lists_the_runs_newest_first_with_their_counts(server: SandboxServer, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    first = write_csv(tmp_path / "june.csv", [("H-1", "WID-001", "1", ""), ("H-2", "WID-001", "-1", "")])
    second = write_csv(tmp_path / "july.csv", [("H-3", "WID-001", "1", "Paid")])
    assert invoke("run", first, *crm_args(server, journal), "--yes").exit_code == 1
    assert invoke("run", second, *crm_args(server, journal), "--yes").exit_code == 0
    assert invoke("run", second, *crm_args(server, journal), "--dry-run").exit_code == 0  # not recorded
    result = invoke("history", *crm_args(server, journal), "--json")
    assert result.exit_code == 0, result.stderr
    runs = json.loads(result.stdout)
    assert [run["file"] for run in runs] == ["july.csv", "june.csv"]
    assert runs[0]["counts"] == {"created": 1} and runs[1]["counts"] == {"created": 1, "invalid": 1}
    import hashlib

    assert runs[1]["sha256"] == hashlib.sha256(first.read_bytes()).hexdigest() and runs[1]["user"]
    table = invoke("history", *crm_args(server, journal))
    assert runs[0]["run_id"] in table.stdout and "1 created, 1 invalid" in table.stdout


# ----------------------------------------------------------------------------- 4. undo


def test_undo_of_a_run_someone_partly_changed_in_between(server: SandboxServer, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    rows = [
        (f"UN-{n}", "WID-001", "2", status) for n, status in enumerate(("", "", "Sent", "", "", "Sent"), 1)
    ]
    source = write_csv(tmp_path / "wrong.csv", rows)
    assert invoke("run", source, *crm_args(server, journal), "--yes").exit_code == 0
    ids = {n: int(r["crm_id"]) for n, r in invoices_sheet(tmp_path / "wrong.csv.results.xlsx").items()}
    (run,) = json.loads(invoke("history", *crm_args(server, journal), "--json").stdout)
    # in between, someone: pays UN-3 (Sent by the import), corrects UN-4's lines, deletes UN-5
    put(server, "invoice/status/paid", {"invoiceids": [ids["UN-3"]]})
    body = {
        "issueDate": "2026-06-01", "dueDate": "2026-07-01", "contactId": 1, "currency": "EUR",
        "exchangeRate": "1.00", "terms": "t", "language": "en-US",
        "invoiceLines": [{"invoiceItemID": 1, "quantity": "3.00", "price": "10.00"}],
    }  # fmt: skip
    put(server, f"invoice/{ids['UN-4']}", body)
    httpx.delete(f"{server.url}/api/2.0/crm/invoice/{ids['UN-5']}", headers={"Authorization": TOKEN})

    dry = invoke("undo", run["run_id"], *crm_args(server, journal), "--dry-run", "--json")
    assert dry.summary["planned"] == 3 and dry.summary["kept"] == 2 and dry.summary["gone"] == 1
    assert len(Crm(server.url).numbers()) == 5  # nothing deleted
    assert "Undo plan" in dry.stderr and "its status was moved to Paid" in dry.stderr

    refused = invoke("undo", run["run_id"], *crm_args(server, journal))  # not a terminal, no --yes
    assert refused.exit_code == 1 and "add --yes" in refused.stderr and len(Crm(server.url).numbers()) == 5

    done = invoke("undo", run["run_id"], *crm_args(server, journal), "--yes", "--json")
    assert done.exit_code == 1, done.stderr  # two kept
    assert (done.summary["deleted"], done.summary["kept"], done.summary["gone"]) == (3, 2, 1)
    assert sorted(Crm(server.url).numbers()) == ["UN-3", "UN-4"]
    workbook = {r["Invoice number"]: r for r in sheet_rows(Path(done.summary["results"]), "Invoices")}
    assert {n: r["Undo"] for n, r in workbook.items()} == {
        "UN-1": "deleted", "UN-2": "deleted", "UN-3": "kept", "UN-4": "kept", "UN-5": "gone",
        "UN-6": "deleted",
    }  # fmt: skip
    assert "moved to Paid in the CRM since (this import left it Sent)" in workbook["UN-3"]["Reason"]
    assert "lines were changed in the CRM" in workbook["UN-4"]["Reason"]
    assert "already deleted in the CRM by someone else" in workbook["UN-5"]["Reason"]
    with Journal.open(journal, server.url) as opened:
        assert opened.entry("UN-1").state is JournalState.DELETED  # type: ignore[union-attr]
        assert opened.entry("UN-3").state is JournalState.CREATED  # type: ignore[union-attr]
    history = json.loads(invoke("history", *crm_args(server, journal), "--json").stdout)
    assert history[0]["kind"] == "undo" and history[0]["undoes"] == [run["run_id"]]
    assert history[0]["counts"] == {"deleted": 3, "kept": 2, "gone": 1}

    # running the file again creates the deleted ones anew (and the one gone); the kept ones are still this
    # import's (the file did not change: skipped)
    rerun = invoke("run", source, *crm_args(server, journal), "--yes", "--json")
    assert (rerun.summary["created"], rerun.summary["skipped"]) == (4, 2)
    # --force deletes the kept ones too (the --file form: every run of that file)
    forced = invoke("undo", "--file", source, *crm_args(server, journal), "--yes", "--force", "--json")
    assert forced.exit_code == 0, forced.stderr
    assert Crm(server.url).numbers() == []


def test_undo_names_an_unknown_run(server: SandboxServer, tmp_path: Path) -> None:
    result = invoke("undo", "20990101-000000-beef", *crm_args(server, tmp_path / "j.sqlite"), "--yes")
    assert result.exit_code == 2 and "No run 20990101-000000-beef" in result.stderr


def test_undo_on_the_web_history_page_uses_the_same_library_function(
    server: SandboxServer, tmp_path: Path
) -> None:
    import re

    from importer.web.config import WebConfig
    from importer.web.server import WebServer

    journal = tmp_path / "journal.sqlite"
    source = write_csv(tmp_path / "web.csv", [(f"W-{n}", "WID-001", "1", "Sent") for n in range(3)])
    assert invoke("run", source, *crm_args(server, journal), "--yes").exit_code == 0
    ids = {n: int(r["crm_id"]) for n, r in invoices_sheet(tmp_path / "web.csv.results.xlsx").items()}
    put(server, "invoice/status/paid", {"invoiceids": [ids["W-0"]]})  # someone pays one meanwhile
    (run,) = json.loads(invoke("history", *crm_args(server, journal), "--json").stdout)
    config = WebConfig(port=0, url=server.url, token=TOKEN, data_dir=tmp_path / "data")
    with (
        WebServer(config, crm_url=server.url, token=TOKEN, journal=journal) as running,
        httpx.Client(base_url=running.url, timeout=30) as web,
    ):
        history = web.get("/history")
        assert history.status_code == 200 and f'href="/runs/{run["run_id"]}/undo"' in history.text
        plan = web.get(f"/runs/{run['run_id']}/undo")
        assert plan.status_code == 200 and 'data-planned="2"' in plan.text and 'data-kept="1"' in plan.text
        assert "moved to Paid" in plan.text and len(Crm(server.url).numbers()) == 3  # nothing deleted yet
        csrf = re.search(r'name="csrf" value="([^"]+)"', plan.text)
        numbers = re.findall(r'name="number" value="([^"]+)"', plan.text)
        assert csrf is not None and sorted(numbers) == ["W-1", "W-2"]
        forged = web.post(f"/runs/{run['run_id']}/undo", data={"csrf": "nope", "number": numbers})
        assert forged.status_code == 403 and len(Crm(server.url).numbers()) == 3
        done = web.post(f"/runs/{run['run_id']}/undo", data={"csrf": csrf.group(1), "number": numbers})
        assert done.status_code == 200 and 'data-deleted="2"' in done.text and 'data-kept="1"' in done.text
        assert Crm(server.url).numbers() == ["W-0"]
        workbook = web.get(f"/runs/{run['run_id']}/undo.xlsx")
        assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
        assert web.get("/runs/..%2Fetc/undo").status_code == 404
