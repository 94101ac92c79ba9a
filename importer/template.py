"""The ``template`` command's workbook: an empty input file to fill in.

Sheets: **Invoices** (the canonical columns, required ones bold, drop-down lists for the columns that declare
choices: currency, language and template type; no rows: what the user fills in), **Example** (the same columns
with one example invoice of two lines), **Columns** (what every column means) and a hidden **Lists** sheet
holding the drop-down values (a list of 74 currencies is longer than the 255 characters Excel allows inline).

The example lives on its own sheet so that it can never be posted by accident: the importer reads the first
visible sheet, Invoices, unless told ``--sheet Example``. The command never replaces a file unless forced,
writes only ``.xlsx`` and creates no folder. Everything about a column (order, format, comment, example
cells, drop-down, documentation) comes from its declaration in importer.columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from importer.columns import COLUMNS, Column, Kind
from importer.errors import UsageError
from importer.files import save_atomically

INVOICES_SHEET, EXAMPLE_SHEET, COLUMNS_SHEET, LISTS_SHEET = "Invoices", "Example", "Columns", "Lists"
DATA_ROWS = 10_000  # the drop-downs and formats cover rows 2..DATA_ROWS
DATE_FORMAT = "yyyy-mm-dd"
TEXT_FORMAT = "@"

# The example invoice: each column's ``template`` cells, one per row (see importer.columns).
EXAMPLE_ROWS: tuple[dict[str, Any], ...] = tuple(
    {column.name: column.template[row] for column in COLUMNS if row < len(column.template)}
    for row in range(max(len(column.template) for column in COLUMNS))
)

# Drop-down lists: column -> (title on the Lists sheet, values), for each column declaring choices.
DROPDOWNS: dict[str, tuple[str, tuple[str, ...]]] = {
    column.name: (column.name, column.choices) for column in COLUMNS if column.choices
}


def crm_field(column: Column) -> str:
    """What a column becomes in the CRM's invoice request, for the Columns sheet."""
    if column.payload is None:
        return column.crm_doc
    notes = [note for note in (column.payload.note, "" if column.invoice_level else "line") if note]
    return f"{column.payload.key} ({', '.join(notes)})" if notes else column.payload.key


_REQUIRED_FONT = Font(bold=True)
_OPTIONAL_FONT = Font(bold=False, color="595959")
_HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
_REQUIRED_FILL = PatternFill("solid", fgColor="FFE699")


def write_template(path: Path, *, force: bool = False) -> Path:
    """Write the empty input workbook to ``path`` (atomically); return ``path``.

    Raises UsageError for a name that is not ``.xlsx``, a folder that does not exist (none is created),
    or an existing file (unless ``force``: then it is replaced).
    """
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise UsageError(
            f"{path}: the template is an Excel workbook; give a name ending in .xlsx, "
            f"e.g. {path.with_suffix('.xlsx').name}."
        )
    if not path.parent.is_dir():
        raise UsageError(
            f"{path}: the folder {path.parent} does not exist; create it first or choose another."
        )
    if path.is_dir():
        raise UsageError(
            f"{path}: is a folder; give the name of the workbook to write, e.g. {path}/invoices.xlsx."
        )
    if path.exists() and not force:
        raise UsageError(f"{path}: already exists; choose another name, or add --force to replace it.")
    workbook = build_template()
    return save_atomically(path, lambda temporary: workbook.save(temporary))


def build_template() -> Workbook:
    workbook = Workbook()
    invoices = workbook.active
    assert invoices is not None
    invoices.title = INVOICES_SHEET
    lists = _write_lists_sheet(workbook.create_sheet(LISTS_SHEET))
    _write_invoices_sheet(invoices, lists, ())
    _write_invoices_sheet(workbook.create_sheet(EXAMPLE_SHEET), lists, EXAMPLE_ROWS)
    _write_columns_sheet(workbook.create_sheet(COLUMNS_SHEET))
    workbook.move_sheet(LISTS_SHEET, offset=2)  # Invoices, Example, Columns, Lists (hidden, last)
    workbook.active = 0
    return workbook


# --- Invoices


