"""Deterministic benchmark data: N invoices of k lines each, as CSV and XLSX, using the sandbox's seed data.

The same arguments always give byte-identical CSV (and cell-identical XLSX) files: every random choice
comes from ``random.Random(SEED)``. Files are cached under ``benchmarks/out/`` (git-ignored) and only
written when missing, because 200,000 XLSX rows take a while.

    .venv/bin/python benchmarks/generate.py --invoices 1000 --lines 3 --prefix BENCH

Every row repeats the invoice-level cells (as an ERP export does), so validation checks them all.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

SEED = 20260601
OUT = Path(__file__).resolve().parent / "out"

HEADER = (
    "invoice_number",
    "issue_date",
    "due_date",
    "contact",
    "currency",
    "item",
    "line_description",
    "quantity",
    "price",
    "discount",
    "tax1",
)
CONTACTS = ("billing@acme.example", "accounts@globex.example", "Acme Ltd", "1", "2", "3", "4", "8")
# SKU -> catalogue price (the sandbox's seeded items)
ITEMS = {
    "WID-001": Decimal("7.70"),
    "GAD-002": Decimal("19.99"),
    "SRV-HOUR": Decimal("120.00"),
    "SHIP": Decimal("15.00"),
}
TAXES = ("VAT 20%", "GST 10%", "")
FIRST_DAY = date(2026, 1, 1)


@dataclass(frozen=True)
class Row:
    number: str
    issue: date
    due: date
    contact: str
    currency: str
    item: str
    description: str
    quantity: Decimal
    price: Decimal | None  # None: blank, the catalogue price applies
    discount: Decimal
    tax: str

    def cells(self, as_text: bool) -> list[object]:
        """The row's cells: text for CSV; real dates and numbers for XLSX."""
        dates: list[object] = [self.issue, self.due]
        if as_text:
            dates = [self.issue.isoformat(), self.due.isoformat()]
        price = "" if self.price is None else (str(self.price) if as_text else float(self.price))
        quantity = str(self.quantity) if as_text else float(self.quantity)
        discount = str(self.discount) if as_text else float(self.discount)
        return [
            self.number,
            *dates,
            self.contact,
            self.currency,
            self.item,
            self.description,
            quantity,
            price,
            discount,
            self.tax,
        ]


def invoice_number(prefix: str, index: int) -> str:
    return f"{prefix}-{index:06d}"


def rows(invoices: int, lines: int, prefix: str, seed: int = SEED) -> Iterator[Row]:
    """The rows of ``invoices`` invoices with ``lines`` lines each, numbered ``<prefix>-000001`` on."""
    rng = random.Random(seed)
    skus = list(ITEMS)
    for index in range(1, invoices + 1):
        issue = FIRST_DAY + timedelta(days=rng.randrange(180))
        due = issue + timedelta(days=rng.choice((14, 30, 60)))
        contact = rng.choice(CONTACTS)
        for position in range(1, lines + 1):
            sku = rng.choice(skus)
            price = None if rng.random() < 0.3 else ITEMS[sku] + Decimal(rng.randrange(0, 500)) / 100
            yield Row(
                number=invoice_number(prefix, index),
                issue=issue,
                due=due,
                contact=contact,
                currency="EUR",
                item=sku,
                description=f"line {position} of invoice {index}",
                quantity=Decimal(rng.randrange(1, 2000)) / 100,
                price=price,
                discount=Decimal(rng.choice((0, 0, 0, 5, 10, 12.5))).quantize(Decimal("0.01")),
                tax=rng.choice(TAXES),
            )


def data_path(invoices: int, lines: int, prefix: str, suffix: str) -> Path:
    return OUT / f"{prefix.lower()}_{invoices}x{lines}{suffix}"


def _replace_atomically(target: Path, write: Callable[[Path], None]) -> Path:
    partial = target.with_name(target.name + ".partial")
    write(partial)
    os.replace(partial, target)
    return target


def write_csv(invoices: int, lines: int, prefix: str) -> Path:
    """The CSV file (cached): comma-separated, UTF-8, ISO dates."""
    target = data_path(invoices, lines, prefix, ".csv")
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)

    def write(path: Path) -> None:
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(row.cells(as_text=True) for row in rows(invoices, lines, prefix))

    return _replace_atomically(target, write)


def write_xlsx(invoices: int, lines: int, prefix: str) -> Path:
    """The XLSX workbook (cached): one sheet, real date and number cells, SKUs and numbers as text."""
    from openpyxl import Workbook

    target = data_path(invoices, lines, prefix, ".xlsx")
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)

    def write(path: Path) -> None:
        book = Workbook(write_only=True)
        sheet = book.create_sheet("Invoices")
        sheet.append(list(HEADER))
        for row in rows(invoices, lines, prefix):
            sheet.append(row.cells(as_text=False))
        book.save(path)

    return _replace_atomically(target, write)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--prefix", default="BENCH")
    parser.add_argument("--xlsx", action="store_true", help="also write the XLSX workbook")
    args = parser.parse_args()
    print(write_csv(args.invoices, args.lines, args.prefix))
    if args.xlsx:
        print(write_xlsx(args.invoices, args.lines, args.prefix))


if __name__ == "__main__":
    main()
