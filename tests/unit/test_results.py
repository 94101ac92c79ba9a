"""The results workbook: written for real, read back with openpyxl / python-calamine and checked."""

from __future__ import annotations

import dataclasses
import re
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest
import xlsxwriter
from openpyxl.worksheet.worksheet import Worksheet
from python_calamine import CalamineWorkbook

from importer import results
from importer.errors import ResultsPathError
from importer.models import (
    CellError,
    ImportReport,
    Invoice,
    Line,
    MappedTable,
    Outcome,
    RawTable,
    RunInfo,
    Status,
)
from importer.results import (
    CHECK,
    DRY_RUN,
    all_errors,
    default_results_path,
    describe_error,
    summary_counts,
    write_results,
)
from importer.results_layout import INVOICE_COLUMNS, INVOICE_HEADERS, RESULT_COLUMNS, RESULTS_SHEETS

R = len(RESULT_COLUMNS)  # the Rows sheet's result columns come first: its input columns start after them

HEADERS = ["Invoice No", "Date", "Due", "Customer", "Currency", "Item", "Qty", "Unit Price", "Notes"]
HEADER_OF = {
    "invoice_number": "Invoice No",
    "issue_date": "Date",
    "due_date": "Due",
    "contact": "Customer",
    "currency": "Currency",
    "item": "Item",
    "quantity": "Qty",
    "price": "Unit Price",
}


def make_table(rows: list[list[Any]], headers: list[str] = HEADERS) -> MappedTable:
    frame = pd.DataFrame(rows, columns=headers, dtype=object)
    numbers = list(range(2, len(rows) + 2))
    raw = RawTable(frame=frame, row_numbers=numbers, source=Path("/data/in.xlsx"), sha256="ab" * 32)
    return MappedTable(raw=raw, frame=frame, headers=dict(HEADER_OF), extras=["Notes"])


def line(row: int) -> Line:
    return Line(row=row, values={"item": "WID-001"})  # typed numbers: see test_amounts_are_numbers_*


@dataclasses.dataclass(frozen=True)
class Entry:
    """An invoice with what the report says of it beyond its errors."""

    invoice: Invoice
    outcome: Outcome | None
    total: Decimal | None


def invoice(
    number: str,
    rows: Sequence[int],
    outcome: Outcome | None = None,
    total: str | None = "10.00",
    currency: str = "EUR",
) -> Entry:
    built = Invoice(
        number=number,
        rows=tuple(rows),
        lines=tuple(line(r) for r in rows),
        values={"invoice_number": number, "currency": currency},
    )
    return Entry(built, outcome, Decimal(total) if total else None)


def make_report(table: MappedTable, entries: Sequence[Entry], errors: Sequence[CellError]) -> ImportReport:
    return ImportReport(
        table=table,
        invoices=tuple(entry.invoice for entry in entries),
        errors=tuple(errors),
        outcomes={e.invoice.number: e.outcome for e in entries if e.outcome is not None},
        totals={e.invoice.number: e.total for e in entries if e.total is not None},
    )


def run_info(source: Path = Path("/data/in.xlsx"), dry_run: bool = False) -> RunInfo:
    started = datetime(2026, 6, 1, 9, 0, 0)
    return RunInfo(
        source=source,
        sha256="ab" * 32,
        crm_url="https://portal.example.com",
        version="0.1.0",
        started=started,
        ended=started + timedelta(seconds=83),
        dry_run=dry_run,
    )


BAD_QTY = CellError("quantity must be 0 or more", row=5, column="quantity", value="-2", code="range")
BAD_DEFAULT = CellError("currency 'XXX' is not in the CRM's list", row=6, column="currency", value="XXX")
NO_NUMBER = CellError("the invoice number is blank", row=7, column="invoice_number", code="required")
WHOLE_COLUMN = CellError("cannot decide the decimal mark; set [format] decimal", column="price")


def sample_rows() -> list[list[Any]]:
    return [
        ["INV-1", date(2026, 6, 1), date(2026, 7, 1), "bill@acme.example", "EUR", "WID-001", 100, 7.7, None],
        [None, None, None, None, None, "SRV-HOUR", 2.5, 95, "onsite"],
        ["INV-2", datetime(2026, 6, 2, 0, 0), date(2026, 7, 2), "b@x.example", "USD", "WID-001", 1, 3, None],
        ["INV-3", date(2026, 6, 3), date(2026, 7, 3), "c@x.example", "USD", "WID-001", "-2", 1, None],
        ["INV-4", date(2026, 6, 3), date(2026, 7, 3), "d@x.example", None, "WID-001", 1, 1, None],
        [None, date(2026, 6, 3), date(2026, 7, 3), "e@x.example", "EUR", "WID-001", 1, 1, "orphan"],
        ["INV-5", date(2026, 6, 4), date(2026, 7, 4), "f@x.example", "EUR", "WID-001", 1, 1, None],
    ]


