"""The results workbook: Invoices, Rows and Summary sheets (product.md, "The results workbook").

It reads only the :class:`~importer.models.ImportReport` of a command and the :class:`RunInfo` of the run.
Written with XlsxWriter, to a temporary file beside the target that replaces it only once complete
(importer.files.save_atomically). A workbook of up to :data:`IN_MEMORY_ROWS` rows is assembled in memory
(about a fifth faster than row by row: no temporary files); a larger one in ``constant_memory`` mode (each row
goes to disk when the next one begins: bounded memory at any size). XlsxWriter rather than openpyxl's
write-only mode because it writes the same workbook in about half the time (benchmarks/bench_results.py).

Nothing read from the input is ever written as a formula: every text value goes through ``write_string``
(an inline string), and text a spreadsheet would take for a formula or an error value (``=``, ``+``, ``-``,
``@``, tab, carriage return; ``#N/A`` ...) also gets the "quote prefix" style, so editing the cell in Excel
keeps it text. XlsxWriter writes a text of the form ``<r>...</r>`` as ready-made rich-text XML, unescaped;
such text is written as a rich string of plain runs instead (:meth:`_Sheet.text`), escaped like any other.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from importer.columns import BY_NAME, INVOICE_KEY, Kind
from importer.errors import ResultsPathError
from importer.files import save_atomically
from importer.models import (
    CellError,
    ImportReport,
    Invoice,
    Outcome,
    RunInfo,
    Status,
    UndoReport,
    UndoStatus,
)
from importer.results_layout import (
    INVOICE_COLUMNS,
    INVOICE_HEADERS,
    INVOICES_SHEET,
    RESULT_COLUMNS,
    ROWS_SHEET,
    SUMMARY_SHEET,
    result_positions,
)

LEFT_OUT = "a totals row, not an invoice: not imported"
TOTALLED_STATUSES: tuple[Status, ...] = (
    Status.CREATED,
    Status.SKIPPED,
    Status.PLANNED,
    Status.UPDATED,
    Status.INCOMPLETE,
)

AMOUNT_FORMAT = "#,##0.00"
MAX_CELL_TEXT = 32_767  # Excel's limit for one cell
IN_MEMORY_ROWS = 50_000  # rows of the Rows and Invoices sheets up to which the workbook is built in memory
MIN_WIDTH, MAX_WIDTH = 8, 60
ERROR_WIDTH = 60  # the error columns: longer messages wrap within it
LINE_HEIGHT, MAX_LINES = 15, 12  # points per line of wrapped text; a row is at most this many lines high
WIDTH_SAMPLE_ROWS = 500  # column widths are estimated from the first rows only (bounded work)
MAX_ROWS_LISTED = 10
COMMENT_AUTHOR = "invoice-import"
COMMENT_SIZE = {"width": 300, "height": 120}  # pixels

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")  # + lone surrogates
_ERROR_LITERALS = frozenset(
    {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#SPILL!", "#CALC!", "#FIELD!"}
    | {"#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!", "#EXTERNAL!", "#GETTING_DATA"}
)
_SPECIAL_STARTS = (*FORMULA_PREFIXES, "<r>")  # text that needs more than write_string (see _Sheet.text)

# Fill colours (RGB)
HEADER_FILL = "D9E1F2"
ERROR_FILL = "FF9999"
STATUS_FILLS: dict[Status, str] = {
    Status.CREATED: "C6EFCE",  # green
    Status.SKIPPED: "E2EFDA",  # light green
    Status.EXISTS: "F8CBAD",  # orange
    Status.INVALID: "FFC7CE",  # red
    Status.FAILED: "FF7C80",  # strong red
    Status.PENDING: "D9D9D9",  # grey
    Status.PLANNED: "DDEBF7",  # blue
    Status.CHANGED: "FFE699",  # amber
    Status.UPDATED: "A9D08E",  # deeper green
    Status.INCOMPLETE: "FFD966",  # yellow: a re-run completes it
}
UNDO_FILLS: dict[UndoStatus, str] = {
    UndoStatus.DELETED: "C6EFCE",  # green: done
    UndoStatus.GONE: "E2EFDA",  # light green: someone else did it
    UndoStatus.KEPT: "FFE699",  # amber: look at it
    UndoStatus.PLANNED: "DDEBF7",  # blue
    UndoStatus.PENDING: "D9D9D9",  # grey
}
# The number format of a date or time value without a format of its own (as openpyxl gives them).
TIME_FORMATS: dict[type, str] = {
    datetime: "yyyy-mm-dd h:mm:ss",
    date: "yyyy-mm-dd",
    time: "h:mm:ss",
    timedelta: "[hh]:mm:ss",
}


# ---------------------------------------------------------------------------------------------- public API


RESULTS, DRY_RUN, CHECK = "results", "dry-run", "check"  # the kinds of results workbook (default names)
_RESULTS_STEM = re.compile(r"(?P<base>.+)\.results(?:-(?P<round>[0-9]+))?", re.IGNORECASE)


def default_results_path(source: Path, kind: str = RESULTS) -> Path:
    """The default results workbook beside ``source``: ``<stem>.<kind>.xlsx``, so that a dry run
    (``march.dry-run.xlsx``) and an offline check (``march.check.xlsx``) never replace a real run's
    workbook (``march.results.xlsx``).

    Only an ``.xlsx`` input gives its bare stem; any other keeps its format in the name
    (``march.ods`` -> ``march.ods.results.xlsx``, ``march.csv`` -> ``march.csv.results.xlsx``), so that
    inputs of the same stem in different formats never replace each other's results.

    A results workbook fed back (``march.results.xlsx``, after fixing its red cells) gets the next round's
    name, ``march.results-2.xlsx`` (then ``-3`` ...): never its own input (check_results_path refuses
    that), never a stacked ``.results.results``, and the earlier round's workbook is kept.
    """
    source = Path(source)
    stem, suffix = source.stem, source.suffix.lower()
    if suffix != ".xlsx":
        stem = f"{stem}{suffix}" if suffix else stem
    elif kind == RESULTS and (match := _RESULTS_STEM.fullmatch(stem)):
        round_ = int(match["round"] or 1) + 1
        return source.with_name(f"{match['base']}.results-{round_}.xlsx")
    return source.with_name(f"{stem}.{kind}.xlsx")


def summary_counts(report: ImportReport) -> dict[str, int]:
    """The ``--json`` summary counts: one per status, then ``invoices`` and ``lines``."""
    counts = {status.value: 0 for status in Status}
    for invoice in report.invoices:
        counts[report.status(invoice).value] += 1
    counts["invoices"] = len(report.invoices)
    counts["lines"] = sum(_line_count(invoice) for invoice in report.invoices)
    return counts


def write_results(path: Path, report: ImportReport, run: RunInfo) -> Path:
    """Write the results workbook atomically to ``path`` (parent folders created); return ``path``.

    Refuses (ResultsPathError) to overwrite the input file itself.
    """
    path = Path(path)
    check_results_path(path, run.source)
    path.parent.mkdir(parents=True, exist_ok=True)
    return save_atomically(path, lambda temporary: _write_workbook(temporary, report, run))


def check_results_path(path: Path, source: Path) -> None:
    """Raise ResultsPathError when the results workbook would replace the input file (call it before
    posting)."""
    if _same_file(Path(path), Path(source)):
        raise ResultsPathError(
            f"{path}: the results workbook would overwrite the input file; choose another --results path."
        )


def all_errors(report: ImportReport) -> list[CellError]:
    """Every error of the report, in its order, each once."""
    return list(dict.fromkeys(report.errors))


def describe_error(error: CellError, headers: Mapping[str, str], *, with_row: bool = True) -> str:
    """'row N, Header: message' (or 'row N, Header (H2): message' for a workbook cell), naming the column by
    its header in the user's file where it has one."""
    where = []
    if with_row and error.row is not None:
        where.append(f"row {error.row}")
    if error.column is not None:
        header = headers.get(error.column, error.column)
        where.append(f"{header} ({error.cell})" if error.cell else header)
    return f"{', '.join(where)}: {error.message}" if where else error.message


