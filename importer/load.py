"""Stage 1: read a spreadsheet file into a :class:`RawTable`.

CSV goes through pandas' C parser with every value read as text; workbooks (.xlsx, .xlsm, .xls, .ods)
through python-calamine. Before a workbook is opened its bytes are sniffed and, for zip-based
formats, the zip directory and XML parts are checked so that hostile files (zip bombs, XML entity
expansion, sparse-cell memory bombs) are refused without using much memory. Every problem with the
file itself is an :class:`InputFileError` whose message names the file and says what to do.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import html
import io
import operator
import os
import re
import sys
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np
import pandas as pd
import python_calamine

from importer.columns import alias_index, normalize_header
from importer.errors import InputFileError
from importer.models import CellFault, Coded, FormatOptions, RawTable, objects
from importer.results_layout import RESULTS_SHEETS, ROWS_SHEET, result_positions

CSV_EXTENSIONS = (".csv", ".txt", ".tsv")
WORKBOOK_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods")
SUPPORTED = ", ".join((".csv", *WORKBOOK_EXTENSIONS))

MAX_CELL_CHARS = 32_767  # Excel's own limit for one cell
MAX_ZIP_TOTAL = 500 * 1024 * 1024  # uncompressed bytes of all members together
MAX_ZIP_RATIO = 200  # uncompressed / compressed, checked on members bigger than BIG_MEMBER
BIG_MEMBER = 10 * 1024 * 1024
MAX_ZIP_MEMBERS = 10_000
MAX_SHEET_CELLS = 10_000_000  # calamine holds the whole used range densely in memory
CSV_DELIMITERS = (",", ";", "\t", "|")

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_CHUNK = 1024 * 1024
DEFAULT_FORMAT = FormatOptions()  # frozen, so safe as a default


# ---------------------------------------------------------------------------------------------- public


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's bytes, as lowercase hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_table(path: Path, *, sheet: str | None = None, fmt: FormatOptions = DEFAULT_FORMAT) -> RawTable:
    """Read ``path`` (CSV or workbook) into a RawTable; InputFileError when it cannot be read as a table."""
    path = Path(path)
    _check_readable(path)
    # Two threads (hashing and coding columns release the GIL): the file's hash overlaps the parsing, and
    # two columns are coded at once.
    with ThreadPoolExecutor(max_workers=2) as pool:
        digest = pool.submit(sha256_file, path)
        table = _read_table(path, sheet, fmt, pool)
        return RawTable(
            frame=table.frame,
            row_numbers=table.row_numbers,
            source=path,
            sheet=table.sheet,
            sha256=digest.result(),
            coded=table.coded,
            faults=table.faults,
            header_row=table.header_row,
            notes=table.notes,
        )


class _Table(NamedTuple):
    frame: pd.DataFrame
    coded: dict[str, Coded]
    row_numbers: list[int]
    sheet: str | None
    faults: dict[str, dict[int, CellFault]]
    header_row: int
    notes: tuple[str, ...]


def _read_table(path: Path, sheet: str | None, fmt: FormatOptions, pool: ThreadPoolExecutor) -> _Table:
    ext = path.suffix.lower()
    head = _read_head(path)
    elsewhere = ""  # where else the data may be, for an empty table
    faults: dict[tuple[int, int], CellFault] = {}  # by (row number, column position)
    if ext in CSV_EXTENSIONS:
        _refuse_binary_as_text(path, head)
        cells, numbers = _read_csv(path, fmt)
        texts = [cells[position].to_numpy(dtype=object) for position in cells]
        columns: dict[Any, _Column] = dict(zip(cells.columns, pool.map(_text_column, texts), strict=True))
        table_sheet = None
    elif ext in WORKBOOK_EXTENSIONS:
        cells, numbers, table_sheet, others, faults = _read_workbook(path, head, sheet)
        columns = {position: _cell_column(cells[position].tolist()) for position in cells}
        if sheet is None and others:
            elsewhere = f", or name the sheet with the invoices with --sheet (the others: {_names(others)})"
    else:
        raise InputFileError(
            f"{path.name}: files of type '{ext or '(no extension)'}' are not supported; "
            f"save it as one of {SUPPORTED} and run again."
        )
    return _build_table(path, columns, numbers, table_sheet, elsewhere, faults, fmt.header_row)


# ------------------------------------------------------------------------------------- file checks


def _check_readable(path: Path) -> None:
    if not path.exists():
        raise InputFileError(f"{path}: file not found; check the path and the file name.")
    if path.is_dir():
        raise InputFileError(f"{path}: is a folder, not a file; give the path of the spreadsheet itself.")
    if not path.is_file():
        raise InputFileError(f"{path}: is not a regular file; give the path of a spreadsheet file.")
    try:
        size = path.stat().st_size
        with path.open("rb"):
            pass
    except OSError as exc:
        raise InputFileError(
            f"{path.name}: cannot be opened ({exc.strerror}); check that it exists and you may read it."
        ) from exc
    if size == 0:
        raise InputFileError(f"{path.name}: the file is empty (0 bytes); export the spreadsheet again.")


def _read_head(path: Path, size: int = 4096) -> bytes:
    with path.open("rb") as handle:
        return handle.read(size)


def _sniff(head: bytes) -> str:
    """What the first bytes say the file is: zip, ole2, pdf, html, xml, image, archive, or text."""
    if head.startswith(ZIP_MAGICS):
        return "zip"
    if head.startswith(OLE2_MAGIC):
        return "ole2"
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "image"
    if head.startswith((b"\x1f\x8b", b"Rar!", b"7z\xbc\xaf")):
        return "archive"
    text = _head_text(head).lstrip().lower()
    if text.startswith(("<!doctype html", "<html", "<table", "<head", "<body", "<meta", "mime-version")):
        return "html"
    if text.startswith("<?xml"):
        return "html" if "<html" in text else "xml"
    return "text"


def _head_text(head: bytes) -> str:
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if head.startswith(bom):
            return head[len(bom) :].decode(encoding, errors="ignore")
    return head.decode("latin-1")


_KIND_WORDS = {
    "zip": "a zip archive (such as an .xlsx workbook)",
    "ole2": "a legacy Office file (such as an .xls workbook)",
    "pdf": "a PDF document",
    "image": "an image",
    "archive": "a compressed archive",
    "html": "a web page (HTML)",
    "xml": "an XML file (perhaps an 'XML Spreadsheet 2003')",
}


def _refuse_binary_as_text(path: Path, head: bytes) -> None:
    kind = _sniff(head)
    if kind in ("zip", "ole2"):
        raise InputFileError(
            f"{path.name}: is {_KIND_WORDS[kind]}, not a CSV text file; "
            "rename it with its real extension (.xlsx or .xls) or save it as CSV from Excel."
        )
    if kind != "text":
        raise InputFileError(
            f"{path.name}: is {_KIND_WORDS[kind]}, not a CSV text file; "
            "export the data from its source as CSV or Excel (.xlsx) and run again."
        )


# ----------------------------------------------------------------------------------------------- CSV


def _read_csv(path: Path, fmt: FormatOptions) -> tuple[pd.DataFrame, np.ndarray]:
    """The cells as text (str, never None) and their line numbers."""
    data = path.read_bytes()
    text, encoding = _decode(path, data, fmt.encoding)
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        raise InputFileError(
            f"{path.name}: line {line} contains NUL bytes, so this is not a plain text CSV; "
            "export it again as CSV (UTF-8) from the source system or Excel."
        )
    match = re.match(r"(?:[ \t\r\f\v]*(?:\r\n|\n|\r))*", text)
    lead = match.group().count("\n") + match.group().replace("\r\n", "").count("\r") if match else 0
    body = text[match.end() :] if match else text
    if not body or body.isspace():  # (no stripped copy of the whole text)
        raise InputFileError(f"{path.name}: the file has no content (only blank lines); export it again.")
    delimiter = fmt.delimiter or _sniff_delimiter(body, path.suffix.lower())
    cells = _parse_csv_fast(_csv_source(path, data, encoding, match.end() if match else 0, body), delimiter)
    if cells is None:
        cells = _parse_csv_checked(path, body, delimiter, lead)
    return cells, np.arange(lead + 1, lead + 1 + len(cells))


def _decode(path: Path, data: bytes, encoding: str | None) -> tuple[str, str]:
    """The text of the file, and the encoding it was read with."""
    if encoding:
        effective = _effective_encoding(data, encoding)
        return _decode_as(path, data, effective), effective
    if data.startswith(codecs.BOM_UTF8):
        return _decode_as(path, data, "utf-8-sig"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return _decode_as(path, data, "utf-16"), "utf-16"
    bomless_utf16 = _bomless_utf16(data[:4096])
    if bomless_utf16:
        return _decode_as(path, data, bomless_utf16), bomless_utf16
    _refuse_nul_bytes(path, data)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return _decode_as(path, data, "utf-8"), "utf-8"  # reports the first bad byte with its line


def _refuse_nul_bytes(path: Path, data: bytes) -> None:
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise InputFileError(
            f"{path.name}: line {line} contains NUL bytes, so this is not a plain text CSV; "
            "export it again as CSV (UTF-8) from the source system or Excel."
        )


def _effective_encoding(data: bytes, encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError as exc:
        raise InputFileError(
            f"{encoding!r} is not a known text encoding; set [format] encoding to e.g. 'utf-8' or 'cp1252'."
        ) from exc
    if name == "utf-8" and data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return name


def _bomless_utf16(head: bytes) -> str | None:
    """UTF-16 without a byte order mark: ASCII text with a NUL in every other byte."""
    if len(head) < 4 or b"\x00" not in head:
        return None
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.4 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.4 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _decode_as(path: Path, data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputFileError(
            f"{path.name}: line {line} is not valid {encoding} text (byte 0x{data[exc.start]:02x}); "
            "save the file as 'CSV UTF-8' or set [format] encoding in a --mapping file."
        ) from exc
    except LookupError as exc:
        raise InputFileError(
            f"{path.name}: {encoding!r} is not a known encoding; set [format] encoding to e.g. 'cp1252'."
        ) from exc


_SNIFF_CHARS = 1 << 16


def _sniff_delimiter(body: str, ext: str) -> str:
    head = body[:_SNIFF_CHARS].splitlines()  # more than 50 lines in it: the first 50 are whole
    lines = [line for line in (head if len(head) > 50 else body.splitlines())[:50] if line.strip()][:20]
    if not lines:
        return "\t" if ext == ".tsv" else ","
    best, best_score = ("\t" if ext == ".tsv" else ","), (0, 0)
    for delimiter in CSV_DELIMITERS:
        counts = [_count_unquoted(line, delimiter) for line in lines]
        if counts[0] == 0:
            continue
        score = (sum(1 for count in counts if count == counts[0]), counts[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _count_unquoted(line: str, delimiter: str) -> int:
    if '"' not in line:
        return line.count(delimiter)
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            count += 1
    return count


def _csv_source(path: Path, data: bytes, encoding: str, lead: int, body: str) -> Path | IO[Any]:
    """What the C parser reads: UTF-8 as it is, the file itself when nothing is skipped (reading the file
    is faster than reading the same bytes from memory), else the bytes after the byte order mark and the
    blank lead (ASCII: one byte a character); text decoded from another encoding as text."""
    if encoding not in ("utf-8", "utf-8-sig"):
        return io.StringIO(body)
    skip = lead + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
    return path if skip == 0 else io.BytesIO(data[skip:])


def _parse_csv_fast(source: Path | IO[Any], delimiter: str) -> pd.DataFrame | None:
    """pandas' C parser on UTF-8 ``source``; None when the rows are ragged or malformed (the checked
    parser explains)."""
    try:
        return pd.read_csv(
            source,
            sep=delimiter,
            encoding="utf-8",
            header=None,
            dtype=object,
            keep_default_na=False,
            na_filter=False,
            skip_blank_lines=False,
            engine="c",
            quotechar='"',
            doublequote=True,
            skipinitialspace=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None


def _parse_csv_checked(path: Path, body: str, delimiter: str, lead: int) -> pd.DataFrame:
    """The standard csv module, slower but precise: tolerate empty trailing cells, name a ragged line."""
    csv.field_size_limit(1 << 30)
    reader = csv.reader(io.StringIO(body, newline=""), delimiter=delimiter, quotechar='"', strict=False)
    rows: list[list[str]] = []
    width: int | None = None
    start_line = lead + 1
    try:
        for row in reader:
            line = lead + reader.line_num
            if width is None and any(cell.strip() for cell in row):
                width = _trimmed_width(row)
            if width is not None and len(row) > width:
                extra = row[width:]
                if any(cell.strip() for cell in extra):
                    raise InputFileError(
                        f"{path.name}: line {line} has {_trimmed_width(row)} cells but the header row has "
                        f"{width}; remove the extra cells or put quotes around values that contain "
                        f"'{_show(delimiter)}'."
                    )
                row = row[:width]
            rows.append(row)
            start_line = line + 1
    except csv.Error as exc:
        raise InputFileError(
            f"{path.name}: line {start_line} cannot be read as CSV ({exc}); "
            'check for a quote (") that is never closed.'
        ) from exc
    _refuse_unclosed_quote(path, body, lead)
    widest = max((len(row) for row in rows), default=0)
    return pd.DataFrame([row + [""] * (widest - len(row)) for row in rows], dtype=object)


def _refuse_unclosed_quote(path: Path, body: str, lead: int) -> None:
    """The csv module swallows the rest of the file into a cell whose quote is never closed."""
    if body.count('"') % 2 == 0:
        return
    line, balanced = lead + 1, True
    for number, raw_line in enumerate(body.splitlines(), start=lead + 1):
        if raw_line.count('"') % 2 == 1:
            balanced = not balanced
            if not balanced:
                line = number
    raise InputFileError(
        f'{path.name}: line {line} opens a quote (") that is never closed, so the rest of the file would be '
        "one cell; close or remove the quote and run again."
    )


def _trimmed_width(row: Sequence[str]) -> int:
    width = len(row)
    while width > 0 and not row[width - 1].strip():
        width -= 1
    return width


def _show(delimiter: str) -> str:
    return "tab" if delimiter == "\t" else delimiter


# ------------------------------------------------------------------------------------------ workbooks


def _read_workbook(
    path: Path, head: bytes, sheet: str | None
) -> tuple[pd.DataFrame, np.ndarray, str, list[str], dict[tuple[int, int], CellFault]]:
    """The cells of the sheet chosen, their row numbers, its name, the names of the other visible
    worksheets, and the cells that cannot be read (by row number and column position; the cells hold
    their text)."""
    kind = _sniff(head)
    found: dict[str, dict[tuple[int, int], CellFault]] = {}  # by sheet part (xlsx) or table name (ods)
    if kind == "zip":
        found = _check_zip(path)
    elif kind == "ole2":
        _check_ole2(path)
    elif kind == "text":
        raise InputFileError(
            f"{path.name}: is a text file, not an Excel workbook; if it is CSV, rename it to .csv, "
            "otherwise open it in Excel and save it as .xlsx."
        )
    else:
        raise InputFileError(
            f"{path.name}: is {_KIND_WORDS[kind]}, not a {path.suffix.lower()} workbook; "
            "open it in Excel (or where it came from) and save it as .xlsx, then run again."
        )
    try:
        with path.open("rb") as handle, _native_stderr_silenced():
            workbook = python_calamine.CalamineWorkbook.from_filelike(handle)
            name = _choose_sheet(path, workbook, sheet)
            rows, start = _sheet_rows(workbook, name)
            others = [other for other in _visible_sheets(workbook) if other != name]
    except InputFileError:
        raise
    except python_calamine.PasswordError as exc:
        raise _password_error(path) from exc
    except BaseException as exc:  # calamine reports Rust panics as BaseException
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit | MemoryError):
            raise
        raise InputFileError(
            f"{path.name}: cannot be read as a workbook ({_first_line(exc)}); the file may be damaged or "
            "incomplete: open it in Excel, save it again as .xlsx and run again."
        ) from exc
    if kind == "ole2":
        faults = _xls_faults(path, name)
    elif found:
        faults = found.get(name, {}) if "content.xml" in found else _xlsx_faults(path, name, found)
    else:
        faults = {}
    rows, start = _with_faults(rows, start, faults)
    if not rows:
        raise InputFileError(
            f"{path.name}: sheet '{name}' is empty; put the invoice rows on it or choose another sheet "
            f"with --sheet{f' (the others: {_names(others)})' if others else ''}."
        )
    width = max(len(row) for row in rows)
    row0, col0 = start
    cells = pd.DataFrame(rows, dtype=object, columns=list(range(col0, col0 + width)))
    by_number = {(row + 1, column): fault for (row, column), fault in faults.items()}
    return cells, np.arange(row0 + 1, row0 + 1 + len(rows)), name, others, by_number


# ----------------------------------------------------------------------------------- unreadable cells
# calamine reads a cell showing an error (#N/A ...) and a formula without a saved result as an empty
# cell. They are found where the file says what they are, in the same pass that checks the file: the
# sheet XML of an .xlsx (<c t="e">, <f> without <v>), the content.xml of an .ods (calcext:value-type
# "error", table:formula without office:value-type), and xlrd's cell types for an .xls.

_XLSX_HINTS = (b't="e"', b"<f", b":f>", b":f ")
_XLSX_CELL = re.compile(rb"<(?:\w+:)?c\s([^>]*?)(?<!/)>(.*?)</(?:\w+:)?c>", re.DOTALL)
_XLSX_REF = re.compile(rb'\br="([A-Z]{1,3})([0-9]{1,7})"')
_XLSX_TYPE = re.compile(rb'\bt="(\w+)"')
_XLSX_VALUE = re.compile(rb"<(?:\w+:)?v>(.*?)</(?:\w+:)?v>", re.DOTALL)
_XLSX_FORMULA = re.compile(rb"<(?:\w+:)?f\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?f>)", re.DOTALL)
MAX_FAULTS = 100_000  # beyond that many unreadable cells, the rest are not recorded one by one
_XLS_ERROR = 5  # xlrd.XL_CELL_ERROR


class _XlsxFaults:
    """The cells of one worksheet part showing an error or holding a formula without a saved result, fed
    in chunks: by (row, column), 0-based."""

    def __init__(self) -> None:
        self.pending = b""
        self.found: dict[tuple[int, int], CellFault] = {}

    def feed(self, chunk: bytes) -> None:
        data = self.pending + chunk
        last = data.rfind(b"c>")  # the end of the last whole cell (</c>)
        end = last + 2 if last >= 0 else 0
        self.pending = data[end:][-_CHUNK:]
        block = data[:end]
        if end and any(hint in block for hint in _XLSX_HINTS):
            self._scan(block)

    def _scan(self, block: bytes) -> None:
        for attributes, body in _XLSX_CELL.findall(block):
            kind = _XLSX_TYPE.search(attributes)
            error = kind is not None and kind.group(1) == b"e"
            if not error and b"f" not in body:
                continue
            value = _XLSX_VALUE.search(body)
            ref = _XLSX_REF.search(attributes)
            if ref is None or len(self.found) >= MAX_FAULTS:
                continue
            cell = ref.group(1).decode("ascii") + ref.group(2).decode("ascii")
            where = (int(ref.group(2)) - 1, _column_number(ref.group(1).decode("ascii")) - 1)
            if error:
                text = _xml_text(value.group(1)) if value is not None else "#VALUE!"
                self.found[where] = CellFault(cell, text or "#VALUE!")
                continue
            formula = _XLSX_FORMULA.search(body)
            if formula is None:
                continue
            # an empty <v/> is a saved result only for a formula of text (t="str") that gave ""
            text_result = kind is not None and kind.group(1) == b"str"
            if value is None or (value.group(1) == b"" and not text_result):
                shown = _xml_text(formula.group(1) or b"")
                self.found[where] = CellFault(cell, f"={shown}" if shown else "a shared formula", True)


def _xml_text(raw: bytes) -> str:
    return html.unescape(raw.decode("utf-8", "replace")).strip()


def _xlsx_faults(
    path: Path, sheet: str, found: dict[str, dict[tuple[int, int], CellFault]]
) -> dict[tuple[int, int], CellFault]:
    """The unreadable cells of the worksheet named ``sheet``: its part found through the workbook's
    relationships (read only when some part has such cells)."""
    import defusedxml.ElementTree as safe_xml  # only when a part has such cells

    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    relationship = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
    with zipfile.ZipFile(path) as archive:
        book = safe_xml.fromstring(archive.read("xl/workbook.xml"))
        rels = safe_xml.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    targets = {rel.get("Id"): rel.get("Target", "") for rel in rels}
    for element in book.iter(f"{main}sheet"):
        if element.get("name") == sheet:
            target = targets.get(element.get(relationship), "")
            part = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            return found.get(part, {})
    return {}


def _xls_faults(path: Path, sheet: str) -> dict[tuple[int, int], CellFault]:
    """The cells of an .xls worksheet showing an error value, from xlrd's cell types (an .xls always
    holds the results of its formulas)."""
    import xlrd  # only for .xls
    from openpyxl.utils import get_column_letter as column_letter

    try:
        with open(os.devnull, "w") as quiet:
            book = xlrd.open_workbook(str(path), on_demand=True, logfile=quiet)
            try:
                table = book.sheet_by_name(sheet)
                found: dict[tuple[int, int], CellFault] = {}
                for row in range(table.nrows):
                    types = table.row_types(row)
                    if _XLS_ERROR not in types:
                        continue
                    for column, kind in enumerate(types):
                        if kind == _XLS_ERROR and len(found) < MAX_FAULTS:
                            text = xlrd.error_text_from_code.get(table.cell_value(row, column), "#VALUE!")
                            found[row, column] = CellFault(f"{column_letter(column + 1)}{row + 1}", text)
                return found
            finally:
                book.release_resources()
    except Exception as exc:  # xlrd's own errors derive from Exception
        raise InputFileError(
            f"{path.name}: the cells of this .xls workbook cannot be checked for error values "
            f"({_first_line(exc)}); open it in Excel or LibreOffice, save it as .xlsx and run again."
        ) from exc


def _with_faults(
    rows: list[list[Any]], start: tuple[int, int], faults: dict[tuple[int, int], CellFault]
) -> tuple[list[list[Any]], tuple[int, int]]:
    """The rows with each unreadable cell holding its text (#N/A, =I2*J2), the range grown to take them
    (calamine leaves a formula without a result out of the range)."""
    if not faults:
        return rows, start
    row0, col0 = start if rows else (min(r for r, _ in faults), min(c for _, c in faults))
    top = min(row0, *(r for r, _ in faults))
    left = min(col0, *(c for _, c in faults))
    grown = [[] for _ in range(row0 - top)] + [list(row) for row in rows]
    if left < col0:
        grown = [[None] * (col0 - left) + row for row in grown]
    for (row, column), fault in faults.items():
        at, offset = row - top, column - left
        grown.extend([] for _ in range(at + 1 - len(grown)))
        cells = grown[at]
        cells.extend([None] * (offset + 1 - len(cells)))
        cells[offset] = fault.text
    return grown, (top, left)


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Keep calamine's Rust panic messages (caught and reported as InputFileError) off the terminal."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def _choose_sheet(path: Path, workbook: python_calamine.CalamineWorkbook, sheet: str | None) -> str:
    names = list(workbook.sheet_names)
    if sheet is not None:
        if sheet in names:
            return sheet
        folded = [name for name in names if name.strip().casefold() == sheet.strip().casefold()]
        if len(folded) == 1:
            return folded[0]
        raise InputFileError(
            f"{path.name}: has no sheet named '{sheet}'; its sheets are: "
            f"{', '.join(repr(name) for name in names) or '(none)'}; pass one of them to --sheet."
        )
    if set(RESULTS_SHEETS) <= set(names):  # a results workbook fed back: its input rows are on "Rows"
        return ROWS_SHEET
    for name in _visible_sheets(workbook):
        return name
    raise InputFileError(
        f"{path.name}: has no visible worksheet; unhide the sheet with the invoices or name it with --sheet."
    )


def _names(names: list[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def visible_sheets(path: Path) -> list[str]:
    """The names of a workbook's visible worksheets, in order (for a picker: the file was read before)."""
    return _visible_sheets(python_calamine.CalamineWorkbook.from_path(str(path)))


def _visible_sheets(workbook: python_calamine.CalamineWorkbook) -> list[str]:
    return [
        meta.name
        for meta in workbook.sheets_metadata
        if meta.visible == python_calamine.SheetVisibleEnum.Visible
        and meta.typ == python_calamine.SheetTypeEnum.WorkSheet
    ]


def _sheet_rows(
    workbook: python_calamine.CalamineWorkbook, name: str
) -> tuple[list[list[Any]], tuple[int, int]]:
    sheet = workbook.get_sheet_by_name(name)
    start = sheet.start
    if start is None:
        return [], (0, 0)
    return sheet.to_python(skip_empty_area=True), (start[0], start[1])


def _password_error(path: Path) -> InputFileError:
    return InputFileError(
        f"{path.name}: the workbook is password-protected; open it in Excel, save a copy without a password "
        "(File > Info > Protect Workbook > Encrypt with Password: clear it) and run again with that copy."
    )


def _check_ole2(path: Path) -> None:
    """Legacy Office container: an encrypted .xlsx, a real .xls, or something else (a Word file)."""
    names = _ole2_stream_markers(path)
    if "EncryptionInfo" in names or "EncryptedPackage" in names:
        raise _password_error(path)
    if "WordDocument" in names:
        raise InputFileError(
            f"{path.name}: is a Word document, not a workbook; put the invoices in Excel and save as .xlsx."
        )
    if "Workbook" not in names and "Book" not in names:
        raise InputFileError(
            f"{path.name}: is an Office file without a workbook in it (or it is damaged); "
            "open it in Excel and save it as .xlsx, then run again."
        )


_OLE2_MARKERS = ("EncryptionInfo", "EncryptedPackage", "WordDocument", "Workbook", "Book")


def _ole2_stream_markers(path: Path) -> set[str]:
    """Names of well-known streams found in the OLE2 directory (stored as UTF-16LE names)."""
    patterns = {name: name.encode("utf-16-le") + b"\x00\x00" for name in _OLE2_MARKERS}
    found: set[str] = set()
    tail = b""
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            window = tail + chunk
            found.update(name for name, pattern in patterns.items() if pattern in window)
            tail = window[-64:]
    return found


# ------------------------------------------------------------------------------------- zip workbooks


_CELL_REF = re.compile(rb'<(?:\w+:)?(?:row|c)\b[^>]*?\sr="([A-Z]{0,3})([0-9]{1,7})"')
_HOSTILE_XML = (b"<!DOCTYPE", b"<!ENTITY")


def _check_zip(path: Path) -> dict[str, dict[tuple[int, int], CellFault]]:
    """Refuse a hostile or damaged zip; the unreadable cells found on the way (see _XlsxFaults), by
    worksheet part of an .xlsx, or by table name of an .ods (with a "content.xml" key then)."""
    found: dict[str, dict[tuple[int, int], CellFault]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
            _check_zip_directory(path, members)
            _check_zip_kind(path, {member.filename for member in members}, archive)
            for member in members:
                if not _scan_member(path, archive, member, found, precise=False):
                    _scan_member(path, archive, member, found, precise=True)
        return found
    except InputFileError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise InputFileError(
            f"{path.name}: the workbook is damaged or incomplete ({_first_line(exc)}), perhaps a truncated "
            "download; download or export it again, or open it in Excel and save it again."
        ) from exc


def _check_zip_directory(path: Path, members: list[zipfile.ZipInfo]) -> None:
    if len(members) > MAX_ZIP_MEMBERS:
        raise InputFileError(
            f"{path.name}: refused: the workbook holds {len(members)} parts, far more than a spreadsheet "
            "has; open it in Excel and save it again, or save it as CSV."
        )
    total = sum(member.file_size for member in members)
    if total > MAX_ZIP_TOTAL:
        raise InputFileError(
            f"{path.name}: refused: the workbook would unpack to {total // (1024 * 1024)} MB (limit "
            f"{MAX_ZIP_TOTAL // (1024 * 1024)} MB); split it into smaller files or save it as CSV."
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > BIG_MEMBER and ratio > MAX_ZIP_RATIO:
            raise InputFileError(
                f"{path.name}: refused: part '{member.filename}' is compressed {ratio:.0f} to 1, the mark of "
                "a zip bomb; open the file in Excel, save it again, or save it as CSV."
            )


def _check_zip_kind(path: Path, names: set[str], archive: zipfile.ZipFile) -> None:
    if "xl/workbook.xml" in names:
        return
    if "xl/workbook.bin" in names:
        raise InputFileError(
            f"{path.name}: is a binary Excel workbook (.xlsb); save it as .xlsx and run again."
        )
    if "content.xml" in names and "mimetype" in names:
        mimetype = archive.read("mimetype")[:200]
        if b"spreadsheet" in mimetype:
            return
        raise InputFileError(
            f"{path.name}: is an OpenDocument file but not a spreadsheet "
            f"({mimetype.decode('ascii', 'replace')}); save the invoices as .ods or .xlsx."
        )
    if "word/document.xml" in names:
        raise InputFileError(
            f"{path.name}: is a Word document, not a workbook; put the invoices in Excel and save as .xlsx."
        )
    if any(name.startswith("ppt/") for name in names):
        raise InputFileError(f"{path.name}: is a PowerPoint file, not a workbook; save the data as .xlsx.")
    raise InputFileError(
        f"{path.name}: is a zip archive but not an Excel or OpenDocument workbook; "
        "unpack it, or open the data in Excel and save it as .xlsx."
    )


def _scan_member(
    path: Path,
    archive: zipfile.ZipFile,
    member: zipfile.ZipInfo,
    found: dict[str, dict[tuple[int, int], CellFault]],
    *,
    precise: bool,
) -> bool:
    """Stream one part: refuse DTDs/entities in XML, a size beyond the declared one, a sparse-cell bomb.

    Not ``precise``, a sheet's cell references are only probed (see _within_extent); False when a probe
    cannot vouch for the sheet, and the part must be scanned again precisely. True when it was checked.
    """
    name = member.filename
    is_xml = name.lower().endswith((".xml", ".rels", ".vml")) or name == "[Content_Types].xml"
    is_sheet = name.startswith("xl/worksheets/") and name.endswith(".xml")
    if not is_xml:
        return True
    patterns = list(_HOSTILE_XML)
    size, tail = 0, b""
    max_row, max_col = 0, 0
    ods = _OdsExtent(path) if name == "content.xml" else None
    faults = _XlsxFaults() if is_sheet else None
    with archive.open(member) as stream:
        first = True
        for chunk in iter(lambda: stream.read(_CHUNK), b""):
            if first:
                patterns += _utf16_patterns(chunk)
                first = False
            size += len(chunk)
            if size > member.file_size + _CHUNK or size > MAX_ZIP_TOTAL:
                raise InputFileError(
                    f"{path.name}: refused: part '{name}' unpacks to more than its zip entry declares; "
                    "the file is damaged or hostile: open it in Excel and save it again."
                )
            window = tail + chunk
            plain = len(patterns) == len(_HOSTILE_XML)  # both start with "<!": one search rules both out
            if (not plain or b"<!" in window) and any(pattern in window for pattern in patterns):
                raise InputFileError(
                    f"{path.name}: refused: part '{name}' declares a DOCTYPE or ENTITY, which spreadsheets "
                    "never do (an XML entity attack); open the file in Excel and save it again as .xlsx."
                )
            if ods is not None:
                ods.feed(chunk)
            if faults is not None:
                faults.feed(chunk)
            if is_sheet and precise:
                max_row, max_col = _extent(window, max_row, max_col)
            elif is_sheet and not _within_extent(window):
                return False
            tail = window[-256:]
    if is_sheet:
        _refuse_beyond_cell_limit(path, f"sheet part '{name}'", max_row, max_col)
    if faults is not None and faults.found:
        found[name] = faults.found
    if ods is not None and ods.faults:
        found.update(ods.faults)
        found["content.xml"] = {}
    return True


def _refuse_beyond_cell_limit(path: Path, sheet: str, row: int, column: int) -> None:
    """calamine holds a sheet's whole range densely: refuse one reaching beyond MAX_SHEET_CELLS."""
    if row * max(column, 1) > MAX_SHEET_CELLS:
        raise InputFileError(
            f"{path.name}: refused: {sheet} has cells as far as row {row}, column {column}, more than "
            f"{MAX_SHEET_CELLS:,} cells to hold; delete the unused rows and columns (select them, Delete) "
            "and save again, or split the file."
        )


_ODS_TAG = re.compile(rb"<(/?)table:(table-row|table-cell|covered-table-cell|table)\b([^>]*)>")
_ODS_ROWS = re.compile(rb'table:number-rows-repeated="([0-9]+)"')
_ODS_COLUMNS = re.compile(rb'table:number-columns-repeated="([0-9]+)"')
_ODS_NAME = re.compile(rb'table:name="([^"]*)"')
_ODS_FORMULA = re.compile(rb'table:formula="([^"]*)"')
_ODS_TEXT = re.compile(rb"<text:p[^>]*>([^<]*)</text:p>")
_ODS_REF = re.compile(r"\[\$?[^.\]]*\.\$?([A-Z]+)\$?([0-9]+)\]")


class _OdsExtent:
    """The extent of each table of an OpenDocument spreadsheet's content.xml, fed in chunks: the last row
    and column holding a value, counting the rows and cells the repeat attributes stand for (calamine
    holds that whole range densely: a few hundred bytes can repeat one cell into billions)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.pending = b""
        self.row, self.rows_repeated, self.row_valued = 0, 1, False
        self.column, self.last_row, self.last_column = 0, 0, 0
        self.table = ""
        self.faults: dict[str, dict[tuple[int, int], CellFault]] = {}  # by table name, see _XlsxFaults

    def feed(self, chunk: bytes) -> None:
        data = self.pending + chunk
        end = data.rfind(b">") + 1
        self.pending = data[end:][-_CHUNK:]  # an unfinished tag (a longer one is no tag of ours)
        if b"table:formula=" not in data:
            for closing, tag, attributes in _ODS_TAG.findall(data, 0, end):
                self._tag(bool(closing), tag, attributes)
            return
        for match in _ODS_TAG.finditer(data, 0, end):
            closing, tag, attributes = match.groups()
            if tag == b"table-cell" and b"table:formula=" in attributes and not closing:
                self._formula_cell(attributes, data[match.end() : match.end() + 4096])
            self._tag(bool(closing), tag, attributes)

    def _formula_cell(self, attributes: bytes, after: bytes) -> None:
        """A cell with a formula: recorded when it shows an error or has no saved value."""
        error = b'calcext:value-type="error"' in attributes
        if not error and b"office:value-type=" in attributes:
            return
        table = self.faults.setdefault(self.table, {})
        if len(table) >= MAX_FAULTS:
            return
        from openpyxl.utils import get_column_letter as column_letter

        cell = f"{column_letter(self.column + 1)}{self.row + 1}"
        if error:
            shown = _ODS_TEXT.search(after.split(b"</table:table-cell>", 1)[0])
            text = _xml_text(shown.group(1)) if shown else ""
            table[self.row, self.column] = CellFault(cell, text or "#VALUE!")
            return
        formula = _ODS_FORMULA.search(attributes)
        text = _xml_text(formula.group(1)) if formula else ""
        text = _ODS_REF.sub(r"\1\2", text.removeprefix("of:")).replace(";", ",")
        table[self.row, self.column] = CellFault(cell, text if text.startswith("=") else f"={text}", True)

    def _tag(self, closing: bool, tag: bytes, attributes: bytes) -> None:
        if tag == b"table":
            if attributes.startswith(b"-"):  # <table:table-column ...>, <table:table-header-rows> ...
                return
            if not closing:
                self.row, self.last_row, self.last_column = 0, 0, 0
                name = _ODS_NAME.search(attributes)
                self.table = _xml_text(name.group(1)) if name else ""
            return
        if tag == b"table-row":
            if closing:
                self.row += self.rows_repeated
                if self.row_valued:
                    self.last_row = self.row
                    _refuse_beyond_cell_limit(
                        self.path,
                        "a sheet (counting repeated rows and cells)",
                        self.last_row,
                        self.last_column,
                    )
            else:
                self.rows_repeated = _repeat(_ODS_ROWS, attributes)
                self.row_valued, self.column = False, 0
                if attributes.endswith(b"/"):  # <table:table-row .../>: an empty row
                    self.row += self.rows_repeated
            return
        if closing:
            return
        self.column += _repeat(_ODS_COLUMNS, attributes)
        if b"office:value-type=" in attributes or b"calcext:value-type=" in attributes:
            self.row_valued = True
            self.last_column = max(self.last_column, self.column)


def _repeat(attribute: re.Pattern[bytes], attributes: bytes) -> int:
    found = attribute.search(attributes)
    return int(found.group(1)) if found else 1


def _utf16_patterns(first_chunk: bytes) -> list[bytes]:
    if first_chunk.startswith((codecs.BOM_UTF16_LE, b"<\x00")):
        return [pattern.decode().encode("utf-16-le") for pattern in _HOSTILE_XML]
    if first_chunk.startswith((codecs.BOM_UTF16_BE, b"\x00<")):
        return [pattern.decode().encode("utf-16-be") for pattern in _HOSTILE_XML]
    return []


def _greater_than(limit: int, longest: int = 7) -> bytes:
    """A regular expression matching the strings of at most ``longest`` digits whose value exceeds
    ``limit`` (and, harmlessly, some longer ones with leading zeros)."""
    digits = str(limit)
    options = [f"[0-9]{{{length}}}" for length in range(len(digits) + 1, longest + 1)]
    for at, digit in enumerate(digits):
        if digit != "9":
            rest = len(digits) - at - 1
            options.append(f"{digits[:at]}[{int(digit) + 1}-9][0-9]{{{rest}}}")
    return "|".join(options).encode("ascii")


# One cheap probe of a sheet's cell references, finding (at least) those of _CELL_REF beyond column Z
# (two letters or more) or beyond row MAX_SHEET_CELLS // 26. Finding none, the sheet holds at most
# 26 * (MAX_SHEET_CELLS // 26) <= MAX_SHEET_CELLS cells and needs no exact extent.
_BEYOND_REF = re.compile(rb'r="(?:[A-Z]{2}|[A-Z]?(?:' + _greater_than(MAX_SHEET_CELLS // 26) + rb')")')


def _within_extent(window: bytes) -> bool:
    """True when no cell reference in ``window`` could take the sheet beyond MAX_SHEET_CELLS (assuming
    the same of the rest); False means: unsure, find the exact extent."""
    return _BEYOND_REF.search(window) is None


def _extent(window: bytes, max_row: int, max_col: int) -> tuple[int, int]:
    refs = _CELL_REF.findall(window)  # (letters, digits) of every row and cell; few distinct letters
    if not refs:
        return max_row, max_col
    rows = set(map(operator.itemgetter(1), refs))
    letters = set(map(operator.itemgetter(0), refs))
    columns = max(_column_number(text.decode("ascii")) for text in letters)
    return max(max_row, max(map(int, rows))), max(max_col, columns)


def _column_number(letters: str) -> int:
    """The 1-based index of column ``letters`` (0 for none). Not openpyxl's column_index_from_string,
    which refuses references beyond ZZZ: a damaged sheet may hold any."""
    number = 0
    for letter in letters:
        number = number * 26 + (ord(letter) - 64)
    return number


# -------------------------------------------------------------------------------------- common table


class _Column(NamedTuple):
    """One column of cells as read: coded per distinct value (cleaned, blank as -1), the cells themselves
    where they must be kept as they are (else ``coded`` gives them), and the length of the longest text."""

    coded: Coded
    cells: np.ndarray | None
    longest: int

    def at(self, positions: np.ndarray) -> np.ndarray:
        if self.cells is not None:
            return self.cells[positions]
        return self.coded.values[self.coded.codes[positions]]


def _text_column(texts: np.ndarray) -> _Column:
    """A column of text cells (CSV), cleaned once per distinct text: stripped, blank ones as None."""
    codes, uniques = pd.factorize(texts, use_na_sentinel=True)
    distinct: list[str] = uniques.tolist()
    stripped = list(map(str.strip, distinct))
    longest = max(map(len, stripped), default=0)
    if stripped != distinct:  # some text had spaces at an end: equal once stripped means one code
        merged, kept = pd.factorize(objects([text or None for text in stripped]), use_na_sentinel=True)
        codes = np.append(merged, -1)[codes]
        return _Column(Coded(codes, objects([*kept.tolist(), None])), None, longest)
    if "" in distinct:
        blank = distinct.index("")
        codes = np.where(codes == blank, -1, codes)
    return _Column(Coded(codes, objects([*distinct, None])), None, longest)


def _cell_column(values: list[Any]) -> _Column:
    """A column of workbook cells, cleaned cell by cell (a float 1.0 and a True must stay apart), then
    coded."""
    cleaned, longest, booleans = _clean_column(values)
    return _Column(_code_cells(cleaned, booleans), cleaned, longest)


def _code_cells(cleaned: np.ndarray, booleans: np.ndarray | None) -> Coded:
    """Cleaned cells coded by distinct value. ``booleans``: where the True/False cells are, kept apart
    from the numbers Python finds equal to them (True == 1)."""
    keys = cleaned
    if booleans is not None and len(booleans):
        keys = cleaned.copy()
        keys[booleans] = _object_array([(bool, value) for value in cleaned[booleans].tolist()])
    codes, uniques = pd.factorize(keys, use_na_sentinel=True)
    distinct = [value[1] if isinstance(value, tuple) else value for value in uniques.tolist()]
    return Coded(codes, objects([*distinct, None]))


def _build_table(
    path: Path,
    columns: dict[Any, _Column],
    numbers: np.ndarray,
    sheet: str | None,
    elsewhere: str = "",
    faults: dict[tuple[int, int], CellFault] | None = None,
    header_row: int | None = None,
) -> _Table:
    """Find the header, name and filter the columns, drop blank rows: the data as a frame, as coded
    columns (by header), the row numbers, and the unreadable cells by header and frame position."""
    where = f"{path.name}" + (f", sheet '{sheet}'" if sheet else "")
    filled = {position: column.coded.codes >= 0 for position, column in columns.items()}
    keep = _any_filled(list(filled.values()), len(numbers))
    if not keep.any():
        raise InputFileError(f"{where}: has no data (every row is blank); check the file{elsewhere}.")
    kept = np.flatnonzero(keep)
    kept_numbers = numbers[kept]
    head = _header_at(where, columns, kept, kept_numbers, header_row)
    header_number = int(kept_numbers[head])
    header_values = [column.at(kept[head : head + 1])[0] for column in columns.values()]
    data_at = kept[head + 1 :]
    data_numbers = kept_numbers[head + 1 :]
    named = _name_columns(
        where, header_values, list(columns), lambda position: bool(filled[position][data_at].any())
    )
    rows_keep = _any_filled([filled[position][data_at] for position, _ in named], len(data_at))
    at = data_at[rows_keep]
    # copy=False: a block per column, not one 2-d block they are all copied into
    data = pd.DataFrame(
        {name: columns[position].at(at) for position, name in named}, dtype=object, copy=False
    )
    data.index = pd.RangeIndex(len(at))
    coded = {name: _only_used(columns[position].coded, at) for position, name in named}
    data_numbers = data_numbers[rows_keep].tolist()
    if data.empty:
        raise InputFileError(
            f"{where}: has a header row (row {header_number}) but no data rows; "
            f"add the invoice rows below it{elsewhere}."
        )
    suspects = [name for position, name in named if columns[position].longest > MAX_CELL_CHARS]
    _refuse_huge_cells(where, data, data_numbers, suspects)
    notes: tuple[str, ...] = ()
    if header_number != 1:
        notes = (
            f"{where}: the header is row {header_number}; the rows above it are not read "
            "(pass --header-row N to take another row).",
        )
    return _Table(
        data,
        coded,
        data_numbers,
        sheet,
        _faults_by_header(faults or {}, named, data_numbers),
        header_number,
        notes,
    )


HEADER_SEARCH_ROWS = 30  # the header is looked for among this many first non-blank rows


def _header_at(
    where: str, columns: dict[Any, _Column], kept: np.ndarray, numbers: np.ndarray, header_row: int | None
) -> int:
    """The position (among the non-blank rows) of the header row: the one given, else the row among the
    first ones that names the most known columns (by name or alias), the first row when none names two."""
    if header_row is not None:
        at = np.flatnonzero(numbers == header_row)
        if not len(at):
            raise InputFileError(
                f"{where}: --header-row {header_row} is a blank row or beyond the last row; "
                "give the number of the row that holds the column names."
            )
        return int(at[0])
    count = min(len(kept), HEADER_SEARCH_ROWS)
    known = alias_index()
    texts = [column.at(kept[:count]) for column in columns.values()]
    scores = []
    for position in range(count):
        names = {
            known.get(normalize_header(str(cells[position])))
            for cells in texts
            if cells[position] is not None
        }
        names.discard(None)
        scores.append(len(names))
    best = max(range(count), key=lambda position: (scores[position], -position))
    return best if scores[best] >= 2 and scores[best] > scores[0] else 0


def _faults_by_header(
    faults: dict[tuple[int, int], CellFault], named: list[tuple[Any, str]], numbers: list[int]
) -> dict[str, dict[int, CellFault]]:
    """The unreadable cells of the data rows, by header and frame position."""
    if not faults:
        return {}
    position_of = {number: position for position, number in enumerate(numbers)}
    header_of = dict(named)
    found: dict[str, dict[int, CellFault]] = {}
    for (number, column), fault in faults.items():
        if column in header_of and number in position_of:
            found.setdefault(header_of[column], {})[position_of[number]] = fault
    return found


def _only_used(coded: Coded, at: np.ndarray) -> Coded:
    """The rows at ``at`` of a coded column, with only the values they use (not the header's, say)."""
    codes = coded.codes[at]
    used = np.zeros(len(coded.values), dtype=bool)
    used[codes] = True  # code -1 marks the blank value, the last one, which stays
    used[-1] = True
    if used.all():
        return Coded(codes, coded.values)
    renumbered = np.cumsum(used) - 1
    renumbered[-1] = -1
    return Coded(renumbered[codes], coded.values[used])


def _object_array(values: list[Any]) -> np.ndarray:
    return np.fromiter(values, dtype=object, count=len(values))


def _any_filled(filled: list[np.ndarray], count: int) -> np.ndarray:
    """Per row, whether any of the columns has a value there (none when there are no columns)."""
    result = np.zeros(count, dtype=bool)
    for column in filled:
        result |= column
    return result


def _clean_column(values: list[Any]) -> tuple[np.ndarray, int, np.ndarray | None]:
    """Cells stripped, blanks as None, integral floats as int; the length of the longest text; and
    where the booleans are (None when there are none).

    Done per kind of value: all the text cells at once, all the float cells at once (a workbook column
    is text in its header and numbers or dates below)."""
    try:
        stripped = list(map(str.strip, values))  # the common case: every cell is text
    except TypeError:
        pass
    else:
        return _object_array([value or None for value in stripped]), max(map(len, stripped), default=0), None
    cells = _object_array(values)
    kinds = list(map(type, values))
    number_of = {kind: number for number, kind in enumerate(set(kinds))}
    numbers = np.fromiter(map(number_of.__getitem__, kinds), dtype=np.int64, count=len(kinds))
    cleaned = cells.copy()
    longest = 0
    for kind, number in number_of.items():
        at = np.flatnonzero(numbers == number)
        if kind is str:
            texts = [value.strip() for value in cells[at].tolist()]
            longest = max(longest, max(map(len, texts), default=0))
            cleaned[at] = _object_array([text or None for text in texts])
        elif kind is float:
            cleaned[at] = _object_array(_clean_floats(cells[at].tolist()))
        elif issubclass(kind, (str, float)):
            some = [_clean(value) for value in cells[at].tolist()]
            longest = max(longest, max((len(value) for value in some if isinstance(value, str)), default=0))
            cleaned[at] = _object_array(some)
    booleans = np.flatnonzero(numbers == number_of[bool]) if bool in number_of else None
    return cleaned, longest, booleans


def _clean_floats(values: list[float | None]) -> list[Any]:
    """:func:`_clean` of a column of floats and Nones, at once: NaN and None as None, integral as int."""
    numbers = np.array(values, dtype=float)  # None becomes NaN
    whole = (numbers == np.floor(numbers)) & (np.abs(numbers) < 2**53)
    cleaned = numbers.astype(object)
    cleaned[whole] = numbers[whole].astype(np.int64).astype(object)
    cleaned[np.isnan(numbers)] = None
    result: list[Any] = cleaned.tolist()
    return result


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str):
        stripped = value.strip()
        return stripped or None
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer() and abs(value) < 2**53:
            return int(value)
    return value


def _header_text(value: Any) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None


def _name_columns(
    where: str, header: list[Any], positions: list[Any], has_data: Callable[[Any], bool]
) -> list[tuple[Any, str]]:
    """(position, name) of each column kept: blank headers named by letter, result columns dropped."""
    from openpyxl.utils import get_column_letter as column_letter  # imported only when needed

    named: list[tuple[Any, str]] = []
    seen: dict[str, tuple[Any, str]] = {}
    results = result_positions([_header_text(value) for value in header])
    for index, (position, value) in enumerate(zip(positions, header, strict=True)):
        if index in results:
            continue
        text = _header_text(value)
        if text is None:
            if not has_data(position):
                continue
            text = f"column {column_letter(int(position) + 1)}"
        key = text.casefold()
        if key in seen:
            first = column_letter(int(seen[key][0]) + 1)
            raise InputFileError(
                f"{where}: the header '{text}' appears twice, in columns {first} "
                f"and {column_letter(int(position) + 1)}; rename or delete one of them."
            )
        seen[key] = (position, text)
        named.append((position, text))
    return named


def _refuse_huge_cells(where: str, data: pd.DataFrame, numbers: list[int], suspects: list[str]) -> None:
    for name in suspects:
        lengths = [len(value) if isinstance(value, str) else 0 for value in data[name].tolist()]
        if not lengths or max(lengths) <= MAX_CELL_CHARS:
            continue
        index = next(i for i, length in enumerate(lengths) if length > MAX_CELL_CHARS)
        raise InputFileError(
            f"{where}: row {numbers[index]}, column '{name}' holds {lengths[index]:,} characters, more than "
            f"the {MAX_CELL_CHARS:,} a spreadsheet cell can hold; shorten that cell and run again."
        )