def sample_entries() -> list[Entry]:
    return [
        invoice(
            "INV-1",
            [2, 3],
            Outcome(Status.CREATED, crm_id=101, crm_total=Decimal("1008.50")),
            total="1008.50",
        ),
        invoice("INV-2", [4], Outcome(Status.FAILED, message="the CRM refused it: 500"), currency="USD"),
        invoice("INV-3", [5], total=None, currency="USD"),
        invoice("INV-4", [6], total=None, currency="XXX"),
        invoice(
            "INV-5",
            [8],
            Outcome(
                Status.SKIPPED, crm_id=77, crm_total=Decimal("3.00"), message="created by an earlier run"
            ),
            total="3.00",
        ),
    ]


SAMPLE_ERRORS = [BAD_QTY, BAD_DEFAULT, NO_NUMBER, WHOLE_COLUMN]


def sample_report(entries: Sequence[Entry] | None = None) -> ImportReport:
    entries = sample_entries() if entries is None else entries
    return make_report(make_table(sample_rows()), entries, SAMPLE_ERRORS)


@pytest.fixture
def written(tmp_path: Path) -> Path:
    return write_results(tmp_path / "out" / "in.results.xlsx", sample_report(), run_info())


def sheet_records(sheet: Worksheet) -> list[dict[str, Any]]:
    """Each row keyed by its header; the Invoices sheet's readable headers by the column's name."""
    names = {label: name for name, label in INVOICE_HEADERS.items()} if sheet.title == "Invoices" else {}
    rows = list(sheet.iter_rows(values_only=True))
    header = [names.get(str(h), h) for h in rows[0]]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


def shifted(ref: str) -> str:
    """The Rows sheet's cell of an input column given as if the input columns started at A."""
    letters, digits = re.fullmatch(r"([A-Z]+)([0-9]+)", ref).groups()  # type: ignore[union-attr]
    return f"{chr(ord(letters) + R)}{digits}"


def column_cells(sheet: Worksheet, header: str) -> list[Any]:
    labels = INVOICE_HEADERS if sheet.title == "Invoices" else {}
    header = labels.get(header, header)
    headers = [cell.value for cell in sheet[1]]
    index = headers.index(header) + 1
    return [sheet.cell(row=r, column=index) for r in range(2, sheet.max_row + 1)]


# ---------------------------------------------------------------------------------------------- helpers


def test_default_results_path_is_beside_the_input() -> None:
    assert default_results_path(Path("/a/b/march.xlsx")) == Path("/a/b/march.results.xlsx")


def test_a_dry_run_and_a_check_never_take_a_real_runs_name() -> None:
    assert default_results_path(Path("/a/march.xlsx"), DRY_RUN) == Path("/a/march.dry-run.xlsx")
    assert default_results_path(Path("/a/march.xlsx"), CHECK) == Path("/a/march.check.xlsx")


def test_inputs_of_one_stem_in_other_formats_keep_their_format_in_the_name() -> None:
    names = {default_results_path(Path(f"march.{ext}")).name for ext in ("xlsx", "xlsm", "xls", "ods", "csv")}
    assert names == {
        "march.results.xlsx",
        "march.xlsm.results.xlsx",
        "march.xls.results.xlsx",
        "march.ods.results.xlsx",
        "march.csv.results.xlsx",
    }
    assert default_results_path(Path("march.ODS"), DRY_RUN).name == "march.ods.dry-run.xlsx"


def test_a_results_workbook_fed_back_gets_the_next_rounds_name_never_its_own() -> None:
    assert default_results_path(Path("/a/march.results.xlsx")) == Path("/a/march.results-2.xlsx")
    assert default_results_path(Path("/a/march.results-2.xlsx")) == Path("/a/march.results-3.xlsx")
    assert default_results_path(Path("/a/March.Results.xlsx")) == Path("/a/March.results-2.xlsx")
    # a dry run of a results workbook keeps its whole stem: it replaces no real run's workbook
    assert default_results_path(Path("/a/march.results.xlsx"), DRY_RUN) == Path(
        "/a/march.results.dry-run.xlsx"
    )


def test_summary_counts_counts_every_status_invoices_and_lines() -> None:
    counts = summary_counts(sample_report())
    assert counts == {
        "created": 1,
        "skipped": 1,
        "exists": 0,
        "invalid": 2,
        "failed": 1,
        "pending": 0,
        "planned": 0,
        "changed": 0,
        "updated": 0,
        "incomplete": 0,
        "invoices": 5,
        "lines": 6,
    }
    empty = make_report(make_table([]), [], [])
    assert summary_counts(empty) == {s.value: 0 for s in Status} | {"invoices": 0, "lines": 0}


# ---------------------------------------------------------------------------------------------- sheets


def test_workbook_has_three_sheets_with_frozen_filtered_headers(written: Path) -> None:
    book = openpyxl.load_workbook(written)
    assert book.sheetnames == ["Invoices", "Rows", "Summary"] == list(RESULTS_SHEETS)
    assert book["Invoices"].freeze_panes == "B2"  # the header and the invoice number
    # the header, row, import_status, crm_id, crm_status, import_error and Invoice No
    assert book["Rows"].freeze_panes == "G2"
    for name in ("Invoices", "Rows"):
        sheet = book[name]
        assert sheet.auto_filter.ref is not None and sheet.auto_filter.ref.startswith("A1:")
        assert all(cell.font.bold for cell in sheet[1])
        widths = [dim.width for dim in sheet.column_dimensions.values()]
        assert widths and all(8 <= w <= 60 for w in widths)