def currency_totals(report: ImportReport) -> dict[str, Decimal]:
    """Sum per currency of created, skipped and planned invoices: the CRM's total, else the computed one."""
    totals: dict[str, Decimal] = {}
    for invoice in report.invoices:
        if report.status(invoice) not in TOTALLED_STATUSES:
            continue
        outcome = report.outcome(invoice)
        crm_total = outcome.crm_total if outcome is not None else None
        amount = crm_total if crm_total is not None else report.total(invoice)
        if amount is None:
            continue
        currency = invoice.currency or "(no currency)"
        totals[currency] = totals.get(currency, Decimal(0)) + amount
    return dict(sorted(totals.items()))


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


def plain_value(value: Any) -> Any:
    """A value a cell can hold: None for blanks (None, NaN, NaT), native Python scalars, clean text."""
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


def _is_rich_lookalike(text: str) -> bool:
    """Text XlsxWriter would write as raw rich-text XML (see the module's docstring)."""
    return text.startswith("<r>") and text.endswith("</r>")


@dataclass(frozen=True)
class Look:
    """How a cell looks beyond its value."""

    fill: str | None = None  # RGB
    number_format: str | None = None
    bold: bool = False
    comment: str | None = None
    wrap: bool = False  # long text wraps within the column's width
    left: bool = False  # aligned left, numbers too (the Summary's values, beside their labels)


