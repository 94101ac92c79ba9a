"""End to end: the real CLI against a sandbox CRM on a loopback port, over real HTTP.

Outcomes are checked through the CRM's API and through the results workbook, not through the CLI's
own words.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.e2e_helpers import SAMPLES, TOKEN, Crm, invoices_sheet, invoke

CLEAN_NUMBERS = [f"INV-2026-000{i}" for i in range(1, 7)]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name in ("invoices.xlsx", "invoices.csv", "invoices_with_mistakes.xlsx"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    return tmp_path


def run_args(url: str, journal: Path, *extra: str | Path) -> list[str | Path]:
    return ["run", *extra, "--url", url, "--token", TOKEN, "--journal", journal, "--yes", "--json"]


def test_clean_workbook_creates_every_invoice_with_the_crm_total(fresh_sandbox, workdir: Path) -> None:
    journal = workdir / "journal.sqlite"
    result = invoke(*run_args(fresh_sandbox.url, journal, workdir / "invoices.xlsx"))

    assert result.exit_code == 0, result.stderr
    summary = result.summary
    assert (summary["created"], summary["invoices"], summary["lines"]) == (6, 6, 9)
    results = Path(summary["results"])
    assert results == workdir / "invoices.results.xlsx"
    crm = Crm(fresh_sandbox.url)
    assert sorted(crm.numbers()) == CLEAN_NUMBERS
    for number, row in invoices_sheet(results).items():
        assert row["status"] == "created"
        created = crm.invoice(int(row["crm_id"]))
        assert created["number"] == number
        assert Decimal(str(created["cost"])) == Decimal(str(row["total"])) == Decimal(str(row["crm_total"]))
    # the half-even case: 2.90 + 25 % VAT is 3.62, and with the second line 33.62
    assert Decimal(str(invoices_sheet(results)["INV-2026-0004"]["crm_total"])) == Decimal("33.62")


def test_catalogue_price_and_default_terms_are_filled_in(fresh_sandbox, workdir: Path) -> None:
    result = invoke(*run_args(fresh_sandbox.url, workdir / "j.sqlite", workdir / "invoices.xlsx"))
    assert result.exit_code == 0, result.stderr
    row = invoices_sheet(Path(result.summary["results"]))["INV-2026-0002"]
    created = Crm(fresh_sandbox.url).invoice(int(row["crm_id"]))
    assert created["invoiceLines"][0]["price"] == pytest.approx(19.99)
    assert created["terms"] == "Payment is due within 30 days of the invoice date."
    assert created["currency"]["abbreviation"] == "USD"


def test_the_invoice_settings_are_fetched_once_for_the_access_check_and_the_default_terms(
    fresh_sandbox, workdir: Path
) -> None:
    result = invoke(*run_args(fresh_sandbox.url, workdir / "j.sqlite", workdir / "invoices.xlsx"))
    assert result.exit_code == 0, result.stderr
    row = invoices_sheet(Path(result.summary["results"]))["INV-2026-0002"]  # blank terms in the file
    assert Crm(fresh_sandbox.url).invoice(int(row["crm_id"]))["terms"].startswith("Payment is due")
    assert fresh_sandbox.stats.count("GET", "/api/2.0/crm/invoice/settings") == 1


def test_second_run_skips_everything_with_the_same_ids(fresh_sandbox, workdir: Path) -> None:
    journal = workdir / "journal.sqlite"
    first = invoke(*run_args(fresh_sandbox.url, journal, workdir / "invoices.xlsx"))
    ids = {n: r["crm_id"] for n, r in invoices_sheet(Path(first.summary["results"])).items()}

    second = invoke(*run_args(fresh_sandbox.url, journal, workdir / "invoices.xlsx"))

    assert second.exit_code == 0, second.stderr
    assert second.summary["skipped"] == 6 and second.summary["created"] == 0
    again = invoices_sheet(Path(second.summary["results"]))
    assert {n: r["crm_id"] for n, r in again.items()} == ids
    assert {r["status"] for r in again.values()} == {"skipped"}
    assert sorted(Crm(fresh_sandbox.url).numbers()) == CLEAN_NUMBERS


def test_csv_gives_the_same_invoices_as_the_workbook(fresh_sandbox, workdir: Path) -> None:
    result = invoke(*run_args(fresh_sandbox.url, workdir / "j.sqlite", workdir / "invoices.csv"))
    assert result.exit_code == 0, result.stderr
    totals = {
        n: Decimal(str(r["crm_total"])) for n, r in invoices_sheet(Path(result.summary["results"])).items()
    }
    assert totals == {
        "INV-2026-0001": Decimal("1269.00"),
        "INV-2026-0002": Decimal("214.90"),
        "INV-2026-0003": Decimal("1444.50"),
        "INV-2026-0004": Decimal("33.62"),
        "INV-2026-0005": Decimal("1170.00"),
        "INV-2026-0006": Decimal("19.99"),
    }


def test_someone_elses_invoice_with_the_same_number_is_exists(fresh_sandbox, workdir: Path) -> None:
    other = workdir / "other-journal.sqlite"
    invoke(*run_args(fresh_sandbox.url, other, workdir / "invoices.xlsx"))

    result = invoke(*run_args(fresh_sandbox.url, workdir / "mine.sqlite", workdir / "invoices.xlsx"))

    assert result.exit_code == 1
    assert result.summary["exists"] == 6 and result.summary["created"] == 0
    assert len(Crm(fresh_sandbox.url).numbers()) == 6


MISTAKES = {  # invoice -> (status, the file's headers that the error must name)
    "INV-2026-0101": ("created", []),
    "INV-2026-0102": ("invalid", ["Due Date"]),
    "INV-2026-0103": ("invalid", ["Customer"]),
    "INV-2026-0104": ("invalid", ["Customer"]),
    "INV-2026-0105": ("invalid", ["Item"]),
    "INV-2026-0106": ("invalid", ["Unit Price", "Qty", "Discount %"]),
    "INV-2026-0107": ("invalid", ["Currency", "Customer"]),
    "INV-2026-0108": ("invalid", ["Invoice Number"]),
    "inv-2026-0108": ("invalid", ["Invoice Number"]),
    "INV-2026-0109": ("invalid", ["Issue Date", "Item", "VAT"]),
    "INV-2026-0110": ("invalid", ["Total"]),
    "INV-2026-0111": ("invalid", ["Language"]),
    "INV-2026-0112": ("created", []),
}

# row -> headers (as in the file) whose cells must be red with a comment
RED_CELLS = {
    3: ["Due Date"],
    4: ["Customer"],
    5: ["Customer"],
    6: ["Item"],
    7: ["Unit Price"],
    8: ["Qty"],
    9: ["Discount %"],
    10: ["Currency"],
    11: ["Customer"],
    12: ["Invoice Number"],
    13: ["Invoice Number"],
    14: ["Issue Date", "Item", "VAT"],
    15: ["Total"],
    16: ["Language"],
}


def test_mistakes_are_each_explained_on_their_row_and_column(fresh_sandbox, workdir: Path) -> None:
    result = invoke(
        *run_args(fresh_sandbox.url, workdir / "j.sqlite", workdir / "invoices_with_mistakes.xlsx")
    )

    assert result.exit_code == 1
    results = Path(result.summary["results"])
    sheet = invoices_sheet(results)
    assert set(sheet) == set(MISTAKES)
    for number, (status, columns) in MISTAKES.items():
        assert sheet[number]["status"] == status, (number, sheet[number])
        for column in columns:
            assert column in (sheet[number]["error"] or ""), (number, column, sheet[number]["error"])
    assert sorted(Crm(fresh_sandbox.url).numbers()) == ["INV-2026-0101", "INV-2026-0112"]

    rows = load_workbook(results)["Rows"]
    header = [cell.value for cell in rows[1]]
    for row, headers in RED_CELLS.items():
        for name in headers:
            cell = rows.cell(row=row, column=header.index(name) + 1)
            assert cell.fill.fgColor.rgb not in (None, "00000000"), (row, name)
            assert cell.comment is not None and cell.comment.text, (row, name)
    assert "did you mean 'Acme Ltd'" in sheet["INV-2026-0103"]["error"]
    several = sheet["INV-2026-0106"]["error"]
    assert several.index("row 7,") < several.index("row 8,") < several.index("row 9,")  # in row order
    ambiguous = sheet["INV-2026-0104"]["error"]
    assert "6" in ambiguous and "7" in ambiguous  # the candidates' IDs


def test_fixed_rows_sheet_fed_back_posts_only_what_was_not_created(fresh_sandbox, workdir: Path) -> None:
    journal = workdir / "j.sqlite"
    first = invoke(*run_args(fresh_sandbox.url, journal, workdir / "invoices_with_mistakes.xlsx"))
    results = Path(first.summary["results"])

    # The user fixes the due date of INV-2026-0102 and the customer of INV-2026-0103 in the Rows sheet,
    # and deletes every other broken row.
    workbook = load_workbook(results)
    rows = workbook["Rows"]
    header = [cell.value for cell in rows[1]]
    due, customer, number = (header.index(n) + 1 for n in ("Due Date", "Customer", "Invoice Number"))
    rows.cell(row=3, column=due).value = rows.cell(row=3, column=header.index("Issue Date") + 1).value
    rows.cell(row=4, column=customer).value = "Acme Ltd"
    keep = {"INV-2026-0101", "INV-2026-0102", "INV-2026-0103", "INV-2026-0112"}
    for index in range(rows.max_row, 1, -1):
        if rows.cell(row=index, column=number).value not in keep:
            rows.delete_rows(index)
    fixed = workdir / "fixed.xlsx"
    workbook.save(fixed)

    second = invoke(*run_args(fresh_sandbox.url, journal, fixed, "--sheet", "Rows"))

    assert second.exit_code == 0, second.stderr
    statuses = {n: r["status"] for n, r in invoices_sheet(Path(second.summary["results"])).items()}
    assert statuses == {
        "INV-2026-0101": "skipped",
        "INV-2026-0102": "created",
        "INV-2026-0103": "created",
        "INV-2026-0112": "skipped",
    }
    assert sorted(Crm(fresh_sandbox.url).numbers()) == sorted(keep)


def test_dry_run_plans_and_creates_nothing(fresh_sandbox, workdir: Path) -> None:
    result = invoke(
        *run_args(fresh_sandbox.url, workdir / "j.sqlite", workdir / "invoices.xlsx"), "--dry-run"
    )

    assert result.exit_code == 0, result.stderr
    assert result.summary["planned"] == 6
    assert Crm(fresh_sandbox.url).numbers() == []
    assert {r["status"] for r in invoices_sheet(Path(result.summary["results"])).values()} == {"planned"}
    assert "create   6 invoices with 9 lines" in result.stderr
    assert "2,492.61 EUR" in result.stderr  # 1269.00 + 33.62 + 1170.00 + 19.99
    assert "214.90 USD" in result.stderr and "1,444.50 GBP" in result.stderr


def test_without_yes_a_non_interactive_run_posts_nothing(fresh_sandbox, workdir: Path) -> None:
    args = [
        "run",
        workdir / "invoices.xlsx",
        "--url",
        fresh_sandbox.url,
        "--token",
        TOKEN,
        "--journal",
        workdir / "j.sqlite",
        "--json",
    ]
    result = invoke(*args)

    assert result.exit_code == 1
    assert "--yes" in result.stderr
    assert result.summary["pending"] == 6
    assert Crm(fresh_sandbox.url).numbers() == []


def test_sandbox_flag_rehearses_in_process(workdir: Path) -> None:
    result = invoke("run", workdir / "invoices.xlsx", "--sandbox", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.summary["created"] == 6
    assert "sandbox" in result.stderr.lower()


def test_rejected_token_exits_3_and_says_so(fresh_sandbox, workdir: Path) -> None:
    result = invoke(
        "run",
        workdir / "invoices.xlsx",
        "--url",
        fresh_sandbox.url,
        "--token",
        "wrong-token",
        "--journal",
        workdir / "j.sqlite",
        "--yes",
    )
    assert result.exit_code == 3
    assert "token" in result.stderr.lower()
    assert "wrong-token" not in result.stderr + result.stdout


def test_login_with_user_and_password(fresh_sandbox, workdir: Path) -> None:
    result = invoke(
        "run",
        workdir / "invoices.xlsx",
        "--url",
        fresh_sandbox.url,
        "--user",
        "admin@example.com",
        "--password",
        "sandbox",
        "--journal",
        workdir / "j.sqlite",
        "--yes",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    assert result.summary["created"] == 6


def test_plain_http_to_a_remote_host_is_refused_before_sending(workdir: Path) -> None:
    result = invoke(
        "run",
        workdir / "invoices.xlsx",
        "--url",
        "http://crm.example.com",
        "--token",
        "t",
        "--journal",
        workdir / "j.sqlite",
        "--yes",
    )
    assert result.exit_code in (2, 3)
    assert "--allow-http" in result.stderr


def test_validate_is_offline_and_names_rows_and_columns(workdir: Path) -> None:
    result = invoke("validate", workdir / "invoices_with_mistakes.xlsx", "--json")
    assert result.exit_code == 1
    assert "invoices_with_mistakes.xlsx: row 3, Due Date: " in result.stderr
    assert result.summary["invalid"] >= 6

    clean = invoke("validate", workdir / "invoices.xlsx", "--results", workdir / "checked.xlsx")
    assert clean.exit_code == 0, clean.stderr
    assert (workdir / "checked.xlsx").exists()


def test_missing_required_columns_exit_2_with_the_closest_headers(workdir: Path) -> None:
    broken = workdir / "broken.csv"
    broken.write_text(
        "Invoice Number,Issue Date,Due,Customer,Currency,Product,Quantity Ordered\n"
        "A1,2026-01-01,2026-02-01,billing@acme.example,EUR,WID-001,1\n",
        encoding="utf-8",
    )
    result = invoke("validate", broken)
    assert result.exit_code == 2
    assert "quantity" in result.stderr.lower() and "Quantity Ordered" in result.stderr
    assert "Traceback" not in result.stderr


def fill_in_template(path: Path) -> None:
    """What a user does: copy the Example sheet's rows onto the Invoices sheet, then save."""
    book = load_workbook(path)
    for row in book["Example"].iter_rows(min_row=2, values_only=True):
        book["Invoices"].append(row)
    book.save(path)


