"""Regenerate the sample files: ``python sample_data/make_samples.py``.

- ``invoices.xlsx``: six clean invoices (real date cells, continuation rows left blank, references written
  the way people write them: e-mail, display name, contact ID, SKU, title, item ID, tax name).
- ``invoices.csv``: the same rows as a plain UTF-8, comma-separated export.
- ``invoices_with_mistakes.xlsx``: the typical mistakes of a finance team's spreadsheet, one or two per
  invoice, next to a few good invoices. ``README.md`` beside this file lists what each should report.

Everything refers to the demo data the sandbox seeds (``invoice-import sandbox``).
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

HERE = Path(__file__).resolve().parent

HEADERS = [
    "Invoice Number",
    "Issue Date",
    "Due Date",
    "Customer",
    "Currency",
    "Language",
    "PO Number",
    "Payment Terms",
    "Item",
    "Line Description",
    "Qty",
    "Unit Price",
    "Discount %",
    "VAT",
    "Tax 2",
    "Total",
]

D = date
# One row per invoice line; continuation rows leave the invoice-level cells blank.
CLEAN: list[list[object]] = [
    [
        "INV-2026-0001",
        D(2026, 6, 1),
        D(2026, 7, 1),
        "billing@acme.example",
        "EUR",
        "en-US",
        "PO-7781",
        "Net 30",
        "WID-001",
        "Blue widgets",
        100,
        7.70,
        25,
        "VAT 20%",
        None,
        1269.00,
    ],
    [
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "SRV-HOUR",
        "Installation",
        4,
        120,
        0,
        "VAT 20%",
        None,
        None,
    ],
    [
        "INV-2026-0002",
        D(2026, 6, 2),
        D(2026, 7, 2),
        "Globex Corporation",
        "USD",
        "en-US",
        None,
        None,
        "GAD-002",
        "Gadgets (catalogue price)",
        10,
        None,
        None,
        None,
        None,
        214.90,
    ],
    [None, None, None, None, None, None, None, None, "Shipping", "Freight", 1, 15, None, None, None, None],
    [
        "INV-2026-0003",
        D(2026, 6, 3),
        D(2026, 6, 30),
        "3",
        "GBP",
        "en-GB",
        "PO-1200",
        "Due on receipt",
        "SUP-ANNUAL",
        "Annual support 2026/27",
        1,
        1500,
        10,
        "Reduced VAT 7%",
        None,
        1444.50,
    ],
    [
        "INV-2026-0004",
        D(2026, 6, 4),
        D(2026, 7, 4),
        "rechnung@initech.example",
        "EUR",
        "de-DE",
        None,
        "Zahlbar innerhalb von 14 Tagen",
        "CAB-USB",
        "USB-Kabel",
        1,
        2.90,
        None,
        "VAT 25%",
        None,
        33.62,
    ],
    [
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "00731",
        "Widget XL",
        2,
        12,
        None,
        "VAT 25%",
        None,
        None,
    ],
    [
        "INV-2026-0005",
        D(2026, 6, 5),
        D(2026, 7, 5),
        "invoices@umbrella.example",
        "EUR",
        "en-US",
        "PO-5",
        None,
        "Consulting hour",
        "Workshop",
        7.5,
        120,
        None,
        "GST 10%",
        "VAT 20%",
        1170.00,
    ],
    [
        "INV-2026-0006",
        D(2026, 6, 6),
        D(2026, 7, 6),
        "JOHN.SMITH@example.com",
        "EUR",
        "en-US",
        None,
        None,
        "2",
        "Gadget",
        1,
        19.99,
        None,
        None,
        None,
        19.99,
    ],
]
# Totals above, worked by hand the CRM's way (half-even rounding on each step):
#  0001: 100*7.70=770.00 -25%=577.50 +20%=115.50 -> 693.00; 4*120=480.00 +96.00 -> 576.00; = 1269.00
#  0004: 2.90 +25% = 0.725 -> 0.72 (half-even; half-up would give 0.73) -> 3.62; 2*12=24.00 +6.00 -> 30.00;
#        = 33.62

MISTAKES: list[list[object]] = [
    # good invoice, so the run shows a created one too
    [
        "INV-2026-0101",
        D(2026, 6, 1),
        D(2026, 7, 1),
        "billing@acme.example",
        "EUR",
        "en-US",
        None,
        None,
        "WID-001",
        None,
        10,
        7.70,
        None,
        "VAT 20%",
        None,
        92.40,
    ],
    # due before issue
    [
        "INV-2026-0102",
        D(2026, 6, 10),
        D(2026, 6, 1),
        "Globex Corporation",
        "USD",
        "en-US",
        None,
        None,
        "GAD-002",
        None,
        1,
        19.99,
        None,
        None,
        None,
        None,
    ],
    # unknown customer (a near miss of "Acme Ltd")
    [
        "INV-2026-0103",
        D(2026, 6, 1),
        D(2026, 7, 1),
        "Acme Limited",
        "EUR",
        "en-US",
        None,
        None,
        "WID-001",
        None,
        1,
        7.70,
        None,
        None,
        None,
        None,
    ],
    # ambiguous customer: two contacts have this name
    [
        "INV-2026-0104",
        D(2026, 6, 1),
        D(2026, 7, 1),
        "Northwind Traders",
        "EUR",
        "en-US",
        None,
        None,
        "WID-001",
        None,
        1,
        7.70,
        None,
        None,
        None,
        None,
    ],
    # ambiguous item title: two items are called Adapter
    [
        "INV-2026-0105",
        D(2026, 6, 1),
        D(2026, 7, 1),
        "jane.smith@example.com",
        "EUR",
        "en-US",
        None,
        None,
        "Adapter",
        None,
        2,
        None,
        None,
        None,
        None,
        None,
    ],
    # a price with 3 decimals, a negative quantity, a discount over 100 %
    [
        "INV-2026-0106",
        D(2026, 6, 1),
        D(2026, 7, 1),
        "Umbrella Inc",
        "EUR",
        "en-US",
        None,
        None,
        "WID-001",
        None,
        1,
        7.755,
        None,
        None,
        None,
        None,
    ],
    [None, None, None, None, None, None, None, None, "GAD-002", None, -2, 19.99, None, None, None, None],
    [None, None, None, None, None, None, None, None, "SHIP", None, 1, 15, 150, None, None, None],
    # a currency that is not a code, and a continuation row that disagrees with the first row
    [
        "INV-2026-0107",
        D(2026, 6, 1),
        D(2026, 7, 1),
        "billing@acme.example",
        "EURO",
        "en-US",
        None,
        None,
        "WID-001",
        None,
        1,
        7.70,
        None,
        None,
        None,
        None,
    ],
    [
        "INV-2026-0107",
        None,
        None,
        "accounts@globex.example",
        None,
        None,
        None,
        None,
        "GAD-002",
        None,
        1,
        19.99,
        None,
        None,
        None,
        None,
    ],
    # the same number twice, differing only in case: the CRM would treat them as one
    [
        "INV-2026-0108",
        D(2026, 6, 1),
        D(2026, 7, 1),
        "billing@acme.example",
        "EUR",
        "en-US",
        None,
        None,
        "WID-001",
        None,
        1,
        7.70,
        None,
        None,
        None,
        None,
    ],
    [
        "inv-2026-0108",
        D(2026, 6, 2),
        D(2026, 7, 2),
        "billing@acme.example",
        "EUR",
        "en-US",
        None,
        None,
        "GAD-002",
        None,
        1,
        19.99,
        None,
        None,
        None,
        None,
    ],
    # no item, an impossible date written as text, an unknown tax
    [
        "INV-2026-0109",
        "31/02/2026",
        D(2026, 7, 1),
        "billing@acme.example",
        "EUR",
        "en-US",
        None,
        None,
        None,
        None,
        1,
        7.70,
        None,
        "VAT 19%",
        None,
        None,
    ],
    # a total that does not match what the CRM will compute (the file says 10.00)
    [
        "INV-2026-0110",
        D(2026, 6, 1),
        D(2026, 7, 1),
        "billing@acme.example",
        "EUR",
        "en-US",
        None,
        None,
        "WID-001",
        None,
        1,
        7.70,
        None,
        "VAT 20%",
        None,
        10.00,
    ],
    # an unknown language
    [
        "INV-2026-0111",
        D(2026, 6, 1),
        D(2026, 7, 1),
        "billing@acme.example",
        "EUR",
        "xx-XX",
        None,
        None,
        "WID-001",
        None,
        1,
        7.70,
        None,
        None,
        None,
        None,
    ],
    # another good invoice, by contact ID and item ID
    [
        "INV-2026-0112",
        D(2026, 6, 1),
        D(2026, 7, 1),
        "8",
        "EUR",
        "en-US",
        None,
        None,
        "3",
        "Consulting",
        2,
        120,
        None,
        None,
        None,
        240.00,
    ],
]


def write_workbook(path: Path, rows: list[list[object]]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Invoices"
    sheet.append(HEADERS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(row)
    for cells in sheet.iter_rows(min_row=2):
        for cell in cells[1:3]:
            cell.number_format = "yyyy-mm-dd"
        for cell in (cells[11], cells[15]):
            cell.number_format = "0.00"
    for letter, width in zip(
        "ABCDEFGHIJKLMNOP", (16, 12, 12, 28, 9, 9, 11, 28, 16, 26, 6, 10, 10, 15, 9, 10), strict=True
    ):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    workbook.save(path)


def as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def write_csv(path: Path, rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADERS)
        writer.writerows([as_text(value) for value in row] for row in rows)


def main() -> None:
    write_workbook(HERE / "invoices.xlsx", CLEAN)
    write_csv(HERE / "invoices.csv", CLEAN)
    write_workbook(HERE / "invoices_with_mistakes.xlsx", MISTAKES)
    print(f"Wrote the samples to {HERE}")


if __name__ == "__main__":
    main()
