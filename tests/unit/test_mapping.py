"""Stage 2, map: headers to canonical columns; the --mapping TOML file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from importer.columns import CANONICAL, REQUIRED
from importer.errors import InputFileError, MappingFileError, MissingColumnsError
from importer.load import load_table
from importer.mapping import closest_headers, load_mapping, map_columns
from importer.models import FormatOptions, MappingConfig, RawTable

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "load"
FULL = ["invoice_number", "issue_date", "due_date", "contact", "currency", "item", "quantity"]


def raw(headers: list[str], *rows: list[object], name: str = "in.csv") -> RawTable:
    frame = pd.DataFrame([list(row) for row in rows], columns=headers, dtype=object)
    return RawTable(frame=frame, row_numbers=list(range(2, 2 + len(rows))), source=Path(name))


def mapping_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "map.toml"
    path.write_text(text, encoding="utf-8")
    return path


# ----------------------------------------------------------------------------------------- headers


def test_aliases_match_ignoring_case_spaces_underscores_and_punctuation() -> None:
    table = map_columns(load_table(FIXTURES / "continuation.csv"))
    assert table.headers == {
        "invoice_number": "Invoice No",
        "issue_date": "Invoice Date",
        "due_date": "Payment Due",
        "contact": "Customer",
        "currency": "Currency",
        "item": "SKU",
        "quantity": "Qty",
        "price": "Unit Price",
    }
    assert table.extras == []
    assert table.frame["contact"].tolist() == ["billing@acme.example", None, None]
    assert table.frame["row"].tolist() == [2, 3, 4]


def test_frame_has_every_canonical_column_then_row() -> None:
    table = map_columns(raw([*FULL, "Notes", "Colour"], ["1", "d", "d", "c", "EUR", "i", "2", "n", "red"]))
    assert list(table.frame.columns) == [*CANONICAL, "row"]
    assert table.frame["tax2"].tolist() == [None]
    assert table.frame["description"].tolist() == ["n"]  # "Notes" is an alias
    assert table.extras == ["Colour"]
    assert str(table.frame["row"].dtype) == "int64"
    assert all(table.frame[name].dtype == object for name in CANONICAL)


def test_values_are_passed_through_untouched() -> None:
    table = map_columns(raw(FULL, ["007", 3.5, None, "c", "EUR", "i", 2]))
    assert table.frame.loc[0, "invoice_number"] == "007"
    assert table.frame.loc[0, "issue_date"] == 3.5
    assert table.frame.loc[0, "due_date"] is None
    assert table.frame.loc[0, "quantity"] == 2


def test_two_headers_for_one_column_are_refused_naming_both() -> None:
    with pytest.raises(
        InputFileError,
        match=r"in\.csv: the headers 'Customer' and 'Client' both mean column "
        r"'contact'",
    ):
        map_columns(raw([*FULL[:3], "Customer", "Client", *FULL[4:]], ["x"] * 8))


def test_missing_required_columns_listed_with_closest_headers_and_the_mapping_hint() -> None:
    with pytest.raises(MissingColumnsError) as caught:
        map_columns(raw(["Invoice_Number", "Datum", "Due Date", "Kunde", "Artikel", "Menge"], ["1"] * 6))
    error = caught.value
    assert error.missing == ["issue_date", "contact", "currency", "item", "quantity"]
    message = str(error)
    assert message.startswith("in.csv: required columns missing: issue_date (closest headers: 'Datum')")
    assert "[columns]" in message and "--mapping" in message
    assert "\n" not in message


def test_a_currency_default_makes_the_currency_column_optional() -> None:
    headers = [name for name in FULL if name != "currency"]
    with pytest.raises(MissingColumnsError, match="currency"):
        map_columns(raw(headers, ["x"] * 6))
    table = map_columns(raw(headers, ["x"] * 6), MappingConfig(defaults={"currency": "EUR"}))
    assert table.defaults == {"currency": "EUR"}
    assert table.frame["currency"].tolist() == [None]


def test_mapping_columns_add_to_the_aliases_and_win_over_them() -> None:
    config = MappingConfig(columns={"Rechnungsnummer": "invoice_number", "number": "purchase_order_number"})
    table = map_columns(
        raw(["Rechnungsnummer", "Number", *FULL[1:]], ["R-1", "PO-9", "d", "d", "c", "EUR", "i", "2"]), config
    )
    assert table.headers["invoice_number"] == "Rechnungsnummer"
    assert table.headers["purchase_order_number"] == "Number"
    assert table.frame.loc[0, "purchase_order_number"] == "PO-9"


def test_mapped_header_absent_from_the_file_names_the_closest() -> None:
    config = MappingConfig(columns={"Rechnungsnumer": "invoice_number"})
    with pytest.raises(
        MappingFileError,
        match=r"\"Rechnungsnumer\": in\.csv has no such header "
        r"\(closest headers: 'Rechnungsnummer'\)",
    ):
        map_columns(raw(["Rechnungsnummer", *FULL[1:]], ["x"] * 7), config)


def test_unknown_canonical_name_in_a_config_is_a_mapping_error() -> None:
    with pytest.raises(MappingFileError, match="'invoice_no' is not a column name"):
        map_columns(raw(FULL, ["x"] * 7), MappingConfig(columns={"invoice_number": "invoice_no"}))
    with pytest.raises(MappingFileError, match="'colour' is not a column name"):
        map_columns(raw(FULL, ["x"] * 7), MappingConfig(defaults={"colour": "red"}))


def test_closest_headers_compares_with_aliases() -> None:
    assert closest_headers("quantity", ["Quantität", "Price", "qtty"]) == ["qtty", "Quantität"]
    assert closest_headers("contact", ["Kontakt", "Kunde", "x"]) == ["Kontakt"]
    assert closest_headers("item", ["Colour"]) == []


def test_required_columns_are_the_contract() -> None:
    assert set(REQUIRED) == {
        "invoice_number",
        "issue_date",
        "due_date",
        "contact",
        "currency",
        "item",
        "quantity",
    }


# ------------------------------------------------------------------------------------------- TOML


def test_mapping_file_is_read(tmp_path: Path) -> None:
    path = mapping_file(
        tmp_path,
        """
