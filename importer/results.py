"""The results workbook: Invoices, Rows and Summary sheets (product.md, "The results workbook").

Written with openpyxl in write-only mode (one code path for every size: bounded memory), to a temporary
file in the target folder that replaces the target only once complete. openpyxl keeps the package, the
styles and the comments; the rows themselves are rendered here as XML text and written into its stream of
the sheet, a chunk of rows at a time (:class:`_FastSheet`): the same XML as its own cell-by-cell writer, in
a third of the time for the whole workbook (tests/test_results.py compares the two).

Nothing read from the input is ever written as a formula: every text value is written as an inline string,
and text a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@``, tab, carriage return) also
gets the "quote prefix" style, so editing the cell in Excel keeps it text.
"""

from __future__ import annotations

import math
import os
import re
import secrets
from bisect import bisect_left
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import TIME_TYPES, Cell, get_time_format
from openpyxl.comments import Comment
from openpyxl.comments.comment_sheet import CommentRecord
from openpyxl.compat import safe_string
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.xml.constants import SHEET_MAIN_NS
from openpyxl.xml.functions import xmlfile

from importer.columns import RESULT_COLUMNS, normalize_header
from importer.errors import ResultsPathError
from importer.models import CellError, Invoice, RunInfo, Status, Validation

INVOICE_COLUMNS: tuple[str, ...] = (
    "invoice_number",
    "status",
    "crm_id",
    "lines",
    "total",
    "crm_total",
    "currency",
    "source_rows",
    "error",
)
TOTALLED_STATUSES: tuple[Status, ...] = (Status.CREATED, Status.SKIPPED, Status.PLANNED)

AMOUNT_FORMAT = "#,##0.00"
MAX_CELL_TEXT = 32_767  # Excel's limit for one cell
MIN_WIDTH, MAX_WIDTH = 8, 60
WIDTH_SAMPLE_ROWS = 500  # column widths are estimated from the first rows only (bounded work)
MAX_ROWS_LISTED = 10
COMMENT_AUTHOR = "invoice-import"

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # + lone surrogates
_ERROR_LITERALS = frozenset({"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A"})

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
ERROR_FILL = PatternFill("solid", fgColor="FF9999")
STATUS_FILLS: dict[Status, PatternFill] = {
    Status.CREATED: PatternFill("solid", fgColor="C6EFCE"),  # green
    Status.SKIPPED: PatternFill("solid", fgColor="E2EFDA"),  # light green
    Status.EXISTS: PatternFill("solid", fgColor="F8CBAD"),  # orange
    Status.INVALID: PatternFill("solid", fgColor="FFC7CE"),  # red
    Status.FAILED: PatternFill("solid", fgColor="FF7C80"),  # strong red
    Status.PENDING: PatternFill("solid", fgColor="D9D9D9"),  # grey
    Status.PLANNED: PatternFill("solid", fgColor="DDEBF7"),  # blue
}


# ---------------------------------------------------------------------------------------------- public API


def default_results_path(source: Path) -> Path:
    """``<input stem>.results.xlsx`` beside the input."""
    return source.with_name(f"{source.stem}.results.xlsx")


def summary_counts(invoices: list[Invoice]) -> dict[str, int]:
    """The ``--json`` summary counts: one per status, then ``invoices`` and ``lines``."""
    counts = {status.value: 0 for status in Status}
    for invoice in invoices:
        counts[invoice.status.value] += 1
    counts["invoices"] = len(invoices)
    counts["lines"] = sum(_line_count(invoice) for invoice in invoices)
    return counts


def write_results(path: Path, validation: Validation, run: RunInfo) -> Path:
    """Write the results workbook atomically to ``path`` (parent folders created); return ``path``.

    Refuses (UsageError) to overwrite the input file itself.
    """
    path = Path(path)
    check_results_path(path, run.source)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = _build_workbook(validation, run)
    _save_atomically(workbook, path)
    return path


def check_results_path(path: Path, source: Path) -> None:
    """Raise UsageError when the results workbook would replace the input file (call it before posting)."""
    if _same_file(Path(path), Path(source)):
        raise ResultsPathError(
            f"{path}: the results workbook would overwrite the input file; choose another --results path."
        )


# ---------------------------------------------------------------------------------------------- cell values


