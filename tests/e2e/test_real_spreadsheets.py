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
    for row, _column, _code, cell, _text in expected.get("errors", []):
        assert any(f"row {row}," in line and cell in line for line in result.stderr.splitlines()), (
            row,
            cell,
            result.stderr,
        )
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
    assert "cell H2 shows the error #N/A; fix the formula or type the value" in result.stderr
    rows = {row["row"]: row for row in sheet_rows(results, "Rows")}
    assert rows[2]["Unit Price"] == "#N/A"  # the evidence is kept, as text
    assert rows[3]["Discount %"] == "#DIV/0!"
    assert rows[4]["Qty"] == "#REF!"


def test_formulas_without_saved_results_make_their_rows_invalid(fresh_sandbox, tmp_path: Path) -> None:
    result, results = run_fixture(fresh_sandbox.url, tmp_path, "uncached.xlsx")
    check_against_expected(fresh_sandbox.url, "uncached.xlsx", result, results)
    assert (
        "cell H2 holds the formula =L2*M2 with no saved result: open the file in Excel or LibreOffice and "
        "save it, or paste values." in result.stderr
    )
    rows = {row["row"]: row for row in sheet_rows(results, "Rows")}
    assert rows[2]["Unit Price"] == "=L2*M2"
    assert rows[3]["Total"] == "=ROUND(G3*H3,2)"