def test_invoices_sheet_one_row_per_invoice(written: Path) -> None:
    sheet = openpyxl.load_workbook(written)["Invoices"]
    assert [c.value for c in sheet[1]] == [INVOICE_HEADERS[name] for name in INVOICE_COLUMNS]
    assert [c.value for c in sheet[1]][:3] == ["Invoice number", "Status", "CRM ID"]
    records = sheet_records(sheet)
    assert [r["invoice_number"] for r in records] == ["INV-1", "INV-2", "INV-3", "INV-4", "INV-5"]
    assert [r["status"] for r in records] == ["created", "failed", "invalid", "invalid", "skipped"]
    first = records[0]
    assert (first["crm_id"], first["lines"], first["total"], first["crm_total"]) == (101, 2, 1008.5, 1008.5)
    assert (first["currency"], first["source_rows"], first["error"]) == ("EUR", "2-3", None)
    assert records[1]["error"] == "the CRM refused it: 500"
    assert records[2]["error"] == "row 5, Qty: quantity must be 0 or more"
    assert records[3]["error"] == "row 6, Currency: currency 'XXX' is not in the CRM's list"
    assert records[4]["error"] == "created by an earlier run"
    amounts = column_cells(sheet, "total") + column_cells(sheet, "crm_total")
    assert all(c.number_format == "#,##0.00" for c in amounts)


def test_status_cells_are_coloured_by_status(written: Path) -> None:
    sheet = openpyxl.load_workbook(written)["Invoices"]
    colours = {c.value: c.fill.fgColor.rgb[-6:] for c in column_cells(sheet, "status")}
    assert colours["created"] == "C6EFCE" and colours["skipped"] == "E2EFDA"
    assert colours["invalid"] == "FFC7CE" and colours["failed"] == "FF7C80"


def test_rows_sheet_has_input_columns_then_result_columns(written: Path) -> None:
    sheet = openpyxl.load_workbook(written)["Rows"]
    assert [c.value for c in sheet[1]] == [*RESULT_COLUMNS, *HEADERS]
    records = sheet_records(sheet)
    assert [r["row"] for r in records] == [2, 3, 4, 5, 6, 7, 8]
    assert [r["import_status"] for r in records] == [
        "created",
        "created",
        "failed",
        "invalid",
        "invalid",
        "invalid",
        "skipped",
    ]
    assert [r["crm_id"] for r in records] == [101, 101, None, None, None, None, 77]
    assert records[0]["import_error"] is None
    assert records[2]["import_error"] == "the CRM refused it: 500"
    assert records[3]["import_error"] == "Qty: quantity must be 0 or more"
    assert records[5]["import_error"] == "Invoice No: the invoice number is blank"


def test_rows_sheet_marks_cells_in_error_red_with_a_comment(written: Path) -> None:
    sheet = openpyxl.load_workbook(written)["Rows"]
    qty = column_cells(sheet, "Qty")
    assert qty[3].fill.fgColor.rgb.endswith("FF9999")
    assert qty[3].comment is not None and "quantity must be 0 or more" in qty[3].comment.text
    assert qty[0].comment is None and qty[0].fill.fill_type is None
    number = column_cells(sheet, "Invoice No")[5]
    assert number.comment is not None and "blank" in number.comment.text
    price_header = sheet.cell(row=1, column=R + HEADERS.index("Unit Price") + 1)
    assert price_header.comment is not None and "decimal mark" in price_header.comment.text
    marked = {(c.row, c.column) for r in sheet.iter_rows() for c in r if c.comment is not None}
    assert len(marked) == 4  # Qty row 5, Currency row 6, Invoice No row 7, Unit Price header


def test_error_on_a_column_missing_from_the_file_goes_to_the_error_cell_only(tmp_path: Path) -> None:
    report = sample_report()
    report.table.headers.pop("currency")  # the currency came from a bad default
    path = write_results(tmp_path / "r.xlsx", report, run_info())
    sheet = openpyxl.load_workbook(path)["Rows"]
    assert all(c.comment is None for c in column_cells(sheet, "Currency"))
    assert sheet_records(sheet)[4]["import_error"] == "currency: currency 'XXX' is not in the CRM's list"


def test_other_rows_of_an_invalid_invoice_say_where_the_errors_are(tmp_path: Path) -> None:
    error = CellError("item 'NOPE' is unknown", row=3, column="item", code="unknown_reference")
    entries = sample_entries()
    entries[0] = invoice("INV-1", [2, 3], total=None)
    report = make_report(make_table(sample_rows()), entries, [error, *SAMPLE_ERRORS])
    path = write_results(tmp_path / "r.xlsx", report, run_info())
    records = sheet_records(openpyxl.load_workbook(path)["Rows"])
    assert records[0]["import_status"] == "invalid"
    assert records[0]["import_error"] == "the invoice has errors on row 3"
    assert records[1]["import_error"] == "Item: item 'NOPE' is unknown"