def clean_text(text: str) -> str:
    """Text safe for a worksheet: XML-illegal characters become U+FFFD; at most 32,767 chars.

    A carriage return becomes a newline, as any XML reader would read it back.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if _ILLEGAL_XML.search(text):
        text = _ILLEGAL_XML.sub("\ufffd", text)
    return text[:MAX_CELL_TEXT]


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_PREFIXES)


def plain_value(value: Any) -> Any:
    """A value openpyxl can write: None for blanks (None, NaN, NaT), native Python scalars, clean text."""
    if value is None:
        return None
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, bool | int | Decimal):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else _naive(value.to_pydatetime())
    if isinstance(value, datetime):
        return _naive(value)
    if isinstance(value, date | time | timedelta):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return plain_value(value.item())
    if value is pd.NA or value is pd.NaT:
        return None
    return clean_text(str(value))


def _naive(moment: datetime) -> datetime:
    """Excel has no time zones: an aware moment is written as local wall time."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(tz=None).replace(tzinfo=None)


@dataclass(frozen=True)
class Look:
    """How a cell looks beyond its value."""

    fill: PatternFill | None = None
    number_format: str | None = None
    font: Font | None = None
    comment: str | None = None


PLAIN = Look()


def make_cell(sheet: _FastSheet, value: Any, look: Look = PLAIN) -> Any:
    """What to append for one cell: the bare value when that is safe, else the sheet's styled cell.

    Text is always written as text (never a formula nor an error literal): text a spreadsheet would take
    for one gets the quote prefix.
    """
    value = clean_text(value) if type(value) is str else plain_value(value)
    risky_text = isinstance(value, str) and (value.startswith(FORMULA_PREFIXES) or value in _ERROR_LITERALS)
    if look is PLAIN and not risky_text:
        return value
    return sheet.styled(value, look, risky_text)


def _comment(text: str) -> Comment:
    comment = Comment(clean_text(text), COMMENT_AUTHOR)
    comment.width = 300
    comment.height = 120
    return comment


# ---------------------------------------------------------------------------------------------- rows


ROWS_PER_CHUNK = 500  # rows rendered as text, then written at once


class _Style:
    """One combination of a cell's look, registered with the workbook's styles the way openpyxl does it."""

    def __init__(self, cell: Cell, look: Look) -> None:
        self.cell = cell  # a cell carrying the look: openpyxl registers fills, fonts and formats through it
        self.look = look  # kept alive: the cache key holds the ids of its fill and font
        self._id: str | None = None

    def attribute(self) -> str:
        """`` s="N"`` (the index of the cell format), or nothing for a cell without any style."""
        if self._id is None:  # on first use when writing, as openpyxl's writer registers a cell format
            self._id = f' s="{self.cell.style_id}"' if self.cell.has_style else ""
        return self._id


@dataclass(frozen=True, slots=True)
class _Styled:
    """A cell with a look (and maybe a comment), as appended to a :class:`_FastSheet`."""

    value: Any  # a plain value
    style: _Style
    comment: str | None


class _StreamWriter(WorksheetWriter):
    """openpyxl's writer of a sheet's XML, writing into a file it holds open (``handle``), so that
    rows rendered as text can go into that file between the elements openpyxl writes."""

    handle: IO[bytes]

    def get_stream(self) -> Generator[Any, Any, None]:
        """``WorksheetWriter.get_stream``, on a file object instead of a file name."""
        with (
            open(self.out, "wb") as self.handle,
            xmlfile(self.handle) as xf,
            xf.element("worksheet", xmlns=SHEET_MAIN_NS),
        ):
            try:
                while True:
                    element = yield
                    if element is True:
                        yield xf
                    elif element is not None:
                        xf.write(element)
            except GeneratorExit:
                pass


