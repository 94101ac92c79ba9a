"""Stage 1, load: CSV and workbooks into a RawTable with the row numbers the user sees."""

from __future__ import annotations

import hashlib
import io
import re
import time
import zipfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import openpyxl
import pandas as pd
import pytest

from importer.errors import InputFileError
from importer.load import MAX_SHEET_CELLS, _greater_than, load_table, sha256_file
from importer.models import FormatOptions, RawTable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "load"
HEADER = ["invoice_number", "issue_date", "due_date", "contact", "currency", "item", "quantity", "price"]


def values(path: Path, **kwargs: object) -> list[list[object]]:
    table = load_table(path, **kwargs)  # type: ignore[arg-type]
    return table.frame.to_numpy().tolist()


def write_xlsx(
    path: Path, sheets: Mapping[str, Sequence[Sequence[object]]], hidden: tuple[str, ...] = ()
) -> Path:
    workbook = openpyxl.Workbook()
    assert workbook.active is not None
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        if title in hidden:
            sheet.sheet_state = "hidden"
    workbook.save(path)
    return path


def write_ods(path: Path, rows: list[list[object]], sheet: str = "Invoices", more_rows: str = "") -> Path:
    """A minimal OpenDocument spreadsheet written by hand (odfpy is not a dependency)."""

    def cell(value: object) -> str:
        if value is None:
            return "<table:table-cell/>"
        if isinstance(value, date):
            return (
                f'<table:table-cell office:value-type="date" office:date-value="{value.isoformat()}">'
                f"<text:p>{value.isoformat()}</text:p></table:table-cell>"
            )
        if isinstance(value, int | float):
            return (
                f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>"
            )
        text = escape(str(value))
        return f'<table:table-cell office:value-type="string"><text:p>{text}</text:p></table:table-cell>'

    body = "".join("<table:table-row>" + "".join(cell(v) for v in row) + "</table:table-row>" for row in rows)
    body += more_rows
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{sheet}">{body}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>"
    )
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
        archive.writestr("content.xml", content, zipfile.ZIP_DEFLATED)
    return path


# ----------------------------------------------------------------------------------------------- CSV


def test_european_csv_semicolons_cp1252_and_decimal_commas_kept_as_text() -> None:
    table = load_table(FIXTURES / "european.csv")
    assert list(table.frame.columns) == [
        "Rechnungsnummer",
        "Datum",
        "Fällig",
        "Kunde",
        "Währung",
        "Artikel",
        "Menge",
        "Preis",
    ]
    assert table.frame.iloc[0].tolist() == [
        "RE-0001",
        "01.02.2026",
        "03.03.2026",
        "Müller GmbH",
        "EUR",
        "Schraube €",
        "2",
        "1.234,50",
    ]
    assert table.frame["Preis"].tolist() == ["1.234,50", "0,75"]
    assert table.row_numbers == [2, 3]
    assert table.sheet is None


def test_utf8_bom_is_not_part_of_the_first_header() -> None:
    table = load_table(FIXTURES / "utf8_bom.csv")
    assert table.frame.columns[0] == "invoice_number"
    assert table.frame.loc[0, "contact"] == "Zoë Café"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_with_or_without_bom(tmp_path: Path, encoding: str) -> None:
    text = "invoice_number;contact\nINV-1;Zoë\n"
    path = tmp_path / "utf16.csv"
    path.write_bytes(text.encode(encoding))
    assert values(path) == [["INV-1", "Zoë"]]


def test_blank_and_whitespace_rows_are_skipped_but_counted() -> None:
    table = load_table(FIXTURES / "blank_rows.csv")
    assert table.frame["invoice_number"].tolist() == ["INV-1", "INV-2", "INV-3"]
    assert table.row_numbers == [2, 4, 7]


def test_continuation_rows_keep_blank_invoice_cells_as_none() -> None:
    table = load_table(FIXTURES / "continuation.csv")
    assert table.frame["Invoice No"].tolist() == ["INV-7", "INV-7", None]
    assert table.frame["Customer"].tolist() == ["billing@acme.example", None, None]
    assert table.frame["SKU"].tolist() == ["WID-001", "WID-002", "WID-003"]
    assert table.frame["Unit Price"].tolist() == ["7.70", "12.00", None]
    assert table.row_numbers == [2, 3, 4]