def normalise(value: Any) -> Any:
    """Spreadsheet readers give dates back as datetimes and whole numbers as floats or ints."""
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None if value == "" else value


def test_rows_sheet_input_columns_round_trip_with_openpyxl_and_calamine(written: Path) -> None:
    expected = [[normalise(v) for v in row] for row in sample_report().table.raw.frame.values.tolist()]
    book = openpyxl.load_workbook(written)
    by_openpyxl = [
        [normalise(v) for v in row[R : R + len(HEADERS)]]
        for row in book["Rows"].iter_rows(min_row=2, values_only=True)
    ]
    assert by_openpyxl == expected
    calamine = CalamineWorkbook.from_path(str(written)).get_sheet_by_name("Rows").to_python()
    assert calamine[0][R : R + len(HEADERS)] == HEADERS
    assert [[normalise(v) for v in row[R : R + len(HEADERS)]] for row in calamine[1:]] == expected


def test_rows_sheet_keeps_cell_types(written: Path) -> None:
    sheet = openpyxl.load_workbook(written)["Rows"]
    assert column_cells(sheet, "Date")[0].is_date
    assert column_cells(sheet, "Qty")[0].data_type == "n"
    assert column_cells(sheet, "Qty")[3].data_type == "s"  # "-2" was text in the input: stays text
    assert column_cells(sheet, "Invoice No")[0].data_type == "s"


def test_summary_sheet(written: Path) -> None:
    rows = {r[0]: r[1] for r in openpyxl.load_workbook(written)["Summary"].iter_rows(values_only=True)}
    assert [rows[s] for s in ("created", "skipped", "invalid", "failed", "pending")] == [1, 1, 2, 1, 0]
    assert rows["invoices"] == 5 and rows["lines"] == 6 and rows["input rows"] == 7
    assert rows["rows of no invoice (invalid)"] == 1
    assert rows["EUR"] == 1011.5  # created 1008.50 + skipped 3.00; the failed USD invoice is not totalled
    assert "USD" not in rows
    assert rows["input file"] == "in.xlsx" and rows["input SHA-256"] == "ab" * 32
    assert rows["CRM URL"] == "https://portal.example.com" and rows["invoice-import version"] == "0.1.0"
    assert rows["started"] == "2026-06-01 09:00:00" and rows["ended"] == "2026-06-01 09:01:23"
    assert rows["duration"] == "0:01:23" and rows["dry run"] == "no"
    assert rows["Unit Price"] == WHOLE_COLUMN.message
    assert "input sheet" not in rows  # the sample table says no sheet (a CSV)


def test_planned_invoices_are_totalled_in_a_dry_run(tmp_path: Path) -> None:
    report = sample_report(
        [
            invoice("A", [2], Outcome(Status.PLANNED), total="5.10"),
            invoice("B", [3], Outcome(Status.PLANNED), total="4.90"),
        ]
    )
    path = write_results(tmp_path / "r.xlsx", report, run_info(dry_run=True))
    rows = {r[0]: r[1] for r in openpyxl.load_workbook(path)["Summary"].iter_rows(values_only=True)}
    assert rows["EUR"] == 10.0 and rows["planned"] == 2 and rows["dry run"] == "yes"


# ---------------------------------------------------------------------------------------------- safety

FORMULA_LIKE = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "=1", "#N/A"]


def test_formula_like_text_is_written_as_text_never_as_a_formula(tmp_path: Path) -> None:
    june = date(2026, 6, 1)
    rows = [[value, june, june, value, "EUR", value, 1, 1, value] for value in FORMULA_LIKE]
    table = make_table(rows)
    invoices = [invoice(v, [n + 2], Outcome(Status.FAILED, message=v)) for n, v in enumerate(FORMULA_LIKE)]
    errors = [CellError("=1+1", row=2, column="contact")]
    path = write_results(tmp_path / "r.xlsx", make_report(table, invoices, errors), run_info())
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in archive.read(name) and b"<f " not in archive.read(name)
    book = openpyxl.load_workbook(path)
    as_read = [value.replace("\r", "\n") for value in FORMULA_LIKE]  # XML reads CR as LF
    assert [row[R] for row in book["Rows"].iter_rows(min_row=2, values_only=True)] == as_read
    assert [row[0] for row in book["Invoices"].iter_rows(min_row=2, values_only=True)] == as_read
    cells = column_cells(book["Rows"], "Invoice No")
    assert all(c.data_type == "s" for c in cells)
    assert all(c.quotePrefix for c in cells if not c.value.startswith("\n"))


def test_formula_like_headers_stay_text(tmp_path: Path) -> None:
    headers = [*HEADERS[:-1], "=cmd|' /C calc'!A0"]
    table = make_table([["INV-1", date(2026, 6, 1), date(2026, 7, 1), "c", "EUR", "W", 1, 1, "x"]], headers)
    path = write_results(tmp_path / "r.xlsx", make_report(table, [invoice("INV-1", [2])], []), run_info())
    with zipfile.ZipFile(path) as archive:
        assert b"<f>" not in archive.read("xl/worksheets/sheet2.xml")
    assert openpyxl.load_workbook(path)["Rows"]["N1"].value == "=cmd|' /C calc'!A0"