class _FastSheet(WriteOnlyWorksheet):
    """openpyxl's write-only sheet, but each appended row is rendered as XML text here, and every
    ``ROWS_PER_CHUNK`` rows are written into the sheet's file at once, inside the ``sheetData`` element
    openpyxl's stream writer opened (its own output flushed first).

    The XML is what openpyxl's own cell writer makes of the same cells (``_set_attributes`` and
    ``lxml_write_cell`` in ``openpyxl.cell._writer``): inline strings, numbers and booleans as ``<v>``,
    dates as serial numbers with a date format, and every style and comment registered with the workbook
    in the same order, so that styles.xml and the comments come out the same as well. Rows take bare
    values (None, text, numbers, booleans, dates) and the :class:`_Styled` cells of :meth:`styled`.
    """

    def __init__(self, parent: Workbook, title: str) -> None:
        super().__init__(parent, title)
        self._styles: dict[tuple[Any, ...], _Style] = {}
        self._stream: _StreamWriter | None = None

    def styled(self, value: Any, look: Look, quote: bool) -> _Styled:
        """A cell of ``value`` (a plain value) with ``look``; ``quote``: text with the quote prefix."""
        time_type = type(value) if isinstance(value, TIME_TYPES) else None
        return _Styled(value, self._style(look, quote, time_type), look.comment)

    def _style(self, look: Look, quote: bool, time_type: type | None) -> _Style:
        key = (id(look.fill), id(look.font), look.number_format, quote, time_type)
        style = self._styles.get(key)
        if style is None:
            # As openpyxl's WriteOnlyCell(sheet, value) followed by the look: a date value first sets
            # its date format (a format of the look replaces it), then the fill, format and font.
            cell = WriteOnlyCell(self)
            if time_type is not None:
                cell.number_format = get_time_format(time_type)
            if quote:
                cell.quotePrefix = True
            if look.fill is not None:
                cell.fill = look.fill
            if look.number_format is not None:
                cell.number_format = look.number_format
            if look.font is not None:
                cell.font = look.font
            style = self._styles[key] = _Style(cell, look)
        return style

    def _get_writer(self) -> None:
        """``WriteOnlyWorksheet._get_writer``, with the writer above."""
        if self._stream is None:
            self._stream = self._writer = _StreamWriter(self)
            self._stream.write_top()

    def _write_rows(self) -> Generator[None, Sequence[Any], None]:
        """openpyxl's generator of the ``sheetData`` element (``WriteOnlyWorksheet._write_rows``), with
        the rows rendered here."""
        try:
            xf = self._writer.xf.send(True)
        except StopIteration:
            self._already_saved()
        with xf.element("sheetData"):
            rendered: list[str] = []
            row_idx = 1
            try:
                while True:
                    row = yield
                    rendered.append(self._render(row, row_idx))
                    row_idx += 1
                    if len(rendered) == ROWS_PER_CHUNK:
                        self._write_rendered(xf, rendered)
                        rendered = []
            except GeneratorExit:
                pass
            self._write_rendered(xf, rendered)
        self._writer.xf.send(None)

    def _write_rendered(self, xf: Any, rendered: list[str]) -> None:
        if rendered:
            xf.flush()  # what openpyxl wrote so far, before the rows
            # ASCII with character references, as lxml writes the rest of the sheet
            assert self._stream is not None
            self._stream.handle.write("".join(rendered).encode("ascii", "xmlcharrefreplace"))

    def _render(self, values: Sequence[Any], row_idx: int) -> str:
        number = str(row_idx)
        letters = _column_letters(len(values))
        parts = [f'<row r="{number}">']
        for column, value in enumerate(values, start=1):
            if value is None:
                continue
            ref = letters[column] + number
            if type(value) is str:  # the most common cell by far
                parts.append(_text_cell(ref, "", value))
            elif isinstance(value, _Styled):
                cell = self._render_styled(value, ref, column, row_idx)
                if cell:
                    parts.append(cell)
            else:
                parts.append(self._render_value(value, ref, ""))
        parts.append("</row>")
        return "".join(parts)

    def _render_styled(self, cell: _Styled, ref: str, column: int, row_idx: int) -> str:
        if cell.comment:
            self._record_comment(cell.comment, column, row_idx)
        style = cell.style.attribute()
        if cell.value is None:
            # openpyxl leaves out an empty cell with neither style nor comment
            return f'<c r="{ref}"{style} t="n"/>' if style or cell.comment else ""
        if isinstance(cell.value, str):
            return _text_cell(ref, style, cell.value)
        return self._render_value(cell.value, ref, style)

    def _render_value(self, value: Any, ref: str, style: str) -> str:
        if isinstance(value, str):
            return _text_cell(ref, style, value)
        if isinstance(value, bool):
            return f'<c r="{ref}"{style} t="b"><v>{safe_string(value)}</v></c>'
        if isinstance(value, int | float | Decimal):
            return f'<c r="{ref}"{style} t="n"><v>{safe_string(value)}</v></c>'
        if isinstance(value, TIME_TYPES):
            if getattr(value, "tzinfo", None) is not None:
                raise TypeError("Excel does not support timezones in datetimes.")
            if not style:
                style = self._style(PLAIN, False, type(value)).attribute()
            return f'<c r="{ref}"{style} t="n"><v>{safe_string(to_excel(value, self.parent.epoch))}</v></c>'
        raise ValueError(f"Cannot convert {value!r} to Excel")

    def _record_comment(self, text: str, column: int, row_idx: int) -> None:
        """The comment of a cell, listed as openpyxl's row writer lists it (``WorksheetWriter.write_row``)."""
        holder = WriteOnlyCell(self)
        holder.row, holder.column = row_idx, column
        holder.comment = _comment(text)
        self._comments.append(CommentRecord.from_cell(holder))