PLAIN = Look()
HEADER = Look(fill=HEADER_FILL, bold=True)
SECTION = Look(fill=HEADER_FILL, bold=True)  # a section title of the Summary sheet
NOTE = Look(wrap=False)  # a note of the Summary sheet: a sentence on its own row
AMOUNT = Look(number_format=AMOUNT_FORMAT)
WRAPPED = Look(wrap=True)
STATUS_LOOKS: dict[Status, Look] = {status: Look(fill=fill) for status, fill in STATUS_FILLS.items()}


# ---------------------------------------------------------------------------------------------- writer


class _Sheet:
    """One worksheet, written a row at a time in order; the workbook's formats made once per look."""

    def __init__(self, book: xlsxwriter.Workbook, title: str, formats: dict[tuple[Any, ...], Format]) -> None:
        self.sheet: Worksheet = book.add_worksheet(title)
        self._book = book
        self._formats = formats  # shared by the sheets of the workbook
        self.rows = 0  # rows written so far

    def table(self, widths: Sequence[float], rows: int, frozen_columns: int = 0) -> None:
        """Column widths, the header row and ``frozen_columns`` columns frozen, autofilter over the header
        and ``rows`` rows; printed landscape, as wide as one page, the header on every page."""
        self.widths(widths)
        self.sheet.freeze_panes(1, frozen_columns)
        if widths:
            self.sheet.autofilter(0, 0, max(rows, 1), len(widths) - 1)
        self.sheet.set_landscape()
        self.sheet.fit_to_pages(1, 0)
        self.sheet.repeat_rows(0)

    def widths(self, widths: Sequence[float]) -> None:
        """Each column's width as stored in the file (Excel shows 0.71 less: its padding). XlsxWriter adds
        that padding to a width in characters, so the width is given in pixels (7 per character)."""
        for column, width in enumerate(widths):
            self.sheet.set_column_pixels(column, column, round(width * 7))

    def append(self, values: Sequence[Any], looks: Mapping[int, Look] | None = None, lines: int = 1) -> None:
        """Write the next row: ``values`` from column A, ``looks`` by column index (default :data:`PLAIN`),
        ``lines`` of text high (a spreadsheet does not grow a row to fit the wrapped text of a program)."""
        row = self.rows
        self.rows += 1
        if lines > 1:
            self.sheet.set_row(row, LINE_HEIGHT * min(lines, MAX_LINES))
        write_string = self.sheet.write_string
        for column, value in enumerate(values):
            look = looks.get(column, PLAIN) if looks else PLAIN
            if type(value) is str and look is PLAIN:  # the most common cell by far: plain text
                text = clean_text(value)
                if text and not text.startswith(_SPECIAL_STARTS) and text not in _ERROR_LITERALS:
                    write_string(row, column, text)
                else:
                    self.text(row, column, text, PLAIN)
            else:
                self.cell(row, column, value, look)

    def cell(self, row: int, column: int, value: Any, look: Look) -> None:
        value = plain_value(value)
        if look.comment:
            self.sheet.write_comment(
                row, column, clean_text(look.comment), {"author": COMMENT_AUTHOR, **COMMENT_SIZE}
            )
        if isinstance(value, str):
            self.text(row, column, value, look)
        elif value is None:
            if look is not PLAIN:
                self.sheet.write_blank(row, column, None, self._format(look))
        elif isinstance(value, bool):
            self.sheet.write_boolean(row, column, value, self._format(look))
        elif isinstance(value, int | float | Decimal):
            if isinstance(value, float) and math.isinf(value):  # no number in a cell: as text
                self.text(row, column, str(value), look)
            else:
                self.sheet.write_number(row, column, float(value), self._format(look))
        elif isinstance(value, datetime | date | time | timedelta):
            number_format = look.number_format or TIME_FORMATS[type(value)]
            fmt = self._format(Look(look.fill, number_format, look.bold, wrap=look.wrap, left=look.left))
            self.sheet.write_datetime(row, column, value, fmt)
        else:  # plain_value returns nothing else
            raise TypeError(f"cannot write {type(value).__name__} to a cell")

    def text(self, row: int, column: int, text: str, look: Look) -> None:
        """Clean ``text`` as text, never a formula: with the quote prefix when it looks like one."""
        quoted = text.startswith(FORMULA_PREFIXES) or text in _ERROR_LITERALS
        fmt = self._format(look, quoted) if quoted or look is not PLAIN else None
        if not text:
            if fmt is not None:
                self.sheet.write_blank(row, column, None, fmt)
        elif _is_rich_lookalike(text):
            parts: list[Any] = [text[:1], text[1:2], text[2:]]  # plain runs, escaped
            self.sheet.write_rich_string(row, column, *parts, *([fmt] if fmt is not None else []))
        else:
            self.sheet.write_string(row, column, text, fmt)

    def _format(self, look: Look, quoted: bool = False) -> Format | None:
        key = (look.fill, look.number_format, look.bold, look.wrap, look.left, quoted)
        if key == (None, None, False, False, False, False):
            return None
        fmt = self._formats.get(key)
        if fmt is None:
            properties: dict[str, Any] = {}
            if look.fill is not None:
                properties |= {"pattern": 1, "bg_color": f"#{look.fill}"}
            if look.number_format is not None:
                properties["num_format"] = look.number_format
            if look.bold:
                properties["bold"] = True
            if look.wrap:
                properties["text_wrap"] = True
            if look.left:
                properties["align"] = "left"
            if quoted:
                properties["quote_prefix"] = True
            fmt = self._formats[key] = self._book.add_format(properties)
        return fmt


