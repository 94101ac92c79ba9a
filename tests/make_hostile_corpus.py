"""Generate the corpus of hostile and broken input files (issue 7).

Every file is built from code here (no binary is committed). Importable by tests::

    cases = make_corpus(tmp_path)   # list[HostileCase], files written into tmp_path

and runnable as a script: ``python tests/make_hostile_corpus.py OUT_FOLDER``.
"""

from __future__ import annotations

import io
import struct
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import openpyxl

HEADER = ["invoice_number", "issue_date", "due_date", "contact", "currency", "item", "quantity", "price"]
ROW = ["INV-1", "2026-01-02", "2026-02-01", "a@example.com", "EUR", "W-1", "2", "3.50"]


@dataclass(frozen=True)
class HostileCase:
    """One generated file and what the refusal must say (``fragment``, case-insensitive)."""

    name: str  # file (or folder) name inside the corpus folder
    fragment: str
    mapping: str | None = None  # a mapping file of the corpus to use with it
    error: str = "InputFileError"  # class name in importer.errors


# ------------------------------------------------------------------------------------------ builders


def csv_text(rows: list[list[str]], delimiter: str = ",") -> str:
    return "".join(delimiter.join(row) + "\n" for row in rows)


def xlsx_bytes(rows: Sequence[Sequence[object]], title: str = "Invoices") -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rewrite_zip(data: bytes, change: Callable[[str, bytes], bytes]) -> bytes:
    """A copy of a zip with each member's bytes passed through ``change(name, data)``."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            target.writestr(info.filename, change(info.filename, source.read(info.filename)))
    return out.getvalue()


def inject_doctype(name: str, data: bytes) -> bytes:
    """Billion-laughs DTD in front of the shared strings (or the workbook part)."""
    if name != "xl/workbook.xml":
        return data
    dtd = (
        b'<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
        b'<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>'
    )
    head, sep, rest = data.partition(b"?>")
    return head + sep + dtd + rest if sep else dtd + data


def sparse_cell_sheet(name: str, data: bytes) -> bytes:
    """Move one cell to XFD1048576: calamine would allocate the whole 17-billion-cell range."""
    if not name.startswith("xl/worksheets/"):
        return data
    far_cell = b'<row r="1048576"><c r="XFD1048576" t="n"><v>1</v></c></row>'
    return data.replace(b"</sheetData>", far_cell + b"</sheetData>")


def repeated_cell_ods_bytes(rows: int = 30_000, columns: int = 1_000) -> bytes:
    """An OpenDocument spreadsheet of under 1 KB whose one valued cell, repeated by table:number-rows-
    repeated and table:number-columns-repeated, stands for rows x columns cells (calamine would hold
    them all: 30 million cells took 4 GB and 13 s)."""
    cell = '<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>'
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        '<office:body><office:spreadsheet><table:table table:name="Invoices">'
        f"<table:table-row>{cell.format('invoice_number')}</table:table-row>"
        f'<table:table-row table:number-rows-repeated="{rows}">'
        + cell.format("x").replace(
            "<table:table-cell ", f'<table:table-cell table:number-columns-repeated="{columns}" '
        )
        + "</table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
    return out.getvalue()


def zip_bomb_bytes(member_mb: int = 20) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/workbook.xml", "<workbook/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (member_mb * 1024 * 1024))
    return out.getvalue()


def lying_zip_bytes(declared: int = 600 * 1024 * 1024) -> bytes:
    """A zip whose central directory claims a member unpacks to ``declared`` bytes."""
    data = bytearray(zip_bomb_bytes(member_mb=0))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    central = _central_entry(bytes(data), info.filename)
    struct.pack_into("<I", data, central + 24, declared)  # uncompressed size in the central directory
    return bytes(data)


def _central_entry(data: bytes, filename: str) -> int:
    position = 0
    while True:
        position = data.find(b"PK\x01\x02", position)
        name_length = struct.unpack_from("<H", data, position + 28)[0]
        if data[position + 46 : position + 46 + name_length] == filename.encode():
            return position
        position += 4


def ole2_bytes(streams: dict[str, bytes]) -> bytes:
    """A minimal valid OLE2 (compound file) container holding ``streams`` (each padded to >= 4096 bytes)."""
    sector = 512
    end, free, fat_sector = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    bodies = [body.ljust(4096, b"\0") for body in streams.values()]
    bodies = [body.ljust(-(-len(body) // sector) * sector, b"\0") for body in bodies]
    fat = [fat_sector, end]  # sector 0: the FAT, sector 1: the directory
    starts = []
    for body in bodies:
        count = len(body) // sector
        starts.append(len(fat))
        fat.extend(len(fat) + i + 1 for i in range(count - 1))
        fat.append(end)
    assert len(fat) <= sector // 4, "streams too big for a one-sector FAT"
    fat_bytes = struct.pack(f"<{sector // 4}I", *(fat + [free] * (sector // 4 - len(fat))))
    names = list(streams)
    entries = [_dir_entry("Root Entry", 5, child=1 if names else free, start=end, size=0)]
    for index, (name, start, body) in enumerate(zip(names, starts, streams.values(), strict=True)):
        right = index + 2 if index + 1 < len(names) else free
        entries.append(_dir_entry(name, 2, right=right, start=start, size=len(body)))
    assert len(entries) <= sector // 128, "at most 3 streams in a one-sector directory"
    directory = b"".join(entries).ljust(sector, b"\0")
    header = bytearray(sector)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<IIIIIIII", header, 40, 0, 1, 1, 0, 4096, end, 0, end)
    struct.pack_into("<I", header, 68, 0)  # no DIFAT sectors
    struct.pack_into("<I", header, 76, 0)  # DIFAT[0] = sector 0 holds the FAT
    struct.pack_into(f"<{108}I", header, 80, *([free] * 108))
    return bytes(header) + fat_bytes + directory + b"".join(bodies)


def _dir_entry(
    name: str,
    kind: int,
    *,
    left: int = 0xFFFFFFFF,
    right: int = 0xFFFFFFFF,
    child: int = 0xFFFFFFFF,
    start: int,
    size: int,
) -> bytes:
    encoded = (name.encode("utf-16-le") + b"\0\0") if name else b""
    entry = bytearray(128)
    entry[0 : len(encoded)] = encoded
    struct.pack_into("<HBB", entry, 64, len(encoded), kind, 1)
    struct.pack_into("<III", entry, 68, left, right, child)
    struct.pack_into("<IQ", entry, 116, start, size)
    return bytes(entry)


# ------------------------------------------------------------------------------------------- corpus


def make_corpus(folder: Path) -> list[HostileCase]:
    """Write every hostile file into ``folder`` and return what each refusal must say."""
    folder.mkdir(parents=True, exist_ok=True)
    good = xlsx_bytes([HEADER, ROW])
    cases: list[HostileCase] = []

    def add(name: str, content: bytes | str, fragment: str, **extra: str) -> None:
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
        cases.append(HostileCase(name, fragment, **extra))

    add("empty.csv", b"", "empty")
    add("empty.xlsx", b"", "empty")
    add("blank_lines.csv", "\n  \n\t\n\n", "no content")
    add("only_delimiters.csv", ",,,\n , ,\n\t,,\n", "every row is blank")
    add("header_only.csv", csv_text([HEADER]), "no data rows")
    add("header_only.xlsx", xlsx_bytes([HEADER]), "no data rows")
    add("empty_sheet.xlsx", xlsx_bytes([]), "empty")
    (folder / "a_folder.xlsx").mkdir(exist_ok=True)
    cases.append(HostileCase("a_folder.xlsx", "folder"))
    cases.append(HostileCase("missing.csv", "not found"))
    add("invoices.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "not supported")
    add("invoices.json", '{"invoices": []}', "not supported")
    add("pdf_named.xlsx", b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n", "PDF")
    add(
        "html_named.xls",
        "<!DOCTYPE html><html><body><table><tr><td>1</td></tr></table></body></html>",
        "web page",
    )
    add(
        "html_named.csv",
        "<html><body><table><tr><td>invoice_number</td></tr></table></body></html>",
        "web page",
    )
    add(
        "xml2003_named.xls",
        '<?xml version="1.0"?><Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"/>',
        "XML",
    )
    add("text_named.xlsx", csv_text([HEADER, ROW]), "text file")
    add("xlsx_named.csv", good, "rename")
    add("png_named.xlsx", b"\x89PNG\r\n\x1a\n" + bytes(64), "image")
    add("plain_zip.xlsx", _zip_of({"readme.txt": b"hello"}), "not an Excel")
    add(
        "word_named.xlsx",
        _zip_of({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}),
        "Word document",
    )
    add("truncated.xlsx", good[: len(good) // 2], "damaged or incomplete")
    add("corrupt.xlsx", _corrupt_middle(good), "damaged")
    add(
        "garbage_sheet.xlsx",
        rewrite_zip(good, lambda n, d: b"<<<not xml" if "worksheets" in n else d),
        "cannot be read as a workbook",
    )
    add(
        "encrypted.xlsx",
        ole2_bytes({"EncryptionInfo": b"\x04\x00\x04\x00", "EncryptedPackage": b"x"}),
        "password-protected",
    )
    add("word97_named.xls", ole2_bytes({"WordDocument": b"x"}), "Word document")
    add("broken_biff.xls", ole2_bytes({"Workbook": b"\x09\x08garbage"}), "cannot be read as a workbook")
    add("other_ole2.xls", ole2_bytes({"Contents": b"x"}), "without a workbook")
    add("ragged.csv", csv_text([HEADER, ROW, ROW, [*ROW, "oops", "more"]]), "line 4 has 10 cells")
    add("duplicate_headers.csv", csv_text([[*HEADER, "Quantity"], [*ROW, "1"]]), "appears twice")
    add("nul_bytes.csv", csv_text([HEADER, ROW]) + "INV-2,\x00\x00,x\n", "line 3 contains NUL")
    add("nul_binary.txt", bytes(range(256)) * 4, "line 1 contains NUL")
    add(
        "huge_cell.csv",
        csv_text([HEADER, ROW, ["INV-2", "2026-01-02", "x" * 40_000, *ROW[3:]]]),
        "row 3, column 'due_date' holds 40,000 characters",
    )
    huge = rewrite_zip(
        xlsx_bytes([HEADER, ROW, [*ROW[:7], "HUGE"]]), lambda name, data: data.replace(b"HUGE", b"y" * 33_000)
    )
    add("huge_cell.xlsx", huge, "row 3, column 'price' holds 33,000 characters")
    add(
        "unclosed_quote.csv",
        csv_text([HEADER, ROW]) + 'INV-2,"2026-01-02,x\n' + csv_text([ROW] * 3),
        "line 3 opens a quote",
    )
    add("bad_utf8.csv", csv_text([HEADER, ROW]).encode("utf-8") + b"INV-\x81\x8d,x\n", "line 3 is not valid")
    add("xxe.xlsx", rewrite_zip(good, inject_doctype), "DOCTYPE")
    add("sparse_bomb.xlsx", rewrite_zip(good, sparse_cell_sheet), "row 1048576")
    add("sparse_bomb.ods", repeated_cell_ods_bytes(), "row 30001, column 1000")
    add("zip_bomb.xlsx", zip_bomb_bytes(), "zip bomb")
    add("zip_lying.xlsx", lying_zip_bytes(), "unpack to 600 MB")
    add("unknown_column.toml", '[columns]\n"Kunde" = "customer_name"\n', "customer_name")
    cases[-1] = HostileCase("unknown_column.toml", "customer_name", error="MappingFileError")
    add("broken.toml", "[columns]\nKunde = contact\n", "not valid TOML")
    cases[-1] = HostileCase("broken.toml", "not valid TOML", error="MappingFileError")
    add(
        "mapped_header_absent.csv",
        csv_text([HEADER, ROW]),
        "no such header",
        mapping="absent_header.toml",
        error="MappingFileError",
    )
    (folder / "absent_header.toml").write_text('[columns]\n"Rechnungsnummer" = "invoice_number"\n')
    add(
        "missing_columns.csv",
        csv_text([["Rechnung", "Datum", "Qty"], ["1", "2026-01-01", "2"]]),
        "required columns missing",
        error="MissingColumnsError",
    )
    add(
        "two_headers_one_column.csv", csv_text([[*HEADER, "Qty"], [*ROW, "3"]]), "both mean column 'quantity'"
    )
    return cases


def _zip_of(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def _corrupt_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes(range(256)) * 4 + data[middle + 1024 :]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python tests/make_hostile_corpus.py OUT_FOLDER", file=sys.stderr)
        return 2
    cases = make_corpus(Path(argv[1]))
    for case in cases:
        print(f"{case.name}\t{case.error}\t{case.fragment}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
