"""Issue 12, the reading side, end to end: workbooks made the way finance teams' tools make them
(tests/fixtures/real, written by openpyxl and saved by LibreOffice; see make_fixtures.py there), run through
the real CLI against a sandbox CRM, checked through the CRM's API and the results workbook.

The acceptance line: a file with a cell fault can no longer produce a ``created`` invoice, and nothing is
created with a wrong amount.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.e2e_helpers import TOKEN, Crm, invoices_sheet, invoke, sheet_rows

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"


def expected_of(name: str) -> dict[str, Any]:
    return dict(json.loads((REAL / f"{name}.expected.json").read_text(encoding="utf-8")))


def run_fixture(sandbox_url: str, tmp_path: Path, name: str, *extra: str) -> tuple[Any, Path]:
    """Run the real CLI on a copy of fixture ``name``: its result and the results workbook."""
    source = tmp_path / name
    shutil.copy(REAL / name, source)
    results = tmp_path / "results.xlsx"
    result = invoke(
        "run", source, *extra, "--url", sandbox_url, "--token", TOKEN, "--journal", tmp_path / "j.sqlite",
        "--results", results, "--yes", "--json",
    )  # fmt: skip
    return result, results


def check_against_expected(sandbox_url: str, name: str, result: Any, results: Path) -> None:
    """Statuses, errors (cell and code, in the console), and the CRM: exactly the expected invoices were
    created, each with the expected total."""
    expected = expected_of(name)
    assert result.exit_code == expected["exit_code"], result.stderr
    sheet = invoices_sheet(results)
    assert {number: row["status"] for number, row in sheet.items()} == expected["invoices"]
    for row, _column, code, cell, _text in expected.get("errors", []):
        # a cell that cannot be read is named (H2); the other errors by row and header
        shown = [line for line in result.stderr.splitlines() if f"row {row}," in line]
        assert shown, (row, result.stderr)
        if code in ("cell_error", "no_saved_result"):
            assert any(cell in line for line in shown), (cell, shown)
    crm = Crm(sandbox_url)
    created = {invoice["number"]: invoice for invoice in crm.invoices()}
    assert set(created) == {n for n, status in expected["invoices"].items() if status == "created"}
    for number, total in expected.get("totals", {}).items():
        assert Decimal(str(created[number]["cost"])) == Decimal(total), number


# ------------------------------------------------------------------------------ 1. cells read as they are


@pytest.mark.parametrize("name", ["cell_faults.lo.xlsx", "cell_faults.lo.ods", "cell_faults.lo.xls"])
def test_error_values_saved_by_libreoffice_make_their_rows_invalid(
    fresh_sandbox, tmp_path: Path, name: str
) -> None:
    result, results = run_fixture(fresh_sandbox.url, tmp_path, name)
    check_against_expected(fresh_sandbox.url, name, result, results)
    assert "row 2, Unit Price (H2): the cell shows the error #N/A; fix the formula or type the value" in (
        result.stderr
    )
    rows = {row["row"]: row for row in sheet_rows(results, "Rows")}
    assert rows[2]["Unit Price"] == "#N/A"  # the evidence is kept, as text
    assert rows[3]["Discount %"] == "#DIV/0!"
    assert rows[4]["Qty"] == "#REF!"


def test_formulas_without_saved_results_make_their_rows_invalid(fresh_sandbox, tmp_path: Path) -> None:
    result, results = run_fixture(fresh_sandbox.url, tmp_path, "uncached.xlsx")
    check_against_expected(fresh_sandbox.url, "uncached.xlsx", result, results)
    assert (
        "row 2, Unit Price (H2): the cell holds the formula =L2*M2 with no saved result: open the file in "
        "Excel or LibreOffice and "
        "save it, or paste values." in result.stderr
    )
    rows = {row["row"]: row for row in sheet_rows(results, "Rows")}
    assert rows[2]["Unit Price"] == "=L2*M2"
    assert rows[3]["Total"] == "=ROUND(G3*H3,2)"


# --------------------------------------------------------------- 2-4. a finance team's sheet, as it comes


def test_title_rows_totals_rows_and_amounts_as_finance_writes_them(fresh_sandbox, tmp_path: Path) -> None:
    name = "finance_layout.lo.xlsx"
    expected = expected_of(name)
    result, results = run_fixture(fresh_sandbox.url, tmp_path, name)
    check_against_expected(fresh_sandbox.url, name, result, results)
    # 2: the header was found below the title and the note, and the console says so
    assert f"the header is row {expected['header_row']}" in result.stderr
    # 3: the subtotal and the grand total are no invoices, no errors, and said on the console
    assert "rows 12, 13: totals rows, not invoices; not imported." in result.stderr
    numbers = set(invoices_sheet(results))
    assert not any("total" in number.casefold() for number in numbers)
    assert not [line for line in result.stderr.splitlines() if "row 12," in line or "row 13," in line]
    rows = {row["row"]: row for row in sheet_rows(results, "Rows")}  # kept in Rows, marked, not invalid
    for row in (12, 13):
        assert not rows[row]["import_status"] and "totals row" in rows[row]["import_error"], rows[row]
    summary = {row[0]: row[1] for row in load_workbook(results)["Summary"].iter_rows(values_only=True)}
    assert summary["rows of no invoice (invalid)"] == 0 and summary["totals rows (not imported)"] == 2
    # 4: the reasons of the two refused amounts
    assert "row 9, Unit Price: The price cannot be negative" in result.stderr
    assert (
        "row 10, Unit Price: This amount is written in $ but the invoice's currency is EUR" in result.stderr
    )


def test_header_row_option_overrides_the_search(tmp_path: Path) -> None:
    shutil.copy(REAL / "finance_layout.lo.xlsx", tmp_path / "f.xlsx")
    found = invoke("validate", tmp_path / "f.xlsx", "--json")
    assert found.summary["invoices"] == 7
    forced = invoke("validate", tmp_path / "f.xlsx", "--header-row", "2")  # the note row: no known columns
    assert forced.exit_code == 2 and "required columns missing" in forced.stderr


# ---------------------------------------------------------------------- 5. all format questions at once


def test_every_undecided_column_is_listed_at_once_and_the_options_decide_them(
    fresh_sandbox, tmp_path: Path
) -> None:
    name = "undecided.lo.xlsx"
    expected = expected_of(name)
    asked, _ = run_fixture(fresh_sandbox.url, tmp_path, name)
    assert asked.exit_code == 2
    message = [line for line in asked.stderr.splitlines() if line.startswith("error: ")]
    assert len(message) == 1  # one message, one line
    for header in expected["undecided"]:
        assert f"Column '{header}': cannot tell" in message[0]
    assert (
        "pass --decimal . or --decimal ," in message[0] and "pass --day-first or --month-first" in message[0]
    )
    assert Crm(fresh_sandbox.url).invoices() == []

    result, _ = run_fixture(fresh_sandbox.url, tmp_path, name, *expected["fixed_by"])
    assert result.exit_code == 0, result.stderr
    created = {invoice["number"]: invoice for invoice in Crm(fresh_sandbox.url).invoices()}
    assert Decimal(str(created["INV-D1"]["cost"])) == Decimal(expected["totals"]["INV-D1"])
    assert str(created["INV-D1"]["issueDate"]).startswith("2026-04-03")


# ------------------------------------------------------------------ 10. a total mismatch that helps


def test_a_total_mismatch_names_the_line_a_spreadsheet_rounds_otherwise(tmp_path: Path) -> None:
    source = tmp_path / "rounding.csv"
    source.write_text(
        "Invoice Number,Issue Date,Due Date,Customer,Currency,Item,Qty,Unit Price,Total\n"
        "A1,2026-06-01,2026-07-01,billing@acme.example,EUR,WID-001,0.5,0.25,23.23\n"
        "A1,,,,,WID-001,3,7.70,\n",
        encoding="utf-8",
    )
    result = invoke("validate", source)
    assert result.exit_code == 1
    assert "the CRM rounds each line to the cent, half to even" in result.stderr
    assert "row 2 comes to 0.12 the CRM's way but 0.13 with ROUND (half away from zero)" in result.stderr