def test_identifiers_keep_leading_zeros_and_na_words_stay_text() -> None:
    table = load_table(FIXTURES / "leading_zeros.csv")
    assert table.frame.iloc[0].tolist()[:6] == ["00042", "2026-01-02", "2026-02-01", "0007", "EUR", "000123"]
    assert table.frame.iloc[1].tolist() == [
        "NA",
        "2026-01-02",
        "2026-02-01",
        "null",
        "EUR",
        "N/A",
        "2",
        "nan",
    ]
    assert all(isinstance(v, str) for v in table.frame.iloc[0])


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiter_is_sniffed(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "d.csv"
    path.write_text(
        f"a{delimiter}b{delimiter}c\n1,5{delimiter}x{delimiter}\n" if delimiter != "," else "a,b,c\n1.5,x,\n"
    )
    table = load_table(path)
    assert list(table.frame.columns) == ["a", "b", "c"]
    assert table.frame.iloc[0].tolist() == ["1,5" if delimiter != "," else "1.5", "x", None]


def test_format_options_override_detection(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("a|b;c\nü|x;y\n".encode("cp1252"))
    table = load_table(path, fmt=FormatOptions(encoding="cp1252", delimiter=";"))
    assert table.frame.to_numpy().tolist() == [["ü|x", "y"]]


def test_wrong_encoding_option_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes("a,b\nx,y\nMüller,z\n".encode("cp1252"))
    with pytest.raises(InputFileError, match=r"f\.csv: line 3 is not valid utf-8"):
        load_table(path, fmt=FormatOptions(encoding="utf-8"))
    assert values(path) == [["x", "y"], ["Müller", "z"]]  # detected as cp1252


def test_quoted_cells_with_delimiters_quotes_and_newlines(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text('item,line_description,qty\nW-1,"Bolts, 10 mm ""steel""",2\nW-2,"two\nlines",3\n')
    table = load_table(path)
    assert table.frame["line_description"].tolist() == ['Bolts, 10 mm "steel"', "two\nlines"]
    assert table.row_numbers == [2, 3]


def test_trailing_empty_cells_beyond_the_header_are_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2,,\n3,4\n5\n")
    table = load_table(path)
    assert table.frame.to_numpy().tolist() == [["1", "2"], ["3", "4"], ["5", None]]
    assert table.row_numbers == [2, 3, 4]


def test_leading_blank_lines_shift_the_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "lead.csv"
    path.write_text("\n\n  \na,b\n1,2\n")
    table = load_table(path)
    assert table.row_numbers == [5]


def test_previous_result_columns_are_dropped(tmp_path: Path) -> None:
    path = tmp_path / "again.csv"
    path.write_text(
        "invoice_number,Row,Import Status,CRM ID,crm_status,import_error,notes\n"
        "INV-1,2,invalid,,,bad date,keep\n"
    )
    table = load_table(path)
    assert list(table.frame.columns) == ["invoice_number", "notes"]


def test_an_older_results_sheets_result_block_is_dropped_but_a_status_column_elsewhere_is_input(
    tmp_path: Path,
) -> None:
    # before issue 14 the Rows sheet began with row, status, crm_id, error: that block is not input
    older = tmp_path / "older.csv"
    older.write_text("row,status,crm_id,error,invoice_number,Status 2\n2,created,7,,INV-1,x\n")
    assert list(load_table(older).frame.columns) == ["invoice_number", "Status 2"]
    # a status column anywhere else is the input's own (the status an invoice ends at)
    mine = tmp_path / "mine.csv"
    mine.write_text("invoice_number,Row,status,crm_id,error\nINV-1,2,Paid,,\n")
    assert list(load_table(mine).frame.columns) == ["invoice_number", "status", "error"]


def test_blank_header_named_by_letter_or_dropped_when_empty(tmp_path: Path) -> None:
    path = tmp_path / "blank.csv"
    path.write_text("a,,b,\n1,x,2,\n3,,4,\n")
    table = load_table(path)
    assert list(table.frame.columns) == ["a", "column B", "b"]
    assert table.frame["column B"].tolist() == ["x", None]


def test_sha256_of_the_file(tmp_path: Path) -> None:
    path = FIXTURES / "european.csv"
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha256_file(path) == expected
    assert load_table(path).sha256 == expected


def test_large_csv_is_read_within_a_small_factor_of_bare_pandas(tmp_path: Path) -> None:
    line = "INV-{0:06d},2026-01-02,2026-02-01,c{0}@example.com,EUR,SKU-{0},3,12.50,0,VAT,note,text\n"
    path = tmp_path / "big.csv"
    path.write_text(
        "invoice_number,issue_date,due_date,contact,currency,item,quantity,price,discount,"
        "tax1,description,line_description\n" + "".join(line.format(i) for i in range(50_000))
    )
    started = time.perf_counter()
    pd.read_csv(path)
    bare = time.perf_counter() - started
    started = time.perf_counter()
    table = load_table(path)
    ours = time.perf_counter() - started
    assert len(table.frame) == 50_000 and table.row_numbers[-1] == 50_001
    assert ours < max(8 * bare, 0.5), f"load_table {ours:.2f}s vs read_csv {bare:.2f}s"


# ----------------------------------------------------------------------------------------- workbooks


def test_workbook_keeps_native_dates_and_numbers(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "dates.xlsx",
        {
            "Invoices": [
                HEADER,
                [
                    "00012",
                    date(2026, 1, 2),
                    datetime(2026, 2, 1, 9, 30),
                    " a@example.com ",
                    "EUR",
                    "W-1",
                    3,
                    7.7,
                ],
            ]
        },
    )
    row = values(path)[0]
    assert row == [
        "00012",
        date(2026, 1, 2),
        datetime(2026, 2, 1, 9, 30),
        "a@example.com",
        "EUR",
        "W-1",
        3,
        7.7,
    ]
    assert isinstance(row[1], date) and isinstance(row[6], int) and isinstance(row[7], float)


def test_first_visible_sheet_is_read_and_sheet_option_chooses(tmp_path: Path) -> None:
    path = write_xlsx(
        tmp_path / "hidden.xlsx",
        {
            "Lists": [["currency"], ["EUR"]],
            "Invoices": [HEADER, ["INV-1", "2026-01-02", "2026-02-01", "a@example.com", "EUR", "W-1", 1, 2]],
        },
        hidden=("Lists",),
    )
    table = load_table(path)
    assert table.sheet == "Invoices"
    assert load_table(path, sheet="Lists").frame["currency"].tolist() == ["EUR"]
    assert load_table(path, sheet="invoices").sheet == "Invoices"


def test_unknown_sheet_lists_the_sheets(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "s.xlsx", {"One": [["a"], [1]], "Two": [["b"], [2]]})
    with pytest.raises(InputFileError, match=r"s\.xlsx: has no sheet named 'Three'; its sheets are: 'One', "):
        load_table(path, sheet="Three")


def test_workbook_rows_keep_their_spreadsheet_numbers(tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["B3"], sheet["C3"] = "invoice_number", "quantity"
    sheet["B4"], sheet["C4"] = "INV-1", 1
    sheet["B6"], sheet["C6"] = "  ", None  # whitespace only: blank
    sheet["B8"], sheet["C8"] = "INV-2", 2
    workbook.save(tmp_path / "offset.xlsx")
    table = load_table(tmp_path / "offset.xlsx")
    assert table.frame.to_numpy().tolist() == [["INV-1", 1], ["INV-2", 2]]
    assert table.row_numbers == [4, 8]


def test_xlsx_content_with_an_xls_name_is_read(tmp_path: Path) -> None:
    source = write_xlsx(tmp_path / "real.xlsx", {"S": [["a"], ["x"]]})
    renamed = tmp_path / "export.xls"
    renamed.write_bytes(source.read_bytes())
    assert values(renamed) == [["x"]]


def test_xlsm_is_read(tmp_path: Path) -> None:
    source = write_xlsx(tmp_path / "real.xlsx", {"S": [["a"], ["x"]]})
    macro = tmp_path / "book.xlsm"
    macro.write_bytes(source.read_bytes())
    assert values(macro) == [["x"]]


def test_ods_is_read_with_dates_and_numbers(tmp_path: Path) -> None:
    path = write_ods(
        tmp_path / "book.ods",
        [
            ["invoice_number", "issue_date", "quantity"],
            ["0042", date(2026, 1, 2), 2.5],
            [None, None, None],
            ["INV-2", date(2026, 1, 3), 4],
        ],
    )
    table = load_table(path)
    assert table.frame.to_numpy().tolist() == [
        ["0042", date(2026, 1, 2), 2.5],
        ["INV-2", date(2026, 1, 3), 4],
    ]
    assert table.row_numbers == [2, 4]
    assert table.sheet == "Invoices"


def test_ods_repeated_rows_are_read_and_empty_repeats_do_not_count_towards_the_cell_limit(
    tmp_path: Path,
) -> None:
    valued = '<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>'
    more_rows = (
        '<table:table-row table:number-rows-repeated="3">'
        + valued.format("INV-2")
        + valued.replace("<table:table-cell ", '<table:table-cell table:number-columns-repeated="2" ').format(
            "x"
        )
        + '<table:table-cell table:number-columns-repeated="16380"/></table:table-row>'
        # as LibreOffice ends every sheet: the rest of the rows and columns, empty
        + '<table:table-row table:number-rows-repeated="1048570">'
        + '<table:table-cell table:number-columns-repeated="16384"/></table:table-row>'
    )
    path = write_ods(
        tmp_path / "lo.ods", [["invoice_number", "b", "c"], ["INV-1", "y", "z"]], more_rows=more_rows
    )
    table = load_table(path)
    assert table.frame.to_numpy().tolist() == [["INV-1", "y", "z"]] + [["INV-2", "x", "x"]] * 3
    assert table.row_numbers == [2, 3, 4, 5]


def test_workbook_with_an_empty_sheet_is_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    openpyxl.Workbook().save(buffer)
    path = tmp_path / "blank.xlsx"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(InputFileError, match=r"blank\.xlsx: sheet 'Sheet' is empty"):
        load_table(path)


# ------------------------------------------------------------------------- fast paths keep the behaviour


@pytest.mark.parametrize(
    "body",
    [
        "a,b\nx,1\n",  # plain: no stripping needed
        "a,b\n x,1\n",  # space after a line break
        "a,b\nx ,1\n",  # space before a delimiter
        "a,b\nx,1 ",  # space at the end of the file
        'a,b\n" x ",1\n',  # quoted
        "a,b\nx,\u00a01\n",  # a non-breaking space
        "a;b\nx ; 1\n",
        "a,b\nx,\n,\n",  # empty cells and a blank row
    ],
)
def test_csv_cells_are_stripped_whether_or_not_the_bytes_show_spaces(tmp_path: Path, body: str) -> None:
    path = tmp_path / "t.csv"
    path.write_text(body, encoding="utf-8")
    rows = values(path)
    assert rows[0][0] == "x"
    assert all(value is None or (value == value.strip() and value) for row in rows for value in row)


def test_long_unquoted_csv_cell_is_refused_with_its_row(tmp_path: Path) -> None:
    path = tmp_path / "long.csv"
    path.write_text(",".join(HEADER) + "\nA1,2026-01-01,2026-02-01,c,EUR," + "x" * 40_000 + ",1,2\n")
    with pytest.raises(InputFileError, match="row 2, column 'item' holds 40,000 characters"):
        load_table(path)


def test_workbook_number_columns_cleaned_at_once(tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "n.xlsx", {"S": [["a", "b"], [1.0, 2.5], [None, -0.0], [7.25, 2.0**53]]})
    assert values(path) == [[1, 2.5], [None, 0], [7.25, float(2**53)]]
    assert [type(v) for v in values(path)[0]] == [int, float]


def test_sparse_cell_far_below_is_refused_even_where_probes_are_used(tmp_path: Path) -> None:
    limit = MAX_SHEET_CELLS // 26
    pattern = re.compile(b"(?:" + _greater_than(limit) + b")")
    for number in (0, 1, limit - 1, limit, limit + 1, 999_999, 1_000_000, 9_999_999):
        assert (pattern.fullmatch(str(number).encode()) is not None) == (number > limit)
    path = write_xlsx(tmp_path / "far.xlsx", {"S": [["a"], [1]]})
    data = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(data, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename.startswith("xl/worksheets/"):
                far = f'<row r="{limit + 1}"><c r="Z{limit + 1}" t="n"><v>1</v></c></row>'.encode()
                content = content.replace(b"</sheetData>", far + b"</sheetData>")
            target.writestr(item, content)
    path.write_bytes(data.getvalue())
    with pytest.raises(InputFileError, match=f"row {limit + 1}, column 26"):
        load_table(path)


def assert_coded_like_the_frame(table: RawTable) -> None:
    """Each column coded by the loader reads back as the frame, with each value once and every one used."""
    assert set(table.coded) == set(table.frame.columns)
    for name, coded in table.coded.items():
        assert coded.values[coded.codes].tolist() == table.frame[name].tolist(), name
        distinct = coded.values[:-1].tolist()
        assert coded.values[-1] is None and None not in distinct
        assert all(value == value.strip() and value for value in distinct if isinstance(value, str)), name
        assert len(set(map(repr, distinct))) == len(distinct), name
        assert sorted(set(coded.codes[coded.codes >= 0].tolist())) == list(range(len(distinct))), name


@pytest.mark.parametrize(
    "body",
    [
        "a,b,c\nx,1,\nx ,1, \n x,2,z\n\n,3,z\n",  # equal once stripped; blank cells; a blank row
        "a;b\n a ;a\nb;a\n",  # the header's text among the data
        'a,b\n"",1\n" ",2\nb,\n',
    ],
)
def test_csv_columns_are_coded_by_distinct_stripped_value(tmp_path: Path, body: str) -> None:
    path = tmp_path / "c.csv"
    path.write_text(body, encoding="utf-8")
    assert_coded_like_the_frame(load_table(path))


def test_workbook_columns_are_coded_without_merging_true_and_one(tmp_path: Path) -> None:
    rows = [["a", "b"], [1.0, "x"], [True, " x"], [None, date(2026, 1, 2)], [1.5, "x"]]
    table = load_table(write_xlsx(tmp_path / "w.xlsx", {"S": rows}))
    assert table.frame["a"].tolist() == [1, True, None, 1.5]
    assert [type(value) for value in table.frame["a"].tolist()] == [int, bool, type(None), float]
    assert_coded_like_the_frame(table)
    assert table.coded["a"].codes.tolist() == [0, 1, -1, 2]
    assert table.coded["b"].codes.tolist() == [0, 0, 1, 0]


def test_legacy_biff_xls_is_read_with_its_dates_numbers_and_text() -> None:
    """A real Excel 97-2003 file (written by xlwt: tests/fixtures/load/make_legacy_xls.py)."""
    table = load_table(FIXTURES / "legacy.xls", sheet="Invoices")
    assert table.sheet == "Invoices" and table.row_numbers == [2, 3, 4]
    assert table.frame.to_numpy().tolist() == [
        [
            "INV-XLS-1",
            date(2026, 6, 1),
            date(2026, 7, 1),
            "accounts@globex.example",
            "EUR",
            "0042",
            2.5,
            19.99,
        ],
        ["INV-XLS-1", None, None, None, None, "SHIP", 1, 7.7],
        ["INV-XLS-2", date(2026, 6, 2), date(2026, 7, 2), "Acme Ltd", "USD", "WID-001", 10, 2.9],
    ]
    assert_coded_like_the_frame(table)


def test_a_first_sheet_without_data_names_the_other_sheets() -> None:
    with pytest.raises(
        InputFileError, match=r"sheet 'Notes': .* no data rows; .* --sheet \(the others: 'Invoices'\)"
    ):
        load_table(FIXTURES / "legacy.xls")
