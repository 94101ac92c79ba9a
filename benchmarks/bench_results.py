"""The results workbook's writer: its time for N invoices x k lines, and the two public writers compared.

    .venv/bin/python benchmarks/bench_results.py [--repeat 5]

1. ``write_results`` on a report like the latency benchmark's (CSV input: every cell text, 11 columns,
   every invoice created), 1,000 x 3 and 20,000 x 5.
2. The same cells (Invoices and Rows sheets, one cell in 50 red with a comment, status fills, amount
   formats, dates) through openpyxl's write-only mode and through XlsxWriter's constant_memory mode, both
   on public APIs only: why importer/results.py uses XlsxWriter.

Best of ``--repeat`` runs (the machine's noise only ever adds time).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import xlsxwriter
from generate import HEADER
from openpyxl.cell import WriteOnlyCell
from openpyxl.comments import Comment
from openpyxl.styles import PatternFill
from openpyxl.utils import get_column_letter

from importer.models import ImportReport, Invoice, Line, MappedTable, Outcome, RawTable, RunInfo, Status
from importer.results import write_results

SIZES = ((1_000, 3), (20_000, 5))
RUN = RunInfo(
    source=Path("/data/bench.csv"),
    sha256="ab" * 32,
    crm_url="http://127.0.0.1:8080",
    version="bench",
    started=datetime(2026, 6, 1, 9, 0),
    ended=datetime(2026, 6, 1, 9, 1),
)


def best_of(repeat: int, write: Callable[[Path], Any]) -> float:
    times = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            write(Path(folder) / "bench.results.xlsx")
            times.append(time.perf_counter() - started)
    return min(times)


# ---------------------------------------------------------------------------------------------- the product


def bench_report(invoices: int, lines: int) -> ImportReport:
    rows: list[list[str]] = []
    built: list[Invoice] = []
    outcomes: dict[str, Outcome] = {}
    for n in range(invoices):
        number = f"BENCH-{n:06d}"
        first = len(rows) + 2
        for j in range(lines):
            cells = [number, "2026-03-01", "2026-03-31", "billing@acme.example", "EUR", "WID-001"]
            rows.append([*cells, f"line {j}", "3", "7.70", "0", "VAT 20%"])
        numbers = tuple(range(first, first + lines))
        line_values = {"item": "WID-001", "quantity": Decimal(3), "price": Decimal("7.70")}
        built.append(
            Invoice(
                number=number,
                rows=numbers,
                lines=tuple(Line(row=r, values=line_values) for r in numbers),
                values={"invoice_number": number, "currency": "EUR"},
            )
        )
        outcomes[number] = Outcome(Status.CREATED, crm_id=1000 + n, crm_total=Decimal("27.72"))
    frame = pd.DataFrame(rows, columns=list(HEADER), dtype=object)
    raw = RawTable(frame=frame, row_numbers=list(range(2, len(rows) + 2)), source=RUN.source)
    table = MappedTable(raw=raw, frame=frame, headers={h: h for h in HEADER})
    totals = dict.fromkeys(outcomes, Decimal("27.72"))
    return ImportReport(table=table, invoices=tuple(built), errors=(), outcomes=outcomes, totals=totals)


# ---------------------------------------------------------------------------------------------- the writers

RowData = list[list[Any]]  # input cells, then row, status, crm_id, error, then "in error" (bool)


def writer_data(invoices: int, lines: int) -> RowData:
    rows: RowData = []
    for k in range(invoices):
        for j in range(lines):
            row = len(rows) + 2
            bad = row % 50 == 0
            error = "Qty: quantity must be 0 or more" if bad else None
            number = f"INV-{k:06d}" if j == 0 else None
            first = [number, date(2026, 6, 1), date(2026, 7, 1), "bill@acme.example", "EUR", "WID-001"]
            rows.append([*first, "-2" if bad else 3, 7.7, "note", row, "created", 1000 + k, error, bad])
    return rows


INVOICE_HEADERS = ["invoice_number", "status", "crm_id", "lines", "total", "crm_total", "currency", "rows"]


def with_openpyxl(path: Path, rows: RowData, invoices: int) -> None:
    book = openpyxl.Workbook(write_only=True)
    red, green = PatternFill("solid", fgColor="FF9999"), PatternFill("solid", fgColor="C6EFCE")
    sheet = book.create_sheet("Invoices")
    sheet.freeze_panes = "A2"
    sheet.append(INVOICE_HEADERS)
    for k in range(invoices):
        status = WriteOnlyCell(sheet, "created")
        status.fill = green
        amounts = [WriteOnlyCell(sheet, Decimal("23.10")) for _ in range(2)]
        for cell in amounts:
            cell.number_format = "#,##0.00"
        sheet.append([f"INV-{k:06d}", status, 1000 + k, 3, *amounts, "EUR", "2-4"])
    sheet = book.create_sheet("Rows")
    sheet.freeze_panes = "A2"
    for column in range(1, 14):
        sheet.column_dimensions[get_column_letter(column)].width = 12
    sheet.append([f"h{column}" for column in range(13)])
    for *values, bad in rows:
        cells: list[Any] = list(values)
        if bad:
            cell = WriteOnlyCell(sheet, values[6])
            cell.fill, cell.comment, cell.data_type = red, Comment(values[12], "x"), "s"
            cells[6] = cell
        status = WriteOnlyCell(sheet, values[10])
        status.fill = green
        cells[10] = status
        sheet.append(cells)
    sheet.auto_filter.ref = f"A1:M{len(rows) + 1}"
    book.create_sheet("Summary").append(["a", 1])
    book.save(path)


def with_xlsxwriter(path: Path, rows: RowData, invoices: int) -> None:
    with xlsxwriter.Workbook(str(path), {"constant_memory": True}) as book:
        red = book.add_format({"pattern": 1, "bg_color": "#FF9999"})
        green = book.add_format({"pattern": 1, "bg_color": "#C6EFCE"})
        amount, day = (
            book.add_format({"num_format": "#,##0.00"}),
            book.add_format({"num_format": "yyyy-mm-dd"}),
        )
        sheet = book.add_worksheet("Invoices")
        sheet.freeze_panes(1, 0)
        for column, header in enumerate(INVOICE_HEADERS):
            sheet.write_string(0, column, header)
        for k in range(invoices):
            r = k + 1
            sheet.write_string(r, 0, f"INV-{k:06d}")
            sheet.write_string(r, 1, "created", green)
            sheet.write_number(r, 2, 1000 + k)
            sheet.write_number(r, 3, 3)
            sheet.write_number(r, 4, float(Decimal("23.10")), amount)
            sheet.write_number(r, 5, float(Decimal("23.10")), amount)
            sheet.write_string(r, 6, "EUR")
            sheet.write_string(r, 7, "2-4")
        sheet = book.add_worksheet("Rows")
        sheet.freeze_panes(1, 0)
        sheet.set_column(0, 12, 12)
        for column in range(13):
            sheet.write_string(0, column, f"h{column}")
        for r, (*values, bad) in enumerate(rows, start=1):
            for column, value in enumerate(values):
                if value is None:
                    continue
                if column == 10:
                    sheet.write_string(r, column, value, green)
                elif bad and column == 6:
                    sheet.write_string(r, column, value, red)
                    sheet.write_comment(r, column, values[12], {"author": "x"})
                elif type(value) is str:
                    sheet.write_string(r, column, value)
                elif type(value) is date:
                    sheet.write_datetime(r, column, value, day)
                else:
                    sheet.write_number(r, column, value)
        sheet.autofilter(0, 0, len(rows), 12)
        book.add_worksheet("Summary").write_string(0, 0, "a")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    writers = (("openpyxl write-only", with_openpyxl), ("xlsxwriter constant", with_xlsxwriter))
    for invoices, lines in SIZES:
        runs = repeat if invoices * lines <= 10_000 else max(1, repeat // 2)
        report = bench_report(invoices, lines)
        seconds = best_of(runs, partial(write_results, report=report, run=RUN))
        print(f"write_results        {invoices:>6} x {lines}: {seconds:7.3f} s (best of {runs})")
        data = writer_data(invoices, lines)
        for name, writer in writers:
            seconds = best_of(runs, partial(writer, rows=data, invoices=invoices))
            print(f"{name:<20} {invoices:>6} x {lines}: {seconds:7.3f} s (best of {runs})")


if __name__ == "__main__":
    main()