def _text_cell(ref: str, style: str, text: str) -> str:
    if not text:
        return f'<c r="{ref}"{style} t="inlineStr"/>'
    space = ' xml:space="preserve"' if text != text.strip() else ""
    if "&" in text or "<" in text or ">" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'<c r="{ref}"{style} t="inlineStr"><is><t{space}>{text}</t></is></c>'


_LETTERS = [""]  # _LETTERS[n] is the letter of column n


def _column_letters(columns: int) -> list[str]:
    """The column letters, indexed from 1, of at least ``columns`` columns."""
    while len(_LETTERS) <= columns:
        _LETTERS.append(get_column_letter(len(_LETTERS)))
    return _LETTERS


# ---------------------------------------------------------------------------------------------- errors


@dataclass
class ErrorIndex:
    """Every error of the run, located: by row, by (row, column) and per invoice."""

    headers: dict[str, str]
    present: frozenset[str]  # header texts present in the Rows sheet
    by_row: dict[int, list[CellError]] = field(default_factory=dict)
    unplaced: list[CellError] = field(default_factory=list)  # no row

    @classmethod
    def build(cls, validation: Validation, present: Iterable[str]) -> ErrorIndex:
        index = cls(dict(validation.table.headers), frozenset(present))
        for error in all_errors(validation):
            if error.row is None:
                index.unplaced.append(error)
            else:
                index.by_row.setdefault(error.row, []).append(error)
        return index

    def header(self, column: str | None) -> str | None:
        """The header in the file of a canonical column (or the column itself when it is a header)."""
        if column is None:
            return None
        header = self.headers.get(column, column)
        return header if header in self.present else None

    def label(self, column: str | None) -> str | None:
        if column is None:
            return None
        return self.headers.get(column, column)

    def cell_messages(self, row: int) -> dict[str, list[str]]:
        """header -> messages for the cells of ``row`` that are in error and present in the sheet."""
        messages: dict[str, list[str]] = {}
        for error in self.by_row.get(row, ()):
            header = self.header(error.column)
            if header is not None:
                messages.setdefault(header, []).append(error.message)
        return messages

    def column_messages(self) -> dict[str, list[str]]:
        """header -> messages of errors about a whole column (no row)."""
        messages: dict[str, list[str]] = {}
        for error in self.unplaced:
            header = self.header(error.column)
            if header is not None:
                messages.setdefault(header, []).append(error.message)
        return messages

    def describe(self, error: CellError, with_row: bool = True) -> str:
        """'row N, Header: message' (parts that are unknown left out)."""
        return describe_error(error, self.headers, with_row=with_row)


def describe_error(error: CellError, headers: Mapping[str, str], *, with_row: bool = True) -> str:
    """'row N, Header: message', naming the column by its header in the user's file where it has one."""
    where = []
    if with_row and error.row is not None:
        where.append(f"row {error.row}")
    if error.column is not None:
        where.append(headers.get(error.column, error.column))
    return f"{', '.join(where)}: {error.message}" if where else error.message


def all_errors(validation: Validation) -> list[CellError]:
    """validation.errors plus the invoices' own errors (later stages may add only there), without repeats."""
    merged: dict[CellError, None] = dict.fromkeys(validation.errors)
    for invoice in validation.invoices:
        merged.update(dict.fromkeys(invoice.errors))
    return list(merged)


def join_messages(parts: Iterable[str]) -> str:
    return "; ".join(part for part in dict.fromkeys(parts) if part)


# ---------------------------------------------------------------------------------------------- workbook


