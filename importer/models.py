"""Plain data passed between the pipeline stages.

    file ──load──▶ RawTable ──map──▶ MappedTable ──parse/validate/group──▶ list[Invoice] + list[CellError]
         ──resolve──▶ Invoice (IDs, prices, terms, totals filled) ──plan/post──▶ Invoice.outcome
         ──results──▶ workbook

Nothing here does I/O. Amounts are ``Decimal`` throughout; dates are ``datetime.date``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


class Status(StrEnum):
    CREATED = "created"  # posted in this run
    SKIPPED = "skipped"  # created by an earlier run of this import, confirmed in the CRM
    EXISTS = "exists"  # the number is used in the CRM by an invoice this import did not create
    INVALID = "invalid"  # breaks a rule; nothing posted
    FAILED = "failed"  # refused by the CRM or unreachable after retries; certainly not created
    PENDING = "pending"  # not attempted (interrupted, plan not confirmed)
    PLANNED = "planned"  # dry run: would be created


@dataclass(frozen=True)
class CellError:
    """One problem in the input, located as precisely as possible.

    ``row`` is the row number the user sees (spreadsheet row or CSV line, header = 1); ``column`` the
    canonical column name (see importer.columns) or None for a problem of the whole row/invoice;
    ``value`` the offending value as written. ``code`` is a stable machine-readable kind
    (``required``, ``number``, ``date``, ``range``, ``decimals``, ``inconsistent``, ``duplicate_number``,
    ``due_before_issue``, ``unknown_reference``, ``ambiguous_reference``, ``total_mismatch``,
    ``currency``, ``language``, ``template_type``, ``crm_refused`` ...).
    """

    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None
    code: str = "invalid"

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        prefix = ", ".join(where)
        shown = f" ({self.value!r})" if self.value not in (None, "") else ""
        return f"{prefix}{shown}: {self.message}" if prefix else f"{self.message}{shown}"


@dataclass(frozen=True)
class FormatOptions:
    """How to read the file; each None means 'detect'."""

    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None  # "." or ","
    date: str | None = None  # a strptime format such as "%d.%m.%Y"


@dataclass(frozen=True)
class MappingConfig:
    """A --mapping TOML file: header -> canonical column, defaults, formats."""

    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    format: FormatOptions = field(default_factory=FormatOptions)


def objects(values: list[Any]) -> np.ndarray:
    """A 1-d object array of ``values`` (never a 2-d one, whatever the values are)."""
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


@dataclass(frozen=True, slots=True)
class Coded:
    """A column as codes into its distinct values: row ``i`` holds ``values[codes[i]]``.

    ``values`` is an object array whose last element is the blank value (None), so code -1 reads as
    blank and ``values[codes]`` is the whole column in one numpy take. Work done per distinct value
    (parsing, Decimal, normalising) then costs nothing per row.
    """

    codes: np.ndarray
    values: np.ndarray

    @classmethod
    def of(cls, column: pd.Series) -> Coded:
        """Each row its own value (no hashing): None and NaN become the blank code -1."""
        array = column.to_numpy(dtype=object)
        codes = np.arange(len(array))
        codes[pd.isna(array)] = -1
        return cls(codes, objects([*array.tolist(), None]))

    def map(self, function: Callable[[Any], Any]) -> Coded:
        """The same codes with ``function`` applied to each distinct value (the blank one included)."""
        return Coded(self.codes, objects([function(value) for value in self.values.tolist()]))

    def take(self, positions: np.ndarray) -> list[Any]:
        """The values of the rows at ``positions``, as a list."""
        return self.values[self.codes[positions]].tolist()

    def all_text(self) -> bool:
        """Whether every value but the blank one is a str (none at all counts)."""
        return pd.api.types.infer_dtype(self.values[:-1], skipna=False) in ("string", "empty")


@dataclass
class RawTable:
    """The file as read, before any interpretation.

    ``frame`` has one column per header, in file order, with the header text as column name; every
    value is a ``str`` (CSV cells, text cells), or, from a workbook, the native ``float``/``int``/
    ``bool``/``datetime``/``date``, or ``None`` for an empty cell. ``row_numbers[i]`` is the
    user-visible row number of ``frame.iloc[i]`` (header = 1; fully blank rows are skipped but counted).

    ``coded`` (by header, when the loader made it) is the same columns coded: each value once, every one
    used by some row, text stripped and never blank (a blank cell is code -1), so validate need not hash
    the cells again.
    """

    frame: pd.DataFrame
    row_numbers: list[int]
    source: Path
    sheet: str | None = None
    sha256: str = ""
    coded: dict[str, Coded] = field(default_factory=dict)  # the frame's columns coded (when the loader did)


@dataclass
class MappedTable:
    """The table with headers mapped to canonical columns.

    ``frame`` has every canonical column (importer.columns.CANONICAL; absent ones all None) plus a
    ``row`` column with the user-visible row numbers; values as in RawTable. ``headers`` maps each
    canonical column present in the file to its original header; ``extras`` are the headers that map
    to nothing (kept for the Rows sheet); ``defaults`` the mapping file's defaults.
    """

    raw: RawTable
    frame: pd.DataFrame
    headers: dict[str, str]
    extras: list[str] = field(default_factory=list)
    defaults: dict[str, str] = field(default_factory=dict)
    coded: dict[str, Coded] = field(default_factory=dict)  # canonical columns coded (when the loader did)


@dataclass(slots=True)
class Line:
    """One invoice line (one input row)."""

    row: int
    item: str  # as written: ID, SKU or title
    quantity: Decimal
    price: Decimal | None  # None: take the item's catalogue price
    discount: Decimal = Decimal("0")
    tax1: str | None = None  # as written: ID or name
    tax2: str | None = None
    description: str | None = None
    # filled by resolve
    item_id: int | None = None
    tax1_id: int = 0
    tax2_id: int = 0
    tax1_rate: Decimal | None = None
    tax2_rate: Decimal | None = None


@dataclass
class Outcome:
    """What happened to an invoice in the CRM."""

    status: Status
    crm_id: int | None = None
    crm_total: Decimal | None = None
    message: str = ""  # for failed/exists/skipped: what happened, in words


@dataclass(slots=True)
class Invoice:
    """One invoice: the rows sharing an invoice number, in row order."""

    number: str
    rows: list[int]
    lines: Sequence[Line]  # a list, or (from group) a block built on first use
    issue_date: date | None = None
    due_date: date | None = None
    contact: str | None = None
    consignee: str | None = None
    currency: str | None = None
    exchange_rate: Decimal = Decimal("1")
    language: str = "en-US"
    template_type: int = 0
    purchase_order_number: str | None = None
    terms: str | None = None
    description: str | None = None
    deal_id: int | None = None
    billing_address_id: int | None = None
    delivery_address_id: int | None = None
    expected_total: Decimal | None = None
    errors: list[CellError] = field(default_factory=list)
    # filled by resolve
    contact_id: int | None = None
    consignee_id: int | None = None
    total: Decimal | None = None  # computed the CRM's way, once prices and tax rates are known
    # filled by plan/post
    outcome: Outcome | None = None

    @property
    def is_valid(self) -> bool:
        return not self.errors

    @property
    def status(self) -> Status:
        if self.outcome is not None:
            return self.outcome.status
        return Status.INVALID if self.errors else Status.PENDING

    @property
    def source_rows(self) -> str:
        """Row span for the workbook, e.g. '2-4' or '2, 5, 7' when not contiguous."""
        if not self.rows:
            return ""
        rows = sorted(self.rows)
        if rows == list(range(rows[0], rows[-1] + 1)):
            return str(rows[0]) if len(rows) == 1 else f"{rows[0]}-{rows[-1]}"
        return ", ".join(str(r) for r in rows)


@dataclass
class Validation:
    """Result of the offline stages: invoices (valid or not) and every problem found."""

    table: MappedTable
    invoices: list[Invoice]
    errors: list[CellError]  # every error, including those attached to invoices

    def row_errors(self) -> dict[int, list[CellError]]:
        by_row: dict[int, list[CellError]] = {}
        for error in self.errors:
            if error.row is not None:
                by_row.setdefault(error.row, []).append(error)
        return by_row


@dataclass
class RunInfo:
    """What the Summary sheet records about a run."""

    source: Path
    sha256: str
    crm_url: str | None
    version: str
    started: datetime
    ended: datetime | None = None
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