def test_illegal_control_characters_do_not_crash(tmp_path: Path) -> None:
    june = date(2026, 6, 1)
    rows = [["INV\x01-1", june, june, "a\x00b", "EUR", "W\x1f\udcff", 1, 1, "ok\ttab\nline"]]
    error = CellError("bad \x0b value", row=2, column="contact")
    report = make_report(make_table(rows), [invoice("INV\x01-1", [2])], [error])
    path = write_results(tmp_path / "r.xlsx", report, run_info())
    values = next(openpyxl.load_workbook(path)["Rows"].iter_rows(min_row=2, values_only=True))[R:]
    assert values[0] == "INV\ufffd-1" and values[3] == "a\ufffdb" and values[5] == "W\ufffd\ufffd"
    assert values[8] == "ok\ttab\nline"


def test_odd_values_from_pandas_are_written(tmp_path: Path) -> None:
    stamp = pd.Timestamp("2026-06-01")
    frame_rows = [["INV-1", stamp, float("nan"), pd.NA, "EUR", "W", 1, Decimal("1.50"), True]]
    path = write_results(
        tmp_path / "r.xlsx", make_report(make_table(frame_rows), [invoice("INV-1", [2])], []), run_info()
    )
    values = next(openpyxl.load_workbook(path)["Rows"].iter_rows(min_row=2, values_only=True))[R:]
    assert values[:9] == ("INV-1", datetime(2026, 6, 1), None, None, "EUR", "W", 1, 1.5, True)


def test_very_long_text_is_cut_to_the_cell_limit(tmp_path: Path) -> None:
    long = "x" * 40_000
    rows = [["INV-1", date(2026, 6, 1), date(2026, 7, 1), "c", "EUR", "W", 1, 1, long]]
    report = make_report(make_table(rows), [invoice("INV-1", [2])], [])
    path = write_results(tmp_path / "r.xlsx", report, run_info())
    values = next(openpyxl.load_workbook(path)["Rows"].iter_rows(min_row=2, values_only=True))[R:]
    assert values[8] == "x" * 32_767


# ---------------------------------------------------------------------------------------------- saving