[columns]
"Rechnungsnummer" = "invoice_number"
"Kunde" = "Contact"

[defaults]
currency = "EUR"
language = "de-DE"
exchange_rate = 1.5

[format]
encoding = "cp1252"
delimiter = "tab"
decimal = ","
date = "%d.%m.%Y"
""",
    )
    config = load_mapping(path)
    assert config.columns == {"Rechnungsnummer": "invoice_number", "Kunde": "contact"}
    assert config.defaults == {"currency": "EUR", "language": "de-DE", "exchange_rate": "1.5"}
    assert config.format == FormatOptions(encoding="cp1252", delimiter="\t", decimal=",", date="%d.%m.%Y")


def test_empty_mapping_file_is_an_empty_config(tmp_path: Path) -> None:
    assert load_mapping(mapping_file(tmp_path, "")) == MappingConfig()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[columns]\nKunde = contact\n", "not valid TOML"),
        ('[columns]\n"Kunde" = "customer_name"\n', "'customer_name' is not a column name"),
        ('[columns]\n"Kunde" = 3\n', "must name a column"),
        ('[defaults]\ncolour = "red"\n', "'colour' is not a column name"),
        ('[defaults]\ncurrency = ["EUR"]\n', "must be a text or a number"),
        ('[format]\nthousands = "."\n', "unknown key 'thousands'"),
        ('[format]\ndecimal = ";"\n', "decimal ';' must be"),
        ('[format]\nencoding = "klingon"\n', "not a known encoding"),
        ('[format]\ndelimiter = "ab"\n', "must be one character"),
        ('[format]\ndate = "%d.%m"\n', "not a full date format"),
        ('[format]\ndate = "dd.mm.yyyy"\n', "not a full date format"),
        ('[colums]\n"a" = "item"\n', "unknown section 'colums'"),
        ('columns = "item"\n', "must be a [columns] section"),
    ],
)
def test_bad_mapping_files_are_refused_naming_the_problem(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(MappingFileError) as caught:
        load_mapping(mapping_file(tmp_path, text))
    assert fragment in str(caught.value)
    assert "map.toml" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_missing_or_binary_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(MappingFileError, match="not found"):
        load_mapping(tmp_path / "nope.toml")
    with pytest.raises(MappingFileError, match="folder"):
        load_mapping(tmp_path)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(MappingFileError, match="not UTF-8"):
        load_mapping(binary)


def test_european_file_with_a_mapping_end_to_end(tmp_path: Path) -> None:
    config = load_mapping(
        mapping_file(
            tmp_path,
            """
[columns]
"Rechnungsnummer" = "invoice_number"
"Datum" = "issue_date"
"Fällig" = "due_date"
"Kunde" = "contact"
"Währung" = "currency"
"Artikel" = "item"
"Menge" = "quantity"
"Preis" = "price"
[format]
encoding = "cp1252"
delimiter = ";"
""",
        )
    )
    table = map_columns(load_table(FIXTURES / "european.csv", fmt=config.format), config)
    assert table.frame["price"].tolist() == ["1.234,50", "0,75"]
    assert table.frame["contact"].tolist() == ["Müller GmbH", None]
    assert table.frame["row"].tolist() == [2, 3]
    assert table.extras == []
