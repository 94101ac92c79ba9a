"""The template workbook: written for real, read back with openpyxl and with the importer's own loader."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.worksheet import Worksheet

from importer.columns import BY_NAME, CANONICAL, COLUMNS, REQUIRED
from importer.crm_constants import CURRENCIES, LANGUAGES
from importer.errors import InputFileError, UsageError
from importer.load import load_table
from importer.mapping import map_columns
from importer.models import ImportReport, Status
from importer.template import write_template
from importer.totals import line_cost
from importer.validate import validate_table


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_template(tmp_path_factory.mktemp("t") / "invoices.xlsx")


def list_values(book: openpyxl.Workbook, reference: str) -> list[str]:
    sheet_name, cells = reference.rsplit("!", 1)
    sheet = book[sheet_name.strip("'")]
    return [row[0].value for row in sheet[cells.replace("$", "")]]


def validations_by_column(sheet: Worksheet) -> dict[str, tuple[str, str]]:
    """header -> (formula1, ranges) of each list validation."""
    headers = {cell.column_letter: cell.value for cell in sheet[1]}
    found = {}
    for validation in sheet.data_validations.dataValidation:
        assert validation.type == "list"
        ranges = str(validation.sqref)
        found[headers[ranges[0]]] = (validation.formula1, ranges)
    return found


def test_loaded_as_input_the_example_sheet_has_exactly_the_canonical_headers(template: Path) -> None:
    raw = load_table(template, sheet="Example")
    assert list(raw.frame.columns) == list(CANONICAL)
    assert raw.row_numbers == [2, 3]


def test_the_invoices_sheet_is_read_first_and_holds_only_the_headers(template: Path) -> None:
    """The example cannot be posted by accident: it is on its own sheet, and the one read is empty."""
    sheet = openpyxl.load_workbook(template)["Invoices"]
    assert [cell.value for cell in sheet[1]] == list(CANONICAL)
    assert sheet.max_row == 1
    with pytest.raises(InputFileError, match="no data rows"):
        load_table(template)


def test_the_example_is_one_valid_invoice_of_two_lines(template: Path) -> None:
    validation = validate_table(map_columns(load_table(template, sheet="Example")))
    assert validation.errors == ()
    [invoice] = validation.invoices
    assert (
        invoice.number == "INV-2026-0001"
        and ImportReport.offline(validation).status(invoice) is Status.PENDING
    )
    assert [line.item for line in invoice.lines] == ["WID-001", "SRV-HOUR"]
    assert invoice.contact == "billing@acme.example" and invoice.currency == "EUR"
    assert [line.tax1 for line in invoice.lines] == ["VAT 20%", "VAT 20%"]


def test_the_example_total_is_the_crm_total_at_the_sandbox_prices() -> None:
    vat = Decimal(20)
    expected = line_cost(Decimal("7.70"), Decimal(100), Decimal(25), vat) + line_cost(
        Decimal("120.00"), Decimal(2), Decimal(0), vat
    )
    assert expected == BY_NAME["invoice_total"].template[0] == Decimal("981.00")


def test_required_headers_are_bold_and_documented_in_a_comment(template: Path) -> None:
    sheet = openpyxl.load_workbook(template)["Invoices"]
    for cell in sheet[1]:
        assert cell.font.bold == (cell.value in REQUIRED), cell.value
        assert cell.comment is not None and ("Required." in cell.comment.text) == (cell.value in REQUIRED)
    assert sheet.freeze_panes == "A2"


def test_dates_are_real_date_cells_and_identifiers_text(template: Path) -> None:
    sheet = openpyxl.load_workbook(template)["Example"]
    headers = [cell.value for cell in sheet[1]]
    assert sheet.cell(row=2, column=headers.index("issue_date") + 1).is_date
    assert sheet.cell(row=2, column=headers.index("invoice_number") + 1).number_format == "@"
    assert sheet.cell(row=2, column=headers.index("quantity") + 1).data_type == "n"


def test_columns_sheet_documents_every_column(template: Path) -> None:
    sheet = openpyxl.load_workbook(template)["Columns"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("column", "required", "aliases", "becomes in the CRM", "meaning", "example")
    by_name = {row[0]: row for row in rows[1:]}
    assert list(by_name) == list(CANONICAL)
    for column in COLUMNS:
        _, required, aliases, becomes, meaning, example = by_name[column.name]
        assert str(required).startswith("yes" if column.required else "no")
        assert (aliases or "") == ", ".join(column.aliases)
        assert becomes and meaning == column.doc and (example or "") == column.example
    assert by_name["issue_date"][3] == "issueDate"


@pytest.mark.parametrize("name", ["Invoices", "Example"])
def test_dropdowns_for_currency_language_and_template_type(template: Path, name: str) -> None:
    book = openpyxl.load_workbook(template)
    found = validations_by_column(book[name])
    assert set(found) == {"currency", "language", "template_type", "status"}
    for header, (_, ranges) in found.items():
        letter = ranges[0]
        assert ranges == f"{letter}2:{letter}10000", header
    assert list_values(book, found["currency"][0]) == [c.abbreviation for c in CURRENCIES]
    assert list_values(book, found["language"][0]) == list(LANGUAGES)
    assert list_values(book, found["template_type"][0]) == ["Eur", "Rus"]


def test_lists_sheet_is_hidden_and_invoices_first(template: Path) -> None:
    book = openpyxl.load_workbook(template)
    assert book.sheetnames == ["Invoices", "Example", "Columns", "Lists"]
    assert book["Lists"].sheet_state == "hidden"
    assert book.active.title == "Invoices"


def test_write_template_refuses_an_existing_file_unless_forced_and_leaves_no_temporary(
    tmp_path: Path,
) -> None:
    target = tmp_path / "t.xlsx"
    target.write_bytes(b"old")
    with pytest.raises(UsageError, match=r"already exists.*--force"):
        write_template(target)
    assert target.read_bytes() == b"old"
    assert write_template(target, force=True) == target
    assert openpyxl.load_workbook(target).sheetnames[0] == "Invoices"
    assert [p.name for p in tmp_path.iterdir()] == ["t.xlsx"]


@pytest.mark.parametrize("name", ["t.csv", "t.xls", "t", "t.xlsx.bak"])
def test_write_template_refuses_a_name_that_is_not_xlsx(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match=r"ending in \.xlsx"):
        write_template(tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_write_template_creates_no_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        write_template(tmp_path / "missing" / "t.xlsx")
    assert list(tmp_path.iterdir()) == []
