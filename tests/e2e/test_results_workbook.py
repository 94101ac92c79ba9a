"""End to end: the results workbook as a finance user meets it (issue 12, points 7, 8 and 10).

No results are lost (a dry run, a check, a fed-back workbook and same-stem inputs each get their own
name; an unreachable CRM still shows the CRM IDs the journal knows), the workbook reads at a glance
(column order, frozen panes, amounts as numbers, readable headers, wrapped errors, the Summary's values
beside their labels), and the console says what it did. Checked with openpyxl: no LibreOffice needed.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from tests.e2e_helpers import SAMPLES, TOKEN, Crm, invoices_sheet, invoke, sheet_rows

RESULT_HEAD = [
    "row",
    "import_status",
    "crm_id",
    "crm_status",
    "import_error",
]  # results_layout.RESULT_COLUMNS


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    for name in ("invoices.xlsx", "invoices.csv", "invoices_with_mistakes.xlsx"):
        shutil.copy(SAMPLES / name, tmp_path / name)
    return tmp_path


def run(url: str, journal: Path, source: Path, *extra: str, token: str = TOKEN) -> list[str | Path]:
    return ["run", source, "--url", url, "--token", token, "--journal", journal, "--yes", "--json", *extra]


# ---------------------------------------------------------------------------------------------- point 7


def test_a_dry_run_writes_its_own_workbook_and_keeps_the_real_runs(fresh_sandbox, workdir: Path) -> None:
    journal = workdir / "j.sqlite"
    real = invoke(*run(fresh_sandbox.url, journal, workdir / "invoices.xlsx"))
    assert real.exit_code == 0, real.stderr
    results = workdir / "invoices.results.xlsx"
    before = results.read_bytes()

    dry = invoke(*run(fresh_sandbox.url, journal, workdir / "invoices.xlsx", "--dry-run"))

    assert dry.exit_code == 0, dry.stderr
    assert Path(dry.summary["results"]) == workdir / "invoices.dry-run.xlsx"
    assert results.read_bytes() == before
    assert all(row["status"] == "created" for row in invoices_sheet(results).values())


def test_validate_results_without_a_path_writes_the_check_workbook(workdir: Path) -> None:
    (workdir / "invoices_with_mistakes.results.xlsx").write_bytes(b"a real run's results")

    checked = invoke("validate", workdir / "invoices_with_mistakes.xlsx", "--results", "--json")

    assert checked.exit_code == 1
    check = workdir / "invoices_with_mistakes.check.xlsx"
    assert Path(checked.summary["results"]) == check and check.exists()
    assert (workdir / "invoices_with_mistakes.results.xlsx").read_bytes() == b"a real run's results"
    named = invoke("validate", workdir / "invoices.xlsx", "--results", workdir / "mine.xlsx")
    assert named.exit_code == 0 and (workdir / "mine.xlsx").exists()


def test_validate_without_results_says_how_to_get_the_workbook(workdir: Path) -> None:
    result = invoke("validate", workdir / "invoices_with_mistakes.xlsx")
    assert result.exit_code == 1
    assert "--results" in result.stderr and "invoices_with_mistakes.check.xlsx" in result.stderr
    assert "Results workbook:" not in result.stderr and "see the results workbook" not in result.stderr
    assert sorted(p.name for p in workdir.iterdir() if ".check." in p.name or ".results" in p.name) == []


def test_a_results_workbook_fed_back_gets_the_next_rounds_name(fresh_sandbox, workdir: Path) -> None:
    journal = workdir / "j.sqlite"
    first = invoke(*run(fresh_sandbox.url, journal, workdir / "invoices_with_mistakes.xlsx"))
    first_results = Path(first.summary["results"])
    assert first_results == workdir / "invoices_with_mistakes.results.xlsx"
    before = first_results.read_bytes()

    again = invoke(*run(fresh_sandbox.url, journal, first_results))
    third = invoke(*run(fresh_sandbox.url, journal, Path(again.summary["results"])))

    assert Path(again.summary["results"]) == workdir / "invoices_with_mistakes.results-2.xlsx"
    assert Path(third.summary["results"]) == workdir / "invoices_with_mistakes.results-3.xlsx"
    assert first_results.read_bytes() == before  # the input is never replaced
    assert again.summary["skipped"] == first.summary["created"] == 2
    assert not list(workdir.glob("*.results.results*"))


def test_same_stem_inputs_in_other_formats_keep_their_own_results(workdir: Path) -> None:
    xlsx = invoke("run", workdir / "invoices.xlsx", "--sandbox", "--yes", "--json")
    csv = invoke("run", workdir / "invoices.csv", "--sandbox", "--yes", "--json")
    assert xlsx.exit_code == csv.exit_code == 0, csv.stderr
    assert Path(xlsx.summary["results"]).name == "invoices.results.xlsx"
    assert Path(csv.summary["results"]).name == "invoices.csv.results.xlsx"


def test_an_unusable_crm_still_shows_the_ids_the_journal_knows(fresh_sandbox, workdir: Path) -> None:
    journal = workdir / "j.sqlite"
    first = invoke(*run(fresh_sandbox.url, journal, workdir / "invoices.xlsx"))
    ids = {number: row["crm_id"] for number, row in invoices_sheet(Path(first.summary["results"])).items()}
    assert len(ids) == 6 and all(ids.values())

    refused = invoke(*run(fresh_sandbox.url, journal, workdir / "invoices.xlsx", token="wrong-token"))

    assert refused.exit_code == 3
    results = workdir / "invoices.results.xlsx"
    for number, row in invoices_sheet(results).items():
        assert row["status"] == "pending"  # not confirmed in this run
        assert row["crm_id"] == ids[number]
        assert "journal" in row["error"] and str(ids[number]) in row["error"]
    rows = sheet_rows(results, "Rows")
    assert {row["crm_id"] for row in rows} == set(ids.values())
    assert sorted(Crm(fresh_sandbox.url).numbers()) == sorted(ids)  # nothing posted twice


# ---------------------------------------------------------------------------------------------- point 8


def test_rows_sheet_reads_at_a_glance_and_still_feeds_back(fresh_sandbox, workdir: Path) -> None:
    result = invoke(*run(fresh_sandbox.url, workdir / "j.sqlite", workdir / "invoices_with_mistakes.xlsx"))
    book = openpyxl.load_workbook(result.summary["results"])
    rows = book["Rows"]
    header = [cell.value for cell in rows[1]]
    assert header[:5] == RESULT_HEAD and header[5] == "Invoice Number"
    # row, import_status, crm_id, crm_status, import_error and the invoice number stay in view
    assert rows.freeze_panes == "G2"
    error = header.index("import_error") + 1
    long = [rows.cell(row=r, column=error) for r in range(2, rows.max_row + 1)]
    assert all(c.alignment.wrap_text for c in long if c.value)
    assert rows.column_dimensions["E"].width <= 61
    tall = [r for r in range(2, rows.max_row + 1) if len(str(rows.cell(row=r, column=error).value)) > 140]
    assert tall and all((rows.row_dimensions[r].height or 0) >= 30 for r in tall)
    invoices = book["Invoices"]
    assert [c.value for c in invoices[1]][:3] == ["Invoice number", "Status", "CRM ID"]
    assert invoices.freeze_panes == "B2"
    # fed back, the Rows sheet is read as input: the result columns in front are dropped
    checked = invoke("validate", result.summary["results"], "--json")
    assert checked.summary["invoices"] == result.summary["invoices"]


def test_amounts_are_numbers_with_two_decimals_whatever_the_input_wrote(workdir: Path) -> None:
    result = invoke("run", workdir / "invoices.csv", "--sandbox", "--yes", "--json")
    assert result.exit_code == 0, result.stderr
    rows = openpyxl.load_workbook(result.summary["results"])["Rows"]
    header = [cell.value for cell in rows[1]]
    for name, amount in (("Unit Price", True), ("Total", True), ("Qty", False)):
        cells = [rows.cell(row=r, column=header.index(name) + 1) for r in range(2, rows.max_row + 1)]
        filled = [c for c in cells if c.value is not None]
        assert filled and all(c.data_type == "n" for c in filled), name  # the CSV's text: now numbers
        if amount:
            assert all(c.number_format == "#,##0.00" for c in filled), name
    price = header.index("Unit Price") + 1
    assert rows.cell(row=2, column=price).value == pytest.approx(7.7)


def test_summary_values_sit_beside_their_labels(workdir: Path) -> None:
    result = invoke("run", workdir / "invoices.xlsx", "--sandbox", "--yes", "--json")
    summary = openpyxl.load_workbook(result.summary["results"])["Summary"]
    assert summary.column_dimensions["B"].width <= 20
    created = next(r for r in summary.iter_rows() if r[0].value == "created")
    assert created[1].value == 6 and created[1].alignment.horizontal == "left"


# ---------------------------------------------------------------------------------------------- point 10


def test_one_invoice_is_one_invoice_on_the_console(fresh_sandbox, workdir: Path) -> None:
    book = openpyxl.load_workbook(workdir / "invoices.xlsx")
    sheet = book.worksheets[0]
    sheet.delete_rows(4, sheet.max_row)  # keep the first invoice's two rows
    sheet.delete_rows(3)  # and of those, one
    total = [cell.value for cell in sheet[1]].index("Total") + 1
    sheet.cell(row=2, column=total).value = None  # the expected total was the two lines'
    book.save(workdir / "one.xlsx")
    result = invoke("run", workdir / "one.xlsx", "--url", fresh_sandbox.url, "--token", TOKEN,
                    "--journal", workdir / "j.sqlite", "--yes")  # fmt: skip
    assert result.exit_code in (0, 1), result.stderr
    assert "1 invoice, 1 line:" in result.stderr
    assert "create   1 invoice with 1 line" in result.stderr
    assert "1 invoices" not in result.stderr and "1 lines" not in result.stderr


def test_on_exit_3_the_error_comes_before_the_summary_line(fresh_sandbox, workdir: Path) -> None:
    result = invoke(*run(fresh_sandbox.url, workdir / "j.sqlite", workdir / "invoices.xlsx", token="nope"))
    assert result.exit_code == 3
    lines = result.stderr.splitlines()
    error = next(i for i, line in enumerate(lines) if line.startswith("error:"))
    summary = next(i for i, line in enumerate(lines) if line.startswith("6 invoices, 9 lines"))
    assert error < summary
