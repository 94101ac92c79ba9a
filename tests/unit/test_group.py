"""group_rows: rows sharing a number form one invoice, errors attached, offline totals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from importer.columns import CANONICAL
from importer.group import group_rows
from importer.models import CellError, Coded, Invoice, MappedTable, RawTable, objects
from importer.totals import line_cost
from importer.validate import ValidatedRows

D = Decimal


def frame(*rows: dict[str, Any]) -> pd.DataFrame:
    base = {
        "issue_date": dt.date(2026, 6, 1),
        "due_date": dt.date(2026, 7, 1),
        "contact": "acme",
        "currency": "EUR",
        "exchange_rate": D(1),
        "language": "en-US",
        "template_type": 0,
        "discount": D(0),
        "item": "W",
        "quantity": D(1),
        "price": D("7.70"),
    }
    data = [{**{c: None for c in CANONICAL}, **base, **row} for row in rows]
    result = pd.DataFrame(data, dtype=object)
    result["row"] = range(2, 2 + len(rows))
    return result


def group_invoices(typed: pd.DataFrame, errors: list[CellError]) -> list[Invoice]:
    """group_rows on validated rows made by hand from a frame of typed values (as check_rows types them)."""
    codes, numbers = pd.factorize(typed["invoice_number"], sort=False)
    rows = typed["row"].to_numpy().astype(int)
    raw = RawTable(frame=typed, row_numbers=rows.tolist(), source=Path("in.csv"))
    validated = ValidatedRows(
        table=MappedTable(raw=raw, frame=typed, headers={}),
        rows=rows,
        key=Coded(codes, objects([*numbers, None])),
        columns={name: Coded.of(typed[name]) for name in CANONICAL if name != "invoice_number"},
        errors=tuple(errors),
    )
    validation = group_rows(validated)
    mismatches = [e for i in validation.invoices for e in i.errors if e.code == "total_mismatch"]
    assert list(validation.errors) == sorted([*errors, *mismatches], key=lambda e: e.row or 0)
    return list(validation.invoices)


def test_rows_sharing_a_number_in_order_of_first_appearance() -> None:
    invoices = group_invoices(
        frame(
            {"invoice_number": "B"},
            {"invoice_number": "A"},
            {"invoice_number": "B", "item": "X", "quantity": D(3)},
        ),
        [],
    )
    assert [(i.number, i.rows) for i in invoices] == [("B", (2, 4)), ("A", (3,))]
    assert [(line.row, line.item, line.quantity) for line in invoices[0].lines] == [
        (2, "W", D(1)),
        (4, "X", D(3)),
    ]
    assert invoices[0].total == D("30.80") and invoices[1].total == D("7.70")


def test_invoice_fields_come_from_the_first_row() -> None:
    [invoice] = group_invoices(
        frame(
            {
                "invoice_number": "A",
                "terms": "Net 30",
                "deal_id": 12,
                "template_type": 1,
                "exchange_rate": D("1.1"),
                "invoice_total": D("15.40"),
                "line_description": "first",
            },
            {"invoice_number": "A", "terms": "ignored", "line_description": "second"},
        ),
        [],
    )
    assert (invoice.terms, invoice.deal_id, invoice.template_type, invoice.exchange_rate) == (
        "Net 30",
        12,
        1,
        D("1.1"),
    )
    assert invoice.expected_total == D("15.40") and invoice.errors == ()
    assert [line.description for line in invoice.lines] == ["first", "second"]


def test_rows_without_a_number_form_no_invoice() -> None:
    assert group_invoices(frame({"invoice_number": None}), []) == []


def test_errors_are_attached_to_the_invoice_of_their_row() -> None:
    problem = CellError("bad", row=3, column="price", code="range")
    elsewhere = CellError("no number", row=9, column="invoice_number", code="required")
    invoices = group_invoices(
        frame({"invoice_number": "A"}, {"invoice_number": "A"}, {"invoice_number": "B"}), [problem, elsewhere]
    )
    assert invoices[0].errors == (problem,) and not invoices[0].is_valid and invoices[0].total is None
    assert invoices[1].errors == () and invoices[1].is_valid


def test_total_mismatch() -> None:
    [invoice] = group_invoices(frame({"invoice_number": "A", "invoice_total": D("7.71")}), [])
    assert invoice.total == D("7.70")
    [error] = invoice.errors
    assert (error.row, error.column, error.code) == (2, "invoice_total", "total_mismatch")
    assert "7.71" in error.message and "7.70" in error.message


def test_unknown_price_or_a_tax_leaves_the_total_to_the_online_stage() -> None:
    [untaxed] = group_invoices(frame({"invoice_number": "A", "price": None, "invoice_total": D(1)}), [])
    [taxed] = group_invoices(frame({"invoice_number": "A", "tax2": "VAT", "invoice_total": D(1)}), [])
    assert untaxed.total is None and taxed.total is None
    assert untaxed.errors == () and taxed.errors == ()
    assert untaxed.lines[0].price is None and taxed.lines[0].tax2 == "VAT"


amounts = st.decimals(
    min_value=0, max_value=Decimal("99999999.99"), places=2, allow_nan=False, allow_infinity=False
)
percents = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.tuples(amounts, amounts, percents), min_size=1, max_size=4), min_size=1, max_size=4)
)
def test_offline_total_equals_the_crm_arithmetic(
    invoices: list[list[tuple[Decimal, Decimal, Decimal]]],
) -> None:
    rows = [
        {"invoice_number": f"N{n}", "price": p, "quantity": q, "discount": d}
        for n, lines in enumerate(invoices)
        for p, q, d in lines
    ]
    grouped = group_invoices(frame(*rows), [])
    assert [invoice.total for invoice in grouped] == [
        sum((line_cost(x.price, x.quantity, x.discount, None, None) for x in invoice.lines), D(0))
        for invoice in grouped
    ]


def test_lines_are_built_on_first_use_once_for_every_invoice() -> None:
    first, second = group_invoices(
        frame({"invoice_number": "A"}, {"invoice_number": "B"}, {"invoice_number": "A", "item": "X"}), []
    )
    table = first.lines._table  # type: ignore[attr-defined]
    assert len(first.lines) == 2 and len(second.lines) == 1 and table._lines is None
    line = first.lines[1]
    assert table._lines is not None and second.lines._table is table  # type: ignore[attr-defined]
    assert line is first.lines[1] and line is list(first.lines)[1]  # the same objects every time
    assert line.item == "X" and line.values["item"] == "X" and [x.item for x in first.lines[:1]] == ["W"]
    assert first.lines == list(first.lines) and first.lines != second.lines