def test_write_creates_parent_folders_and_replaces_an_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "r.xlsx"
    assert write_results(target, sample_report(), run_info()) == target
    first = target.read_bytes()
    write_results(target, sample_report(sample_entries()[:1]), run_info())
    assert target.read_bytes() != first
    assert len(sheet_records(openpyxl.load_workbook(target)["Invoices"])) == 1
    assert sorted(p.name for p in target.parent.iterdir()) == ["r.xlsx"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "r.xlsx"
    target.write_bytes(b"old results")

    real_close = xlsxwriter.Workbook.close

    def broken_close(self: xlsxwriter.Workbook) -> None:
        real_close(self)  # the whole file written to the temporary path, then the disk fills up
        raise OSError("disk full")

    monkeypatch.setattr(xlsxwriter.Workbook, "close", broken_close)
    with pytest.raises(OSError, match="disk full"):
        write_results(target, sample_report(), run_info())
    assert target.read_bytes() == b"old results"
    assert [p.name for p in tmp_path.iterdir()] == ["r.xlsx"]


def test_refuses_to_overwrite_the_input_file(tmp_path: Path) -> None:
    source = tmp_path / "in.xlsx"
    source.write_bytes(b"input")
    with pytest.raises(ResultsPathError, match="overwrite the input"):
        write_results(source, sample_report(), run_info(source=source))
    assert source.read_bytes() == b"input"


def test_an_empty_input_writes_a_valid_workbook(tmp_path: Path) -> None:
    path = write_results(tmp_path / "r.xlsx", make_report(make_table([]), [], []), run_info())
    book = openpyxl.load_workbook(path)
    assert [c.value for c in book["Rows"][1]] == [*RESULT_COLUMNS, *HEADERS]
    assert book["Invoices"].max_row == 1


def test_many_rows_are_written_with_features_intact(tmp_path: Path) -> None:
    count = 3000
    rows = [
        [f"INV-{n // 2}", date(2026, 6, 1), date(2026, 7, 1), "c@x.example", "EUR", "W", n, 1.5, None]
        for n in range(count)
    ]
    table = make_table(rows)
    invoices = [
        invoice(f"INV-{k}", [2 * k + 2, 2 * k + 3], Outcome(Status.CREATED, crm_id=k))
        for k in range(count // 2)
    ]
    errors = [CellError("too big", row=r, column="quantity") for r in range(2, count + 2, 100)]
    path = write_results(tmp_path / "r.xlsx", make_report(table, invoices, errors), run_info())
    sheet = openpyxl.load_workbook(path)["Rows"]
    assert sheet.max_row == count + 1
    assert sum(1 for c in column_cells(sheet, "Qty") if c.comment is not None) == len(errors)


# ---------------------------------------------------------------------------------------------- feeding back


def loaded(path: Path, sheet: str | None = None) -> MappedTable:
    from importer.load import load_table
    from importer.mapping import map_columns

    return map_columns(load_table(path, sheet=sheet))


def validated(path: Path, sheet: str | None = None) -> ImportReport:
    from importer.validate import validate_table

    return ImportReport.offline(validate_table(loaded(path, sheet)))


def frame_values(table: MappedTable) -> list[list[Any]]:
    frame = table.raw.frame
    return [[normalise(v) for v in row] for row in frame.astype(object).values.tolist()]


INPUT_ROWS: list[list[Any]] = [
    ["invoice_number", "issue_date", "due_date", "contact", "currency", "item", "quantity", "price", "Notes"],
    ["007", date(2026, 6, 1), date(2026, 7, 1), "bill@acme.example", "EUR", "WID-001", 100, 7.7, "=SUM(1)"],
    ["007", None, None, None, None, "SRV-HOUR", 2, None, "+1 day"],
    ["INV-2", date(2026, 6, 2), date(2026, 5, 1), "b@x.example", "EUR", "WID-001", -2, 1.25, None],
    [None, date(2026, 6, 2), date(2026, 7, 2), "b@x.example", "EUR", "WID-001", 1, 1, "@orphan"],
]


def write_input_xlsx(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in INPUT_ROWS:
        sheet.append(row)
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    book.save(path)
    return path


def write_input_csv(path: Path) -> Path:
    lines = [",".join("" if v is None else str(v) for v in row) for row in INPUT_ROWS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("writer", [write_input_xlsx, write_input_csv], ids=["xlsx", "csv"])
def test_rows_sheet_feeds_back_to_the_loader_as_the_same_table(tmp_path: Path, writer: Any) -> None:
    source = writer(tmp_path / f"in.{'xlsx' if writer is write_input_xlsx else 'csv'}")
    first = loaded(source)
    errors = [CellError("quantity must be 0 or more", row=4, column="quantity", value="-2")]
    report = make_report(first, [invoice("007", [2, 3]), invoice("INV-2", [4])], errors)
    target = write_results(default_results_path(source), report, run_info(source=source))
    again = loaded(target)  # a results workbook: its Rows sheet is read, its result columns dropped
    assert list(again.raw.frame.columns) == list(first.raw.frame.columns)
    assert again.raw.row_numbers == first.raw.row_numbers
    assert frame_values(again) == frame_values(first)
    assert again.headers == first.headers


@pytest.mark.parametrize("writer", [write_input_xlsx, write_input_csv], ids=["xlsx", "csv"])
def test_rows_sheet_feeds_back_as_the_same_input(tmp_path: Path, writer: Any) -> None:
    """Through validate and group: needs their issue-11 shapes (ImportReport.offline of a Validation)."""
    source = writer(tmp_path / f"in.{'xlsx' if writer is write_input_xlsx else 'csv'}")
    first = validated(source)
    assert first.errors, "the sample input must contain mistakes"
    target = write_results(default_results_path(source), first, run_info(source=source))
    again = validated(target, sheet="Rows")
    assert list(again.table.raw.frame.columns) == list(first.table.raw.frame.columns)
    assert again.table.raw.row_numbers == first.table.raw.row_numbers
    if writer is write_input_xlsx:
        assert frame_values(again.table) == frame_values(first.table)
    # a CSV's amounts come back as numbers (the Rows sheet writes valid amounts as numbers): the same invoices
    assert [i.number for i in again.invoices] == [i.number for i in first.invoices]
    assert [dict(i.values) for i in again.invoices] == [dict(i.values) for i in first.invoices]
    assert [[dict(x.values) for x in i.lines] for i in again.invoices] == [
        [dict(x.values) for x in i.lines] for i in first.invoices
    ]
    summary = {r[0]: r[1] for r in openpyxl.load_workbook(target)["Summary"].iter_rows(values_only=True)}
    assert summary.get("input sheet") == first.table.raw.sheet
    assert sorted(map(str, again.errors)) == sorted(map(str, first.errors))


def test_an_invoice_with_an_error_on_every_line_lists_a_few_rows_and_counts_the_rest(tmp_path: Path) -> None:
    count = 2000
    rows = [["BIG", date(2026, 6, 1), date(2026, 7, 1), "c", "EUR", "NOPE", 1, 1, None] for _ in range(count)]
    errors = [CellError("unknown item", row=r, column="item") for r in range(2, count + 2)]
    big = invoice("BIG", list(range(2, count + 2)))
    path = write_results(tmp_path / "r.xlsx", make_report(make_table(rows), [big], errors), run_info())
    records = sheet_records(openpyxl.load_workbook(path, read_only=True)["Rows"])
    assert records[0]["import_error"] == (
        "Item: unknown item; the invoice has errors on row 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 and 1989 more"
    )
    assert records[5]["import_error"].endswith("row 2, 3, 4, 5, 6, 8, 9, 10, 11, 12 and 1989 more")


# ------------------------------------------------------------------------------------- cells as read back


def odd_report() -> ImportReport:
    """Every kind of value and look the workbook can hold, errors (comments) in awkward places."""
    june = date(2026, 6, 1)
    rows: list[list[Any]] = [
        ["INV-1", june, datetime(2026, 6, 1, 13, 5), " lead", "EUR", "W", 1, Decimal("1.50"), "trail "],
        ["INV-1", time(9, 30), timedelta(days=2, hours=3), "   ", "", "W", True, float("inf"), "a & <b>"],
        ["INV-2", pd.Timestamp("2026-06-02"), None, "=1+1", "#N/A", "-x", -3, 2.5, "\t tab\nline"],
        ["INV-3", datetime(1900, 1, 15), date(2026, 7, 1), "x\x00y", "EUR", "+", 0, 10**20, "ü ✓ 😀"],
        [None, june, june, "c", "EUR", "W", 1, 1, None],
    ]
    errors = [
        CellError("bad date", row=2, column="issue_date"),  # a date in error: fill, comment, date format
        CellError("bad qty", row=3, column="quantity"),  # a boolean in error
        CellError("blank", row=3, column="currency"),  # an empty text in error
        CellError("bad contact", row=4, column="contact"),  # formula-like text in error
        CellError("=2+2 & <more>", row=5, column="due_date"),
        CellError("no number", row=6, column="invoice_number"),  # an empty cell in error
        CellError("whole column", column="price"),  # a header comment
    ]
    entries = [
        invoice("INV-1", [2, 3], total=None),
        invoice("INV-2", [4], Outcome(Status.FAILED, message="=HYPERLINK(1)")),
        invoice("INV-3", [5], Outcome(Status.CREATED, crm_id=7, crm_total=Decimal("3.00")), total="3.00"),
    ]
    return make_report(make_table(rows), entries, errors)


@pytest.fixture
def odd_book(tmp_path: Path) -> openpyxl.Workbook:
    return openpyxl.load_workbook(write_results(tmp_path / "odd.xlsx", odd_report(), run_info()))


def fill(cell: Any) -> str | None:
    """The RGB of a cell's solid fill, None without one."""
    if cell.fill is None or cell.fill.fill_type != "solid":
        return None
    return str(cell.fill.fgColor.rgb)[-6:]


def test_values_of_every_kind_read_back(odd_book: openpyxl.Workbook) -> None:
    rows = [row[R : R + len(HEADERS)] for row in odd_book["Rows"].iter_rows(min_row=2, values_only=True)]
    assert rows[0] == (
        "INV-1", datetime(2026, 6, 1), datetime(2026, 6, 1, 13, 5), " lead", "EUR", "W", 1, 1.5, "trail ",
    )  # fmt: skip
    assert rows[1][1:3] == (time(9, 30), timedelta(days=2, hours=3))
    assert rows[1][3] == "   " and rows[1][4] is None  # "" is a blank cell
    assert rows[1][6] is True and rows[1][7] == "inf"  # infinity is no number a cell can hold: text
    assert rows[1][8] == "a & <b>"
    assert rows[2][1:5] == (datetime(2026, 6, 2), None, "=1+1", "#N/A")
    assert rows[2][8] == "\t tab\nline"
    assert rows[3][1] == datetime(1900, 1, 15) and rows[3][3] == "x\ufffdy" and rows[3][8] == "ü ✓ 😀"
    assert rows[3][7] == 1e20


def test_dates_and_times_keep_their_formats(odd_book: openpyxl.Workbook) -> None:
    sheet = odd_book["Rows"]
    assert sheet[shifted("B2")].number_format == "yyyy-mm-dd" and sheet[shifted("B2")].is_date
    assert sheet[shifted("C2")].number_format == "yyyy-mm-dd h:mm:ss"
    assert (
        sheet[shifted("B3")].number_format == "h:mm:ss" and sheet[shifted("C3")].number_format == "[hh]:mm:ss"
    )


def test_cells_in_error_are_red_with_their_message_as_comment(odd_book: openpyxl.Workbook) -> None:
    sheet = odd_book["Rows"]
    expected = {
        shifted("B2"): "bad date",
        shifted("G3"): "bad qty",
        shifted("E3"): "blank",
        shifted("D4"): "bad contact",
        shifted("C5"): "=2+2 & <more>",
        shifted("A6"): "no number",
        shifted("H1"): "whole column",
    }
    commented = {c.coordinate: c.comment for r in sheet.iter_rows() for c in r if c.comment is not None}
    assert sorted(commented) == sorted(expected)
    for ref, message in expected.items():
        assert commented[ref].text == message and commented[ref].author == "invoice-import"
        assert fill(sheet[ref]) == results.ERROR_FILL, ref
    assert (
        sheet[shifted("B2")].is_date and sheet[shifted("B2")].number_format == "yyyy-mm-dd"
    )  # the date format kept
    assert (
        sheet[shifted("E3")].value is None and sheet[shifted("A6")].value is None
    )  # an empty cell in error is marked
    assert sheet[shifted("D4")].quotePrefix and sheet[shifted("D4")].data_type == "s"
    assert (
        sheet[shifted("H1")].font.bold
        and sheet[shifted("A1")].font.bold
        and fill(sheet[shifted("A1")]) == results.HEADER_FILL
    )
    assert fill(sheet[shifted("A2")]) is None and fill(sheet[shifted("B4")]) is None


def test_status_fills_and_amount_formats(odd_book: openpyxl.Workbook) -> None:
    invoices = odd_book["Invoices"]
    statuses = {c.value: fill(c) for c in column_cells(invoices, "status")}
    assert statuses == {
        "invalid": results.STATUS_FILLS[Status.INVALID],
        "failed": results.STATUS_FILLS[Status.FAILED],
        "created": results.STATUS_FILLS[Status.CREATED],
    }
    total = column_cells(invoices, "total")
    assert total[2].value == 3 and total[2].data_type == "n" and total[2].number_format == "#,##0.00"
    assert total[0].value is None
    rows = odd_book["Rows"]
    assert [fill(c) for c in column_cells(rows, "import_status")] == [
        results.STATUS_FILLS[s]
        for s in (Status.INVALID, Status.INVALID, Status.FAILED, Status.CREATED, Status.INVALID)
    ]
    assert all(fill(c) is None for c in column_cells(rows, "import_error"))
    summary = {r[0].value: r for r in odd_book["Summary"].iter_rows() if r[0].value}
    assert fill(summary["created"][1]) == results.STATUS_FILLS[Status.CREATED]
    assert summary["EUR"][1].value == 3 and summary["EUR"][1].number_format == "#,##0.00"
    assert summary["Run"][0].font.bold and fill(summary["Run"][0]) == results.HEADER_FILL


def test_comments_are_sized_for_reading(tmp_path: Path) -> None:
    path = write_results(tmp_path / "r.xlsx", sample_report(), run_info())
    with zipfile.ZipFile(path) as archive:
        drawings = [archive.read(n) for n in archive.namelist() if n.endswith(".vml")]
    # 300 x 120 pixels (at 96 dpi: 225 x 90 points)
    assert drawings and all(b"width:225pt" in d and b"height:90pt" in d for d in drawings)


RICH_LOOKALIKES = [
    "<r><t>a</t></r>",
    '<r><t>x</t></r></is></c><c r="A3"><f>1+1</f></c><c r="A9" t="inlineStr"><is><r><t>y</t></r>',
]


def test_text_that_looks_like_rich_text_xml_is_written_as_text(tmp_path: Path) -> None:
    """XlsxWriter writes a text '<r>...</r>' as raw rich-text XML: a hostile cell could add a formula."""
    june = date(2026, 6, 1)
    rows = [[value, june, june, "c", "EUR", "W", 1, 1, value] for value in RICH_LOOKALIKES]
    errors = [CellError("bad", row=3, column="invoice_number")]
    entries = [invoice("A", [2], Outcome(Status.FAILED, message=RICH_LOOKALIKES[1])), invoice("B", [3])]
    path = write_results(tmp_path / "r.xlsx", make_report(make_table(rows), entries, errors), run_info())
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert b"<f>" not in archive.read(name), name
    book = openpyxl.load_workbook(path)
    for row in ("Rows", "Invoices"):
        assert book[row].max_row == 3
    rows_read = list(book["Rows"].iter_rows(min_row=2, values_only=True))
    assert [(r[R], r[R + 8]) for r in rows_read] == [(v, v) for v in RICH_LOOKALIKES]
    assert fill(book["Rows"][shifted("A3")]) == results.ERROR_FILL
    assert [r[-1] for r in book["Invoices"].iter_rows(min_row=2, max_row=2, values_only=True)] == [
        RICH_LOOKALIKES[1]
    ]
    calamine = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Rows").to_python()
    assert [r[R] for r in calamine[1:]] == RICH_LOOKALIKES


def test_text_that_looks_like_an_excel_escape_reads_back_as_written(tmp_path: Path) -> None:
    """'_x0041_' in a cell is Excel's escape of 'A' unless escaped itself: the loader must read the text."""
    june = date(2026, 6, 1)
    rows = [["_x0041_", june, june, "c", "EUR", "W", 1, 1, "a_x000D_b"]]
    path = write_results(
        tmp_path / "r.xlsx", make_report(make_table(rows), [invoice("_x0041_", [2])], []), run_info()
    )
    calamine = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Rows").to_python()
    assert (calamine[1][R], calamine[1][R + 8]) == ("_x0041_", "a_x000D_b")


# ---------------------------------------------------------------------------------------------- console


def test_all_errors_lists_every_error_of_the_report_once() -> None:
    report = make_report(make_table(sample_rows()), sample_entries(), [*SAMPLE_ERRORS, BAD_QTY])
    assert all_errors(report) == SAMPLE_ERRORS


def test_describe_error_names_the_users_header() -> None:
    assert describe_error(BAD_QTY, HEADER_OF) == "row 5, Qty: quantity must be 0 or more"
    assert describe_error(BAD_QTY, {}, with_row=False) == "quantity: quantity must be 0 or more"
    assert describe_error(CellError("empty file"), HEADER_OF) == "empty file"