def test_template_example_validates_on_its_own_sheet(workdir: Path) -> None:
    out = workdir / "template.xlsx"
    assert invoke("template", out).exit_code == 0
    result = invoke("validate", out, "--sheet", "Example", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.summary["invoices"] == 1 and result.summary["lines"] == 2


def test_an_unfilled_template_posts_nothing_and_says_why(fresh_sandbox, workdir: Path) -> None:
    out = workdir / "template.xlsx"
    invoke("template", out)
    result = invoke(*run_args(fresh_sandbox.url, workdir / "j.sqlite", out))
    assert result.exit_code == 2
    assert "no data rows" in result.stderr and "Traceback" not in result.stderr
    assert Crm(fresh_sandbox.url).numbers() == []


def test_a_filled_in_template_validates_and_is_accepted_by_the_crm(fresh_sandbox, workdir: Path) -> None:
    out = workdir / "template.xlsx"
    invoke("template", out)
    fill_in_template(out)
    checked = invoke("validate", out, "--json")
    assert checked.exit_code == 0, checked.stderr
    assert (checked.summary["invoices"], checked.summary["lines"]) == (1, 2)
    result = invoke(*run_args(fresh_sandbox.url, workdir / "j.sqlite", out))
    assert result.exit_code == 0, result.stderr
    assert result.summary["created"] == 1
    assert Crm(fresh_sandbox.url).numbers() == ["INV-2026-0001"]


def test_template_refuses_to_overwrite_a_wrong_name_and_a_missing_folder(workdir: Path) -> None:
    existing = workdir / "invoices.xlsx"
    before = existing.read_bytes()
    refused = invoke("template", existing)
    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert existing.read_bytes() == before
    assert invoke("template", existing, "--force").exit_code == 0
    assert load_workbook(existing).sheetnames[:2] == ["Invoices", "Example"]
    wrong = invoke("template", workdir / "template.csv")
    assert wrong.exit_code == 2 and ".xlsx" in wrong.stderr and not (workdir / "template.csv").exists()
    missing = invoke("template", workdir / "no" / "such" / "t.xlsx")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr and not (workdir / "no").exists()


def test_every_command_has_help_with_an_example() -> None:
    for command in ("run", "validate", "template", "sandbox"):
        result = invoke(command, "--help")
        assert result.exit_code == 0
        assert "Example" in result.stdout, command
    assert "ONLYOFFICE_TOKEN" in invoke("run", "--help").stdout


def test_a_crm_that_fails_look_ups_exits_3_with_the_workbook(workdir: Path) -> None:
    """A server whose settings answer but whose look-ups fail with 500: exit 3, the error said, every
    invoice pending, the workbook written."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Broken(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/api/2.0/crm/invoice/settings"):
                body, status = b'{"status": 0, "statusCode": 200, "response": {"terms": "Net 30"}}', 200
            else:
                body, status = (
                    b'{"status": 1, "statusCode": 500, "error": {"message": "Database is down"}}',
                    500,
                )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = invoke(*run_args(url, workdir / "j.sqlite", workdir / "invoices.xlsx"))
    finally:
        server.shutdown()
    assert result.exit_code == 3, result.stderr
    assert "Database is down" in result.stderr
    assert result.summary["pending"] == 6
    assert {r["status"] for r in invoices_sheet(Path(result.summary["results"])).values()} == {"pending"}
