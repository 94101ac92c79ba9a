"""validate_table: parse, defaults, continuation rows, every rule, errors located by row and column."""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from importer.columns import CANONICAL
from importer.errors import FormatUndecidedError, MappingFileError
from importer.load import load_table
from importer.mapping import map_columns
from importer.models import FormatOptions, MappedTable, MappingConfig, RawTable, Validation
from importer.validate import validate_table

GOOD = {
    "invoice_number": "INV-1",
    "issue_date": "2026-06-01",
    "due_date": "2026-07-01",
    "contact": "acme",
    "currency": "EUR",
    "item": "WID-001",
    "quantity": "100",
    "price": "7.70",
}


CODED = {"by the loader": True}


@pytest.fixture(autouse=True, params=["coded by the loader", "as given"])
def loader_coding(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test twice: with the columns cleaned and coded as the loader does, and as a bare frame
    (validate_table codes what the loader did not)."""
    CODED["by the loader"] = request.param == "coded by the loader"
    yield
    CODED["by the loader"] = True


def table(*rows: dict[str, Any], defaults: dict[str, str] | None = None) -> MappedTable:
    if CODED["by the loader"] and rows:  # (the loader refuses a file without rows)
        return _loaded(rows, defaults or {})
    data: dict[str, list[Any]] = {c: [r.get(c) for r in rows] for c in CANONICAL}
    numbers = list(range(2, 2 + len(rows)))
    frame = pd.DataFrame(data, dtype=object)
    frame["row"] = numbers
    raw = RawTable(frame=frame, row_numbers=numbers, source=Path("in.csv"))
    headers = {c: c for c in CANONICAL}
    return MappedTable(raw=raw, frame=frame, headers=headers, defaults=defaults or {})


def _loaded(rows: tuple[dict[str, Any], ...], defaults: dict[str, str]) -> MappedTable:
    """The rows as a workbook on disk, read back by the loader (cleaned and coded as it does)."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(CANONICAL))
    for number, row in enumerate(rows, start=2):
        for column, name in enumerate(CANONICAL, start=1):
            value = row.get(name)
            if value is not None:
                cell = sheet.cell(row=number, column=column, value=value)
                if isinstance(value, str):
                    cell.data_type = "s"  # never a formula
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "in.xlsx"
        book.save(path)
        return map_columns(load_table(path), MappingConfig(defaults=defaults))


def located(validation: Validation) -> list[tuple[int | None, str | None, str]]:
    return [(e.row, e.column, e.code) for e in validation.errors]


def test_a_clean_invoice_of_two_lines_with_continuation_rows() -> None:
    result = validate_table(
        table(
            GOOD,
            {
                "invoice_number": "INV-1",
                "item": "GAD-002",
                "quantity": "2",
                "price": "19.99",
                "discount": "10",
            },
        )
    )
    assert result.errors == ()
    [invoice] = result.invoices
    assert invoice.number == "INV-1" and invoice.rows == (2, 3) and invoice.is_valid
    assert invoice.issue_date == dt.date(2026, 6, 1) and invoice.due_date == dt.date(2026, 7, 1)
    assert invoice.currency == "EUR" and invoice.contact == "acme"
    assert invoice.exchange_rate == Decimal(1) and invoice.language == "en-US" and invoice.template_type == 0
    assert [(line.item, line.quantity, line.price, line.discount) for line in invoice.lines] == [
        ("WID-001", Decimal(100), Decimal("7.70"), Decimal(0)),
        ("GAD-002", Decimal(2), Decimal("19.99"), Decimal(10)),
    ]
    assert invoice.total == Decimal("805.98")  # 770.00 + (39.98 - 4.00)


def test_non_contiguous_rows_form_one_invoice_in_row_order() -> None:
    result = validate_table(
        table(
            GOOD,
            dict(GOOD, invoice_number="INV-2"),
            {"invoice_number": "INV-1", "item": "X", "quantity": "1"},
        )
    )
    assert [(i.number, i.rows) for i in result.invoices] == [("INV-1", (2, 4)), ("INV-2", (3,))]
    assert result.invoices[0].total is None  # a catalogue price is still to be looked up


def test_european_file() -> None:
    row = dict(
        GOOD,
        issue_date="01.06.2026",
        due_date="01.07.2026",
        quantity="1.000",
        price="1.234,50",
        exchange_rate="1,1",
        invoice_total="1.234.500,50",
    )
    second = {"invoice_number": "INV-1", "item": "W", "quantity": "0,5", "price": "1,00"}
    result = validate_table(table(row, second))
    assert result.errors == ()
    [invoice] = result.invoices
    assert invoice.lines[0].quantity == Decimal(1000) and invoice.lines[0].price == Decimal("1234.50")
    assert invoice.exchange_rate == Decimal("1.1") and invoice.total == Decimal("1234500.50")


def test_workbook_values() -> None:
    row = dict(
        GOOD,
        invoice_number=1001.0,
        issue_date=dt.datetime(2026, 6, 1),
        due_date=dt.date(2026, 7, 1),
        quantity=3.0,
        price=7.7,
        item=731.0,
        deal_id=12.0,
    )
    [invoice] = validate_table(table(row)).invoices
    assert invoice.number == "1001" and invoice.lines[0].item == "731" and invoice.deal_id == 12
    assert invoice.lines[0].price == Decimal("7.7") and invoice.total == Decimal("23.10")


def test_ambiguous_column_raises() -> None:
    with pytest.raises(FormatUndecidedError, match="quantity"):
        validate_table(table(dict(GOOD, quantity="1.250")))
    result = validate_table(table(dict(GOOD, quantity="1.250")), FormatOptions(decimal=","))
    assert result.invoices[0].lines[0].quantity == Decimal(1250)


def test_date_order_from_the_format_option() -> None:
    row = dict(GOOD, issue_date="06/01/2026", due_date="07/01/2026")
    with pytest.raises(FormatUndecidedError, match="issue_date"):
        validate_table(table(row))
    [invoice] = validate_table(table(row), FormatOptions(date="%m/%d/%Y")).invoices
    assert invoice.issue_date == dt.date(2026, 6, 1)


def test_defaults_from_the_mapping_then_built_in() -> None:
    row = {k: v for k, v in GOOD.items() if k != "currency"}
    result = validate_table(table(row, defaults={"currency": "usd", "language": "de-de", "discount": "5"}))
    assert result.errors == ()
    [invoice] = result.invoices
    assert (
        invoice.currency == "USD" and invoice.language == "de-DE" and invoice.lines[0].discount == Decimal(5)
    )
    assert invoice.terms is None and invoice.exchange_rate == Decimal(1)


def test_unreadable_default_is_a_mapping_error() -> None:
    with pytest.raises(MappingFileError, match="exchange_rate"):
        validate_table(table(GOOD, defaults={"exchange_rate": "one"}))


def test_required_cells() -> None:
    row = {"invoice_number": "INV-1", "contact": "acme", "item": "W"}
    result = validate_table(
        table(row, {"invoice_number": None, "contact": "acme", "item": "W", "quantity": "1"})
    )
    assert located(result) == [
        (2, "issue_date", "required"),
        (2, "due_date", "required"),
        (2, "currency", "required"),
        (2, "quantity", "required"),
        (3, "invoice_number", "required"),
    ]
    assert "no invoice number" in result.errors[-1].message
    assert [i.rows for i in result.invoices] == [(2,)] and not result.invoices[0].is_valid


def test_a_row_with_no_number_and_no_invoice_cells_continues_the_invoice_above() -> None:
    line = {"item": "W2", "quantity": "2"}
    result = validate_table(table(GOOD, line, line, {**GOOD, "invoice_number": "INV-2"}, line))
    assert result.errors == ()
    assert [i.rows for i in result.invoices] == [(2, 3, 4), (5, 6)]
    assert [line.item for line in result.invoices[0].lines] == [GOOD["item"], "W2", "W2"]


def test_continuation_stops_at_a_row_that_looks_like_a_new_invoice_without_a_number() -> None:
    line = {"item": "W2", "quantity": "2"}
    orphan = {**GOOD, "invoice_number": None}
    result = validate_table(table(line, GOOD, orphan, line))
    assert [(e.row, e.column) for e in result.errors if e.code == "required"] == [
        (2, "invoice_number"),
        (4, "invoice_number"),
        (5, "invoice_number"),
    ]
    assert [i.rows for i in result.invoices] == [(3,)] and result.invoices[0].is_valid


def test_invoice_level_cells_must_agree() -> None:
    second = {
        "invoice_number": "INV-1",
        "item": "W",
        "quantity": "1",
        "currency": "usd",
        "contact": "acme",
        "issue_date": "2026-06-02",
        "exchange_rate": "1.00",
    }
    result = validate_table(table(dict(GOOD, exchange_rate="1"), second))
    assert located(result) == [(3, "issue_date", "inconsistent"), (3, "currency", "inconsistent")]
    assert "row 2" in result.errors[1].message.lower() and "EUR" in result.errors[1].message
    assert result.errors[1].value == "usd"
    assert all(e.row != 2 for e in result.errors)
    assert len(result.invoices[0].errors) == 2


def test_numbers_differing_only_in_case_make_both_invoices_invalid() -> None:
    result = validate_table(
        table(GOOD, dict(GOOD, invoice_number="inv-1"), dict(GOOD, invoice_number="INV-2"))
    )
    assert located(result) == [
        (2, "invoice_number", "duplicate_number"),
        (3, "invoice_number", "duplicate_number"),
    ]
    assert "'inv-1' (row 3)" in result.errors[0].message
    assert [i.is_valid for i in result.invoices] == [False, False, True]


def test_due_date_before_issue_date() -> None:
    result = validate_table(table(dict(GOOD, due_date="2026-05-31")))
    assert located(result) == [(2, "due_date", "due_before_issue")]
    assert result.errors[0].value == "2026-05-31"


def test_unparseable_cells() -> None:
    result = validate_table(table(dict(GOOD, issue_date="someday", quantity="lots", deal_id="D1")))
    assert located(result) == [(2, "issue_date", "date"), (2, "deal_id", "number"), (2, "quantity", "number")]


@pytest.mark.parametrize(
    ("column", "value", "code"),
    [
        ("quantity", "-1", "range"),
        ("price", "-0.01", "range"),
        ("discount", "100.5", "range"),
        ("discount", "-5", "range"),
        ("exchange_rate", "0", "range"),
        ("quantity", "1.0051", "decimals"),
        ("price", "7.7751", "decimals"),
        ("price", "100000000", "too_large"),
        ("invoice_total", "100000000.00", "too_large"),
        ("currency", "XYZ", "currency"),
        ("language", "klingon", "language"),
        ("template_type", "USD", "template_type"),
        ("deal_id", "0", "range"),
    ],
)
def test_value_rules(column: str, value: str, code: str) -> None:
    result = validate_table(table(dict(GOOD, **{column: value})))
    assert located(result) == [(2, column, code)]
    assert result.errors[0].value == value and result.errors[0].message
    assert not result.invoices[0].is_valid


def test_repeated_bad_invoice_level_value_is_reported_where_written_only() -> None:
    result = validate_table(
        table(
            dict(GOOD, currency="XYZ"),
            {"invoice_number": "INV-1", "item": "W", "quantity": "1", "currency": "xyz"},
            {"invoice_number": "INV-1", "item": "W", "quantity": "1"},
        )
    )
    assert located(result) == [(2, "currency", "currency"), (3, "currency", "currency")]


def test_case_insensitive_values_normalised() -> None:
    [invoice] = validate_table(
        table(dict(GOOD, currency="eur", language="EN-gb", template_type="rus"))
    ).invoices
    assert (invoice.currency, invoice.language, invoice.template_type) == ("EUR", "en-GB", 1)
    [invoice] = validate_table(table(dict(GOOD, template_type=1.0))).invoices
    assert invoice.template_type == 1


def test_expected_total_mismatch() -> None:
    result = validate_table(table(dict(GOOD, invoice_total="770.01")))
    assert located(result) == [(2, "invoice_total", "total_mismatch")]
    assert "770.01" in result.errors[0].message and "770.00" in result.errors[0].message
    assert result.invoices[0].errors == result.errors
    assert not validate_table(table(dict(GOOD, invoice_total="770"))).errors


def test_taxed_invoice_leaves_the_total_to_the_online_stage() -> None:
    [invoice] = validate_table(table(dict(GOOD, tax1="VAT 20%", invoice_total="1"))).invoices
    assert invoice.total is None and invoice.is_valid and invoice.lines[0].tax1 == "VAT 20%"


def test_errors_sorted_by_row_then_column() -> None:
    result = validate_table(
        table(dict(GOOD, price="-1", currency="XYZ"), dict(GOOD, invoice_number="B", quantity="x"))
    )
    assert located(result) == [(2, "currency", "currency"), (2, "price", "range"), (3, "quantity", "number")]


def test_empty_table() -> None:
    result = validate_table(table())
    assert result.invoices == () and result.errors == ()


def test_an_invoice_number_with_a_line_break_is_shown_on_one_line_in_messages() -> None:
    result = validate_table(
        table({**GOOD, "invoice_number": "A\nB"}, {"invoice_number": "A\nB", "item": "X", "currency": "USD"})
    )
    [error] = [e for e in result.errors if e.code == "inconsistent"]
    assert "\n" not in error.message and "invoice 'A\\nB' has currency 'EUR'" in error.message