def _build_workbook(
    validation: Validation, run: RunInfo, sheet_class: type[_FastSheet] = _FastSheet
) -> Workbook:
    workbook = Workbook(write_only=True)

    def sheet(title: str) -> _FastSheet:
        new = sheet_class(parent=workbook, title=title)
        workbook._add_sheet(new)  # what Workbook.create_sheet does, with this class of sheet
        return new

    raw_headers = _input_headers(validation)
    errors = ErrorIndex.build(validation, (header for _, header in raw_headers))
    _write_invoices_sheet(sheet("Invoices"), validation.invoices, errors)
    _write_rows_sheet(sheet("Rows"), validation, raw_headers, errors)
    _write_summary_sheet(sheet("Summary"), validation, run, errors)
    return workbook


def _input_headers(validation: Validation) -> list[tuple[int, str]]:
    """(position in the raw frame, header text) of the input columns, without stale result columns."""
    result_keys = {normalize_header(name) for name in RESULT_COLUMNS}
    return [
        (position, str(header))
        for position, header in enumerate(validation.table.raw.frame.columns)
        if normalize_header(str(header)) not in result_keys
    ]


def _header_row(sheet: _FastSheet, headers: Sequence[str], comments: dict[str, list[str]]) -> list[Any]:
    cells = []
    for header in headers:
        problems = comments.get(header)
        look = Look(
            fill=ERROR_FILL if problems else _HEADER_FILL,
            font=_HEADER_FONT,
            comment="\n".join(problems) if problems else None,
        )
        cells.append(make_cell(sheet, header, look))
    return cells


def _prepare_table(sheet: _FastSheet, widths: Sequence[float], rows: int) -> None:
    """Column widths (must precede the first row in write-only mode), frozen header, autofilter."""
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    if widths:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(widths))}{max(rows, 1) + 1}"


def estimate_widths(headers: Sequence[str], columns: Sequence[Sequence[Any]]) -> list[float]:
    """Readable, bounded widths from the header and the first rows of each column."""
    widths = []
    for header, values in zip(headers, columns, strict=True):
        longest = len(str(header)) + 3  # room for the filter button
        for value in values[:WIDTH_SAMPLE_ROWS]:
            longest = max(longest, _display_length(value))
        widths.append(float(min(max(longest + 1, MIN_WIDTH), MAX_WIDTH)))
    return widths


def _display_length(value: Any) -> int:
    value = plain_value(value)
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 19 if value.time() != time() else 10
    if isinstance(value, date):
        return 10
    if isinstance(value, float | Decimal):
        return len(f"{value:,.2f}")
    return max((len(line) for line in str(value).splitlines()), default=0)


# --- Invoices


def _write_invoices_sheet(sheet: _FastSheet, invoices: list[Invoice], errors: ErrorIndex) -> None:
    records = [_invoice_record(invoice, errors) for invoice in invoices]
    columns = [[record[i] for record in records] for i in range(len(INVOICE_COLUMNS))]
    _prepare_table(sheet, estimate_widths(INVOICE_COLUMNS, columns), len(records))
    sheet.append(_header_row(sheet, INVOICE_COLUMNS, {}))
    for invoice, record in zip(invoices, records, strict=True):
        sheet.append(_invoice_cells(sheet, invoice.status, record))


def _invoice_record(invoice: Invoice, errors: ErrorIndex) -> list[Any]:
    outcome = invoice.outcome
    in_row_order = sorted(invoice.errors, key=lambda error: (error.row is not None, error.row or 0))
    problems = [errors.describe(error) for error in in_row_order]
    if outcome is not None and outcome.message:
        problems.append(outcome.message)
    return [
        invoice.number,
        invoice.status.value,
        outcome.crm_id if outcome is not None else None,
        _line_count(invoice),
        invoice.total,
        outcome.crm_total if outcome is not None else None,
        invoice.currency,
        invoice.source_rows,
        join_messages(problems) or None,
    ]


def _invoice_cells(sheet: _FastSheet, status: Status, record: list[Any]) -> list[Any]:
    looks = {
        "status": Look(fill=STATUS_FILLS[status]),
        "total": Look(number_format=AMOUNT_FORMAT),
        "crm_total": Look(number_format=AMOUNT_FORMAT),
    }
    return [
        make_cell(sheet, value, looks.get(name, PLAIN))
        for name, value in zip(INVOICE_COLUMNS, record, strict=True)
    ]


