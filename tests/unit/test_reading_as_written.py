"""Issue 12, the reading side, module by module: unreadable workbook cells (load), the header row (load),
amounts as finance writes them (parse), totals rows (validate), the total mismatch's wording (totals)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook

from importer.columns import says_total
from importer.load import _XlsxFaults, load_table
from importer.models import CellFault, FormatOptions
from importer.parse import _number_cells, currency_mark
from importer.totals import PricedLine, mismatch_message


def xlsx_faults(xml: bytes, chunk: int = 7) -> dict[tuple[int, int], CellFault]:
    """The faults found in a sheet's XML fed in small chunks (cells cut anywhere)."""
    faults = _XlsxFaults()
    for start in range(0, len(xml), chunk):
        faults.feed(xml[start : start + chunk])
    return faults.found


def test_sheet_xml_error_cells_and_formulas_without_results_are_found_across_chunks() -> None:
    xml = (
        b'<sheetData><row r="2"><c r="A2" t="s"><v>0</v></c><c r="H2" s="1" t="e"><f>VLOOKUP(&quot;x&quot;,'
        b'A:B,2,0)</f><v>#N/A</v></c><c r="I2"><f>I1*J2</f><v /></c><c r="J2" t="str"><f>""</f><v></v></c>'
        b'<c r="K2"><f>1+1</f><v>2</v></c><c r="L2"><f t="shared" si="0"/></c>'
        b'<c r="M2" t="e"><v>#REF!</v></c>'
        b"</row></sheetData>"
    )
    for chunk in (7, 64, len(xml)):
        found = xlsx_faults(xml, chunk)
        assert found == {
            (1, 7): CellFault("H2", "#N/A"),
            (1, 8): CellFault("I2", "=I1*J2", True),
            (1, 11): CellFault("L2", "a shared formula", True),
            (1, 12): CellFault("M2", "#REF!"),
        }, chunk  # J2 saved "" (t="str"), K2 saved 2


def write(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    for values in rows:
        book.active.append(values)
    book.save(path)
    return path


HEADER = ["Invoice Number", "Issue Date", "Due Date", "Customer", "Currency", "Item", "Qty"]
DATA = ["INV-1", "2026-06-01", "2026-07-01", "billing@acme.example", "EUR", "WID-001", 1]


def test_the_header_is_found_below_title_and_note_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "t.xlsx", [["Invoices of June"], ["note: see below"], [], HEADER, DATA])
    raw = load_table(path)
    assert raw.header_row == 4 and list(raw.frame.columns) == HEADER and raw.row_numbers == [5]
    assert any("the header is row 4" in note for note in raw.notes)


def test_header_row_one_says_nothing_and_header_row_option_wins(tmp_path: Path) -> None:
    path = write(tmp_path / "t.xlsx", [HEADER, DATA, DATA])
    assert load_table(path).notes == ()
    forced = load_table(path, fmt=FormatOptions(header_row=2))
    assert next(iter(forced.frame.columns)) == "INV-1" and forced.row_numbers == [3]


def test_a_data_row_naming_one_known_column_is_not_taken_for_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / "t.xlsx", [["Nummer", "Kunde"], ["Total", "x"], ["A", "B"]])
    assert load_table(path).header_row == 1


@pytest.mark.parametrize(
    ("text", "number", "mark"),
    [
        ("$19.99", "19.99", "$"),
        ("1.234,50 €", "1234.50", "€"),
        ("€ 1.234,50", "1234.50", "€"),
        ("EUR 100.00", "100.00", "EUR"),
        ("CHF 1'234.50", "1234.50", "CHF"),
        ("1\u00a0234,50", "1234.50", None),
        ("1\u202f234,50 €", "1234.50", "€"),
        ("(100.00)", "-100.00", None),
        ("(€ 100,00)", "-100.00", "€"),
        ("-$5", "-5", "$"),
    ],
)
def test_amounts_as_finance_writes_them(text: str, number: str, mark: str | None) -> None:
    parsed, errors = _number_cells(pd.Series([text], dtype=object), "price", pd.Series([2]), None, money=True)
    assert errors == [] and parsed.tolist() == [number]
    assert currency_mark(text) == mark


@pytest.mark.parametrize("text", ["10 %", "10%", "10\u00a0%"])
def test_percentages_with_or_without_a_space(text: str) -> None:
    parsed, errors = _number_cells(pd.Series([text], dtype=object), "discount", pd.Series([2]), None, True)
    assert errors == [] and parsed.tolist() == ["10"]


def test_a_currency_sign_is_no_number_where_amounts_are_not_money() -> None:
    _, errors = _number_cells(pd.Series(["$3"], dtype=object), "quantity", pd.Series([2]), None)
    assert [error.code for error in errors] == ["number"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("Total", True),
        ("Sub-total:", True),
        ("Summe", True),
        ("Gesamt", True),
        ("Total général", True),
        ("Totale", True),
        ("Итого", True),
        ("Grand total EUR", True),
        ("TOTAL-2026-01", False),
        ("Summer sale", False),
        ("INV-1", False),
    ],
)
def test_totals_words(text: str, says: bool) -> None:
    assert says_total(text) is says


def test_a_total_mismatch_names_the_line_rounded_otherwise_by_round() -> None:
    lines = [PricedLine(2, Decimal("0.25"), Decimal("0.5")), PricedLine(3, Decimal("7.70"), Decimal("3"))]
    text = mismatch_message(Decimal("23.23"), Decimal("23.22"), lines)
    assert "half to even" in text and "row 2 comes to 0.12 the CRM's way but 0.13 with ROUND" in text
    plain = mismatch_message(Decimal("30.00"), Decimal("23.22"), lines[1:])
    assert "ROUND" not in plain and "half to even" in plain
