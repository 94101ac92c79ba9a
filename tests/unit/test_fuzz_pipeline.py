"""Random cell values through load → map → validate → results workbook.

The only acceptable outcomes are a Validation whose every error points at a real row (or none) and a
workbook with no formula in it, or a clean ImporterError with a one-line message. Never another
exception, never a traceback.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importer.errors import ImporterError
from importer.models import ImportReport, RunInfo
from importer.pipeline import Source, validate_source
from importer.results import write_results

HEADERS = [
    "Invoice Number",
    "Issue Date",
    "Due Date",
    "Customer",
    "Currency",
    "Item",
    "Qty",
    "Unit Price",
    "Discount %",
    "VAT",
    "Total",
    "Notes",
]

TRICKY = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e5",
        "1,234.50",
        "1.234,50",
        "1 234,50",
        "7.755",
        "99999999.99",
        "100000000",
        "2026-06-01",
        "31/02/2026",
        "02/31/2026",
        "13.13.2026",
        "2026-06-01T10:00:00",
        "NaN",
        "None",
        "null",
        '=HYPERLINK("http://x","y")',
        "+1+2",
        "@SUM(A1)",
        "\t=1",
        "EUR",
        "eur",
        "XYZ",
        "VAT 20%",
        "billing@acme.example",
        "ÄÖÜ ß €",
        "😀",
        "a\nb",
        '"quoted"',
        "x" * 300,
    ]
)
CELL = st.one_of(
    TRICKY, st.text(max_size=12), st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str)
)
ROWS = st.lists(st.lists(CELL, min_size=len(HEADERS), max_size=len(HEADERS)), min_size=1, max_size=12)


def write_csv(path: Path, rows: list[list[str]], delimiter: str) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(HEADERS)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def has_formula(workbook: Path) -> bool:
    with zipfile.ZipFile(workbook) as archive:
        return any(
            b"<f>" in archive.read(name) or b"<f " in archive.read(name)
            for name in archive.namelist()
            if name.startswith("xl/worksheets/")
        )


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS, delimiter=st.sampled_from([",", ";", "\t", "|"]))
def test_random_cells_end_in_a_report_or_a_clean_error(
    tmp_path: Path, rows: list[list[str]], delimiter: str
) -> None:
    source = tmp_path / "fuzz.csv"
    write_csv(source, rows, delimiter)
    try:
        validation = validate_source(Source(source))
    except ImporterError as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message
        return
    known_rows = set(validation.table.raw.row_numbers)
    for error in validation.errors:
        assert error.row is None or error.row in known_rows, error
        assert error.message and "\n" not in error.message
    grouped = [row for invoice in validation.invoices for row in invoice.rows]
    assert len(grouped) == len(set(grouped)) and set(grouped) <= known_rows
    run = RunInfo(
        source=source,
        sha256=validation.table.raw.sha256,
        crm_url=None,
        version="test",
        started=datetime.now(UTC),
        ended=datetime.now(UTC),
    )
    results = write_results(tmp_path / "fuzz.results.xlsx", ImportReport.offline(validation), run)
    assert not has_formula(results)