def _line_count(invoice: Invoice) -> int:
    return len(invoice.rows) if invoice.rows else len(invoice.lines)


# --- Rows


@dataclass(frozen=True)
class RowFate:
    """What happened to one input row: its invoice's status, CRM ID and the words for its error cell."""

    status: Status
    crm_id: int | None
    error: str | None


def _write_rows_sheet(
    sheet: _FastSheet, validation: Validation, raw_headers: list[tuple[int, str]], errors: ErrorIndex
) -> None:
    raw = validation.table.raw
    headers = [header for _, header in raw_headers]
    columns = [raw.frame.iloc[:, position].tolist() for position, _ in raw_headers]
    fates = _row_fates(validation, errors)
    sample = [[fates[row].error for row in raw.row_numbers[:WIDTH_SAMPLE_ROWS]]]
    widths = estimate_widths(headers, columns)
    widths += [8.0, 10.0, 10.0, estimate_widths(["error"], sample)[0]]
    _prepare_table(sheet, widths, len(raw.row_numbers))
    sheet.append(_header_row(sheet, [*headers, *RESULT_COLUMNS], errors.column_messages()))
    for index, row in enumerate(raw.row_numbers):
        values = [column[index] for column in columns]
        sheet.append(_row_cells(sheet, headers, values, row, fates[row], errors))


def _row_cells(
    sheet: _FastSheet,
    headers: list[str],
    values: list[Any],
    row: int,
    fate: RowFate,
    errors: ErrorIndex,
) -> list[Any]:
    in_error = errors.cell_messages(row) if row in errors.by_row else {}
    cells = []
    for header, value in zip(headers, values, strict=True):
        messages = in_error.get(header)
        look = Look(fill=ERROR_FILL, comment="\n".join(messages)) if messages else PLAIN
        cells.append(make_cell(sheet, value, look))
    cells.append(row)
    cells.append(make_cell(sheet, fate.status.value, Look(fill=STATUS_FILLS[fate.status])))
    cells.append(fate.crm_id)
    cells.append(make_cell(sheet, fate.error))
    return cells


def _row_fates(validation: Validation, errors: ErrorIndex) -> dict[int, RowFate]:
    """The fate of every input row; rows of no invoice are invalid."""
    fates: dict[int, RowFate] = {}
    for invoice in validation.invoices:
        context = InvoiceContext.of(invoice, errors)
        for row in invoice.rows:
            fates[row] = context.fate(row, errors)
    for row in validation.table.raw.row_numbers:
        if row not in fates:
            own = [errors.describe(error, with_row=False) for error in errors.by_row.get(row, ())]
            fates[row] = RowFate(Status.INVALID, None, join_messages(own) or "this row belongs to no invoice")
    return fates


@dataclass(frozen=True)
class InvoiceContext:
    """What every row of one invoice says about the invoice, computed once per invoice."""

    status: Status
    crm_id: int | None
    whole: tuple[str, ...]  # errors of the whole invoice (no row)
    error_rows: tuple[int, ...]  # sorted rows with errors
    note: str  # the outcome's message

    @classmethod
    def of(cls, invoice: Invoice, errors: ErrorIndex) -> InvoiceContext:
        outcome = invoice.outcome
        return cls(
            status=invoice.status,
            crm_id=outcome.crm_id if outcome is not None else None,
            whole=tuple(errors.describe(error) for error in invoice.errors if error.row is None),
            error_rows=tuple(sorted({error.row for error in invoice.errors if error.row is not None})),
            note=outcome.message if outcome is not None else "",
        )

    def fate(self, row: int, errors: ErrorIndex) -> RowFate:
        own = [errors.describe(error, with_row=False) for error in errors.by_row.get(row, ())]
        parts = [*own, *self.whole]
        others = self._other_error_rows(row)
        if others:
            parts.append(f"the invoice has errors on row {others}")
        parts.append(self.note)
        return RowFate(self.status, self.crm_id, join_messages(parts) or None)

    def _other_error_rows(self, row: int) -> str:
        """The invoice's other rows in error, the first few listed (bounded work per row)."""
        count = len(self.error_rows) - (1 if _contains(self.error_rows, row) else 0)
        shown = [r for r in self.error_rows[: MAX_ROWS_LISTED + 1] if r != row][:MAX_ROWS_LISTED]
        listed = ", ".join(str(r) for r in shown)
        return f"{listed} and {count - len(shown)} more" if count > len(shown) else listed