def _write_invoices_sheet(
    sheet: Worksheet, lists: dict[str, str], examples: Sequence[dict[str, Any]]
) -> None:
    """The columns' headers, formats and drop-downs, and the ``examples`` rows (the Example sheet's)."""
    for index, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index, value=column.name)
        cell.font = _REQUIRED_FONT if column.required else _OPTIONAL_FONT
        cell.fill = _REQUIRED_FILL if column.required else _HEADER_FILL
        cell.comment = _header_comment(column)
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = min(max(len(column.name) + 4, 12), 30)
        number_format = _column_format(column)
        if number_format:
            sheet.column_dimensions[letter].number_format = number_format
    for offset, example in enumerate(examples, start=2):
        _write_example_row(sheet, offset, example)
    sheet.freeze_panes = "A2"
    for name, reference in lists.items():
        _add_dropdown(sheet, name, reference)


def _header_comment(column: Column) -> Comment:
    required = "Required." if column.required else "Optional."
    comment = Comment(f"{required} {column.doc}", "invoice-import")
    comment.width = 320
    comment.height = 110
    return comment


def _column_format(column: Column) -> str | None:
    if column.kind is Kind.DATE:
        return DATE_FORMAT
    if column.cell_format is not None:
        return column.cell_format
    if column.kind is Kind.NUMBER:
        return None
    if column.kind in (Kind.TEXT, Kind.REF):
        return TEXT_FORMAT  # typed identifiers stay text: leading zeros kept, nothing becomes a formula
    return None


def _write_example_row(sheet: Worksheet, row: int, values: dict[str, Any]) -> None:
    for index, column in enumerate(COLUMNS, start=1):
        value = values.get(column.name)
        if value is None:
            continue
        cell = sheet.cell(row=row, column=index, value=value)
        if isinstance(value, str):
            cell.data_type = "s"
        number_format = _column_format(column)
        if number_format:
            cell.number_format = number_format


def _add_dropdown(sheet: Worksheet, name: str, reference: str) -> None:
    index = next(i for i, column in enumerate(COLUMNS, start=1) if column.name == name)
    letter = get_column_letter(index)
    validation = DataValidation(
        type="list",
        formula1=reference,
        allow_blank=True,
        showDropDown=False,  # (sic) False shows the in-cell arrow
        showErrorMessage=True,
        errorTitle=f"Unknown {name}",
        error=f"Choose a {name} from the list (see the Columns sheet).",
        promptTitle=name,
        prompt="Pick from the list.",
    )
    validation.add(f"{letter}2:{letter}{DATA_ROWS}")
    sheet.add_data_validation(validation)


# --- Lists


def _write_lists_sheet(sheet: Worksheet) -> dict[str, str]:
    """One column per drop-down; returns column name -> absolute range reference."""
    references: dict[str, str] = {}
    for index, (name, (title, values)) in enumerate(DROPDOWNS.items(), start=1):
        letter = get_column_letter(index)
        sheet.cell(row=1, column=index, value=title).font = _REQUIRED_FONT
        for row, value in enumerate(values, start=2):
            sheet.cell(row=row, column=index, value=value).data_type = "s"
        references[name] = f"{quote_sheetname(sheet.title)}!${letter}$2:${letter}${len(values) + 1}"
    sheet.sheet_state = "hidden"
    return references


# --- Columns


COLUMNS_SHEET_HEADERS: tuple[str, ...] = (
    "column",
    "required",
    "aliases",
    "becomes in the CRM",
    "meaning",
    "example",
)


def _write_columns_sheet(sheet: Worksheet) -> None:
    sheet.append(list(COLUMNS_SHEET_HEADERS))
    for cell in sheet[1]:
        cell.font = _REQUIRED_FONT
        cell.fill = _HEADER_FILL
    for column in COLUMNS:
        _append_text_row(sheet, _column_doc_row(column))
    for letter, width in zip("ABCDEF", (24, 10, 36, 30, 80, 24), strict=True):
        sheet.column_dimensions[letter].width = width
    for row in sheet.iter_rows(min_row=2):
        row[4].alignment = Alignment(wrap_text=True, vertical="top")
    sheet.freeze_panes = "A2"


def _column_doc_row(column: Column) -> list[str]:
    required = column.required_doc or ("yes" if column.required else "no")
    return [
        column.name,
        required,
        ", ".join(column.aliases),
        crm_field(column),
        column.doc,
        column.example,
    ]


def _append_text_row(sheet: Worksheet, values: Sequence[str]) -> None:
    """Append a row whose cells are all text (nothing read as a formula)."""
    sheet.append(list(values))
    for cell in sheet[sheet.max_row]:
        if isinstance(cell.value, str):
            cell.data_type = "s"