def _write_workbook(path: Path, report: ImportReport, run: RunInfo) -> None:
    headers = _input_headers(report)
    errors = ErrorIndex.build(report, (header for _, header in headers))
    formats: dict[tuple[Any, ...], Format] = {}
    rows = len(report.table.raw.row_numbers) + len(report.invoices)
    # constant_memory writes each sheet's rows to a temporary file until close(), which the with closes
    options = {"in_memory": True} if rows <= IN_MEMORY_ROWS else {"constant_memory": True}
    with xlsxwriter.Workbook(str(path), options) as book:
        _write_invoices_sheet(_Sheet(book, INVOICES_SHEET, formats), report, errors)
        _write_rows_sheet(_Sheet(book, ROWS_SHEET, formats), report, headers, errors)
        _write_summary_sheet(_Sheet(book, SUMMARY_SHEET, formats), report, run, errors)


def _input_headers(report: ImportReport) -> list[tuple[int, str]]:
    """(position in the raw frame, header text) of the input columns, without stale result columns."""
    headers = [str(header) for header in report.table.raw.frame.columns]
    stale = result_positions(headers)
    return [(position, header) for position, header in enumerate(headers) if position not in stale]


def _header_row(sheet: _Sheet, headers: Sequence[str], comments: Mapping[str, list[str]]) -> None:
    looks = {}
    for column, header in enumerate(headers):
        problems = comments.get(header)
        looks[column] = Look(fill=ERROR_FILL, bold=True, comment="\n".join(problems)) if problems else HEADER
    sheet.append(headers, looks)


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