def _contains(sorted_rows: tuple[int, ...], row: int) -> bool:
    index = bisect_left(sorted_rows, row)
    return index < len(sorted_rows) and sorted_rows[index] == row


# --- Summary


def _write_summary_sheet(sheet: _FastSheet, validation: Validation, run: RunInfo, errors: ErrorIndex) -> None:
    rows = list(_summary_rows(validation, run, errors))
    sheet.column_dimensions["A"].width = 34
    sheet.column_dimensions["B"].width = 66
    sheet.column_dimensions["C"].width = 16
    for label, value, look in rows:
        if look is _SECTION:
            sheet.append([make_cell(sheet, label, Look(font=_HEADER_FONT, fill=_HEADER_FILL))])
        else:
            sheet.append([make_cell(sheet, label), make_cell(sheet, value, look)])


_SECTION = Look(font=Font(bold=True))  # marker: a section title row


def _summary_rows(
    validation: Validation, run: RunInfo, errors: ErrorIndex
) -> Iterator[tuple[str, Any, Look]]:
    invoices = validation.invoices
    counts = summary_counts(invoices)
    yield "Invoices by status", None, _SECTION
    for status in Status:
        yield status.value, counts[status.value], Look(fill=STATUS_FILLS[status])
    yield "invoices", counts["invoices"], PLAIN
    yield "lines", counts["lines"], PLAIN
    yield "input rows", len(validation.table.raw.row_numbers), PLAIN
    yield "rows of no invoice (invalid)", _orphan_row_count(validation), PLAIN
    yield "", None, PLAIN
    yield "Totals per currency: created, skipped and planned invoices (CRM total where known)", None, _SECTION
    for currency, total in currency_totals(invoices).items():
        yield currency, total, Look(number_format=AMOUNT_FORMAT)
    yield "", None, PLAIN
    yield "Run", None, _SECTION
    yield from _run_rows(run)
    if validation.table.raw.sheet:
        yield "input sheet", validation.table.raw.sheet, PLAIN
    if errors.unplaced:
        yield "", None, PLAIN
        yield "Problems of the whole file", None, _SECTION
        for error in errors.unplaced:
            yield errors.label(error.column) or "file", error.message, PLAIN


def _run_rows(run: RunInfo) -> Iterator[tuple[str, Any, Look]]:
    yield "input file", run.source.name, PLAIN
    yield "input path", str(run.source), PLAIN
    yield "input SHA-256", run.sha256, PLAIN
    yield "CRM URL", run.crm_url or "(none: offline)", PLAIN
    yield "invoice-import version", run.version, PLAIN
    yield "started", _moment(run.started), PLAIN
    yield "ended", _moment(run.ended) if run.ended else "(not finished)", PLAIN
    yield "duration", _duration(run.started, run.ended), PLAIN
    yield "dry run", "yes" if run.dry_run else "no", PLAIN
    for key, value in run.extra.items():
        yield str(key), value if isinstance(value, str | int | float | Decimal) else str(value), PLAIN


def currency_totals(invoices: Iterable[Invoice]) -> dict[str, Decimal]:
    """Sum per currency of created, skipped and planned invoices: the CRM's total, else the computed one."""
    totals: dict[str, Decimal] = {}
    for invoice in invoices:
        if invoice.status not in TOTALLED_STATUSES:
            continue
        outcome = invoice.outcome
        amount = outcome.crm_total if outcome is not None and outcome.crm_total is not None else invoice.total
        if amount is None:
            continue
        currency = invoice.currency or "(no currency)"
        totals[currency] = totals.get(currency, Decimal(0)) + amount
    return dict(sorted(totals.items()))


def _orphan_row_count(validation: Validation) -> int:
    grouped = {row for invoice in validation.invoices for row in invoice.rows}
    return sum(1 for row in validation.table.raw.row_numbers if row not in grouped)


def _moment(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")


def _duration(started: datetime, ended: datetime | None) -> str:
    if ended is None:
        return ""
    seconds = max(0, round((ended - started).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


# ---------------------------------------------------------------------------------------------- saving


def _same_file(path: Path, source: Path) -> bool:
    try:
        return path.resolve() == Path(source).resolve()
    except OSError:
        return False


def _save_atomically(workbook: Workbook, path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")  # same folder: atomic replace
    try:
        workbook.save(temporary)
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