def wrapped_lines(text: str | None, width: float) -> int:
    """About how many lines ``text`` takes wrapped in a column ``width`` characters wide."""
    if not text:
        return 1
    per_line = max(int(width * 1.15), 1)  # a column holds about this many characters of an average text
    return sum(max(1, -(-len(part) // per_line)) for part in text.split("\n"))


def join_messages(parts: Iterable[str]) -> str:
    return "; ".join(part for part in dict.fromkeys(parts) if part)


# ---------------------------------------------------------------------------------------------- errors


@dataclass
class ErrorIndex:
    """Every error of the report, located: by row, and those of no row."""

    headers: dict[str, str]
    present: frozenset[str]  # header texts present in the Rows sheet
    by_row: dict[int, list[CellError]] = field(default_factory=dict)
    unplaced: list[CellError] = field(default_factory=list)  # no row

    @classmethod
    def build(cls, report: ImportReport, present: Iterable[str]) -> ErrorIndex:
        index = cls(dict(report.table.headers), frozenset(present))
        for error in all_errors(report):
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


# ---------------------------------------------------------------------------------------------- Invoices


def _write_invoices_sheet(sheet: _Sheet, report: ImportReport, errors: ErrorIndex) -> None:
    """One row per invoice under readable headers, frozen on the invoice number."""
    records = [_invoice_record(invoice, report, errors) for invoice in report.invoices]
    columns = [[record[i] for record in records] for i in range(len(INVOICE_COLUMNS))]
    headers = [INVOICE_HEADERS[name] for name in INVOICE_COLUMNS]
    widths = estimate_widths(headers, columns)
    error = INVOICE_COLUMNS.index("error")
    widths[error] = min(widths[error], ERROR_WIDTH)
    sheet.table(widths, len(records), frozen_columns=INVOICE_COLUMNS.index("invoice_number") + 1)
    _header_row(sheet, headers, {})
    status, total, crm_total = (INVOICE_COLUMNS.index(name) for name in ("status", "total", "crm_total"))
    for invoice, record in zip(report.invoices, records, strict=True):
        looks = {status: STATUS_LOOKS[report.status(invoice)], total: AMOUNT, crm_total: AMOUNT}
        if record[error]:
            looks[error] = WRAPPED
        sheet.append(record, looks, wrapped_lines(record[error], widths[error]))


def _invoice_record(invoice: Invoice, report: ImportReport, errors: ErrorIndex) -> list[Any]:
    outcome = report.outcome(invoice)
    problems = [errors.describe(error) for error in _in_row_order(report.errors_of(invoice))]
    if outcome is not None and outcome.message:
        problems.append(outcome.message)
    return [
        invoice.number,
        report.status(invoice).value,
        outcome.crm_id if outcome is not None else None,
        _crm_status(outcome),
        _line_count(invoice),
        report.total(invoice),
        outcome.crm_total if outcome is not None else None,
        invoice.currency,
        invoice.source_rows,
        join_messages(problems) or None,
    ]


def _crm_status(outcome: Outcome | None) -> str | None:
    """The status the CRM has the invoice at, in words (``Paid``), where known."""
    return outcome.crm_status.title if outcome is not None and outcome.crm_status is not None else None


def _in_row_order(errors: Iterable[CellError]) -> list[CellError]:
    return sorted(errors, key=lambda error: (error.row is not None, error.row or 0))


def _line_count(invoice: Invoice) -> int:
    return len(invoice.rows) if invoice.rows else len(invoice.lines)


# ---------------------------------------------------------------------------------------------- Rows


@dataclass(frozen=True)
class RowFate:
    """What happened to one input row: its invoice's status (None: a row left out on purpose, such as a
    totals row), CRM ID and the words for its error cell."""

    status: Status | None
    crm_id: int | None
    error: str | None
    crm_status: str | None = None


def _write_rows_sheet(
    sheet: _Sheet, report: ImportReport, input_headers: list[tuple[int, str]], errors: ErrorIndex
) -> None:
    """The result columns (row, import_status, crm_id, crm_status, import_error) first, then the input
    columns as read, the panes frozen on the invoice number; a number column's valid cells as numbers
    (amounts with two decimals), whatever the input wrote (``1.234,50``, ``$19.99``), every other cell
    as read."""
    raw = report.table.raw
    headers = [header for _, header in input_headers]
    columns = [raw.frame.iloc[:, position].tolist() for position, _ in input_headers]
    fates = _row_fates(report, errors)
    sample = [[fates[row].error for row in raw.row_numbers[:WIDTH_SAMPLE_ROWS]]]
    first = len(RESULT_COLUMNS)  # the first input column
    numbers = _typed_numbers(report, headers)  # input column index -> (row -> number, look)
    widths = [8.0, 13.0, 10.0, 11.0, min(estimate_widths(["import_error"], sample)[0], ERROR_WIDTH)]
    widths += estimate_widths(headers, columns)
    for position in numbers:
        widths[first + position] = max(widths[first + position], 12.0)
    number_header = report.table.headers.get(INVOICE_KEY)
    frozen = first + (headers.index(number_header) + 1 if number_header in headers else 0)
    sheet.table(widths, len(raw.row_numbers), frozen_columns=frozen)
    _header_row(sheet, [*RESULT_COLUMNS, *headers], errors.column_messages())
    status, error = RESULT_COLUMNS.index("import_status"), RESULT_COLUMNS.index("import_error")
    positions: dict[str, list[int]] = {}  # header -> its columns in the sheet (a header may repeat)
    for position, header in enumerate(headers):
        positions.setdefault(header, []).append(first + position)
    for index, row in enumerate(raw.row_numbers):
        fate = fates[row]
        values = [
            row,
            "" if fate.status is None else fate.status.value,
            fate.crm_id,
            fate.crm_status,
            fate.error,
            *(column[index] for column in columns),
        ]
        looks = {} if fate.status is None else {status: STATUS_LOOKS[fate.status]}
        lines = 1
        if fate.error:
            looks[error] = WRAPPED
            lines = wrapped_lines(fate.error, widths[error])
        for position, (typed, look) in numbers.items():
            number = typed.get(row)
            if number is not None and plain_value(values[first + position]) not in (None, ""):
                values[first + position] = number
                looks[first + position] = look
        if row in errors.by_row:  # a cell in error shows what it held (as read), in red
            for header, messages in errors.cell_messages(row).items():
                look = Look(fill=ERROR_FILL, comment="\n".join(messages))
                for column in positions[header]:
                    values[column] = columns[column - first][index]
                    looks[column] = look
        sheet.append(values, looks, lines)


def _typed_numbers(report: ImportReport, headers: Sequence[str]) -> dict[int, tuple[dict[int, Any], Look]]:
    """For each input column of a number kind: its typed value by row (from the invoices' lines and
    values), and how it is shown (amounts with two decimals)."""
    canonical = {header: name for name, header in report.table.headers.items()}
    wanted: dict[int, str] = {}
    for position, header in enumerate(headers):
        name = canonical.get(header)
        if name is not None and name in BY_NAME and BY_NAME[name].kind is Kind.NUMBER:
            wanted[position] = name
    numbers: dict[int, tuple[dict[int, Any], Look]] = {}
    for position, name in wanted.items():
        column = BY_NAME[name]
        typed: dict[int, Any] = {}
        for invoice in report.invoices:
            if column.invoice_level:
                value = invoice.values.get(name)
                if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
                    typed.update(dict.fromkeys(invoice.rows, value))
            else:
                for line in invoice.lines:
                    value = line.values.get(name)
                    if isinstance(value, Decimal | int | float) and not isinstance(value, bool):
                        typed[line.row] = value
        look = AMOUNT if column.cell_format == AMOUNT_FORMAT else PLAIN
        numbers[position] = (typed, look)
    return numbers


def _row_fates(report: ImportReport, errors: ErrorIndex) -> dict[int, RowFate]:
    """The fate of every input row; rows of no invoice are invalid."""
    fates: dict[int, RowFate] = {}
    for invoice in report.invoices:
        context = InvoiceContext.of(invoice, report)
        for row in invoice.rows:
            fates[row] = context.fate(row, errors)
    for row in report.left_out:
        fates[row] = RowFate(None, None, LEFT_OUT)
    for row in report.table.raw.row_numbers:
        if row not in fates:
            own = [errors.describe(error, with_row=False) for error in errors.by_row.get(row, ())]
            fates[row] = RowFate(Status.INVALID, None, join_messages(own) or "this row belongs to no invoice")
    return fates


@dataclass(frozen=True)
class InvoiceContext:
    """What every row of one invoice says about the invoice, computed once per invoice."""

    status: Status
    crm_id: int | None
    error_rows: tuple[int, ...]  # sorted rows with errors
    note: str  # the outcome's message
    crm_status: str | None = None

    @classmethod
    def of(cls, invoice: Invoice, report: ImportReport) -> InvoiceContext:
        outcome = report.outcome(invoice)
        return cls(
            status=report.status(invoice),
            crm_id=outcome.crm_id if outcome is not None else None,
            error_rows=tuple(sorted({e.row for e in report.errors_of(invoice) if e.row is not None})),
            note=outcome.message if outcome is not None else "",
            crm_status=_crm_status(outcome),
        )

    def fate(self, row: int, errors: ErrorIndex) -> RowFate:
        own = [errors.describe(error, with_row=False) for error in errors.by_row.get(row, ())]
        parts = list(own)
        others = self._other_error_rows(row)
        if others:
            parts.append(f"the invoice has errors on row {others}")
        parts.append(self.note)
        return RowFate(self.status, self.crm_id, join_messages(parts) or None, self.crm_status)

    def _other_error_rows(self, row: int) -> str:
        """The invoice's other rows in error, the first few listed (bounded work per row)."""
        count = len(self.error_rows) - (1 if _contains(self.error_rows, row) else 0)
        shown = [r for r in self.error_rows[: MAX_ROWS_LISTED + 1] if r != row][:MAX_ROWS_LISTED]
        listed = ", ".join(str(r) for r in shown)
        return f"{listed} and {count - len(shown)} more" if count > len(shown) else listed


def _contains(sorted_rows: tuple[int, ...], row: int) -> bool:
    index = bisect_left(sorted_rows, row)
    return index < len(sorted_rows) and sorted_rows[index] == row


# ---------------------------------------------------------------------------------------------- Summary


def _write_summary_sheet(sheet: _Sheet, report: ImportReport, run: RunInfo, errors: ErrorIndex) -> None:
    """Label in A, its value just beside it in B (aligned left, a longer text runs on to the right)."""
    sheet.widths([30, 16, 60])
    sheet.sheet.set_landscape()
    sheet.sheet.fit_to_pages(1, 0)
    for label, value, look in _summary_rows(report, run, errors):
        if look is SECTION or look is NOTE:
            sheet.append([label], {0: look})
        else:
            beside = replace(look, left=True)
            sheet.append([label, value], {0: Look(fill=look.fill), 1: beside} if look.fill else {1: beside})


def _summary_rows(report: ImportReport, run: RunInfo, errors: ErrorIndex) -> Iterator[tuple[str, Any, Look]]:
    counts = summary_counts(report)
    yield "Invoices by status", None, SECTION
    for status in Status:
        yield status.value, counts[status.value], STATUS_LOOKS[status]
    yield "invoices", counts["invoices"], PLAIN
    yield "lines", counts["lines"], PLAIN
    yield "input rows", len(report.table.raw.row_numbers), PLAIN
    yield "rows of no invoice (invalid)", _orphan_row_count(report), PLAIN
    if report.left_out:
        yield "totals rows (not imported)", len(report.left_out), PLAIN
    yield "", None, PLAIN
    yield "Totals per currency: created, skipped and planned invoices (CRM total where known)", None, SECTION
    for currency, total in currency_totals(report).items():
        yield currency, total, AMOUNT
    yield "", None, PLAIN
    yield "Run", None, SECTION
    yield from _run_rows(run)
    if report.table.raw.sheet:
        yield "input sheet", report.table.raw.sheet, PLAIN
    if report.notes:
        yield "", None, PLAIN
        yield "Notes", None, SECTION
        for note in report.notes:
            yield note, None, NOTE
    if errors.unplaced:
        yield "", None, PLAIN
        yield "Problems of the whole file", None, SECTION
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


def _orphan_row_count(report: ImportReport) -> int:
    grouped = {row for invoice in report.invoices for row in invoice.rows} | set(report.left_out)
    return sum(1 for row in report.table.raw.row_numbers if row not in grouped)


def _moment(moment: datetime) -> str:
    return moment.isoformat(sep=" ", timespec="seconds")


def _duration(started: datetime, ended: datetime | None) -> str:
    if ended is None:
        return ""
    seconds = max(0, round((ended - started).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def _same_file(path: Path, source: Path) -> bool:
    try:
        return path.resolve() == Path(source).resolve()
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------- undo

UNDO_COLUMNS: tuple[str, ...] = (
    "Invoice number",
    "Undo",
    "CRM ID",
    "CRM status",
    "CRM total",
    "Run",
    "Reason",
)


def default_undo_path(run_ids: Sequence[str], folder: Path | None = None) -> Path:
    """``undo-<run ID>.results.xlsx`` (the first run's, ``+N`` for more) in ``folder`` (default: here)."""
    name = run_ids[0] if run_ids else "nothing"
    more = f"+{len(run_ids) - 1}" if len(run_ids) > 1 else ""
    return (folder or Path.cwd()) / f"undo-{name}{more}.results.xlsx"


def write_undo_results(path: Path, report: UndoReport) -> Path:
    """The results workbook of an undo, written atomically: an Invoices sheet (one row per invoice of the
    runs undone: deleted, kept with the reason, gone, planned or pending) and a Summary sheet."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_atomically(path, lambda temporary: _write_undo_workbook(temporary, report))
    return path


def _write_undo_workbook(path: Path, report: UndoReport) -> None:
    formats: dict[tuple[Any, ...], Format] = {}
    looks = {status: Look(fill=fill) for status, fill in UNDO_FILLS.items()}
    with xlsxwriter.Workbook(str(path), {"constant_memory": True}) as book:
        sheet = _Sheet(book, INVOICES_SHEET, formats)
        records = [
            [
                item.number,
                item.status.value,
                item.crm_id,
                item.crm_status.title if item.crm_status is not None else None,
                item.crm_total,
                item.run_id,
                item.reason or None,
            ]
            for item in report.items
        ]
        widths = estimate_widths(UNDO_COLUMNS, [[r[i] for r in records] for i in range(len(UNDO_COLUMNS))])
        widths[-1] = min(widths[-1], ERROR_WIDTH)
        sheet.table(widths, len(records), frozen_columns=1)
        _header_row(sheet, UNDO_COLUMNS, {})
        for item, record in zip(report.items, records, strict=True):
            row_looks = {1: looks[item.status], 4: AMOUNT}
            if record[-1]:
                row_looks[len(record) - 1] = WRAPPED
            sheet.append(record, row_looks, wrapped_lines(item.reason or None, widths[-1]))
        summary = _Sheet(book, SUMMARY_SHEET, formats)
        summary.widths([30, 16, 60])
        counts = report.counts()
        summary.append(["Invoices by result"], {0: SECTION})
        for status in UndoStatus:
            summary.append(
                [status.value, counts[status.value]], {0: looks[status], 1: replace(PLAIN, left=True)}
            )
        summary.append(["invoices", counts["invoices"]], {1: replace(PLAIN, left=True)})
        summary.append([""])
        summary.append(["Undo", None], {0: SECTION})
        rows: list[tuple[str, Any]] = [
            ("runs undone", ", ".join(report.run_ids)),
            ("undo run ID", report.undo_run_id or "(none: nothing was deleted)"),
            ("CRM URL", report.crm_url),
            ("invoice-import version", report.version),
            ("started", _moment(report.started)),
            ("ended", _moment(report.ended) if report.ended else "(not finished)"),
            ("duration", _duration(report.started, report.ended)),
            ("dry run", "yes" if report.dry_run else "no"),
        ]
        for label, value in rows:
            summary.append([label, value], {1: replace(PLAIN, left=True)})
