"""Plain data passed between the pipeline stages: each stage returns a new value, never writes into an
earlier stage's.

    file ──load──▶ RawTable ──map──▶ MappedTable ──validate──▶ ValidatedRows ──group──▶ Validation
         ──resolve──▶ Resolution (ResolvedInvoice by number) ──classify/post──▶ Outcome by number
         ──▶ ImportReport ──results──▶ workbook

Nothing here does I/O. Amounts are ``Decimal`` throughout; dates are ``datetime.date``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum, StrEnum
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
    CHANGED = "changed"  # created by an earlier run of this import, but the file now differs; nothing posted
    UPDATED = "updated"  # --update: the earlier invoice was updated in place to match the file
    INCOMPLETE = "incomplete"  # created, but not yet at the status the file asks for; a re-run completes it


class CrmStatus(IntEnum):
    """An invoice's status in the CRM, by the ID the API uses (its titles are translated: match on the ID)."""

    DRAFT = 1
    SENT = 2  # "Billed" in the portal's English
    REJECTED = 3
    PAID = 4
    ARCHIVED = 5

    @property
    def title(self) -> str:
        """The name a finance user reads (the status column's spelling)."""
        return "Archived" if self is CrmStatus.ARCHIVED else self.name.capitalize()

    @property
    def word(self) -> str:
        """The name ``PUT invoice/status/{status}`` takes."""
        return self.name.lower()

    @classmethod
    def of(cls, record: Mapping[str, Any] | None) -> CrmStatus | None:
        """The status of a CRM invoice record (``{"status": {"id": 4, ...}}``), or None if it has none."""
        status = record.get("status") if record is not None else None
        value = status.get("id") if isinstance(status, dict) else status
        if isinstance(value, int) and not isinstance(value, bool) and value in cls._value2member_map_:
            return cls(value)
        return None


# The moves the CRM makes (PUT invoice/status/{status}); any other is silently not made.
ALLOWED_MOVES: frozenset[tuple[CrmStatus, CrmStatus]] = frozenset(
    {
        (CrmStatus.DRAFT, CrmStatus.SENT),
        (CrmStatus.SENT, CrmStatus.PAID),
        (CrmStatus.SENT, CrmStatus.REJECTED),
        (CrmStatus.REJECTED, CrmStatus.DRAFT),
        (CrmStatus.PAID, CrmStatus.SENT),
    }
)
# The way from Draft (where every create starts) to each status an import may ask for.
PATH_FROM_DRAFT: Mapping[CrmStatus, tuple[CrmStatus, ...]] = {
    CrmStatus.DRAFT: (),
    CrmStatus.SENT: (CrmStatus.SENT,),
    CrmStatus.PAID: (CrmStatus.SENT, CrmStatus.PAID),
    CrmStatus.REJECTED: (CrmStatus.SENT, CrmStatus.REJECTED),
}


def moves_left(current: CrmStatus, target: CrmStatus) -> tuple[CrmStatus, ...] | None:
    """The moves still to make from ``current`` to ``target`` along the way from Draft; () when there;
    None when ``current`` is not on that way (someone moved it elsewhere: the import does not chase it)."""
    if current is target:
        return ()
    way = (CrmStatus.DRAFT, *PATH_FROM_DRAFT.get(target, ()))
    if current not in way or target not in PATH_FROM_DRAFT:
        return None
    return way[way.index(current) + 1 :]


@dataclass(frozen=True)
class CellError:
    """One problem in the input, located as precisely as possible.

    ``row`` is the row number the user sees (spreadsheet row or CSV line, header = 1); ``column`` the
    canonical column name (see importer.columns) or None for a problem of the whole row/invoice;
    ``value`` the offending value as written. ``code`` is a stable machine-readable kind
    (``required``, ``number``, ``date``, ``range``, ``decimals``, ``inconsistent``, ``duplicate_number``,
    ``due_before_issue``, ``unknown_reference``, ``ambiguous_reference``, ``total_mismatch``,
    ``currency``, ``language``, ``template_type``, ``crm_refused``, ``cell_error`` (a workbook cell showing
    an error value such as #N/A), ``no_saved_result`` (a formula the file holds no result of),
    ``currency_mismatch`` (an amount's currency sign contradicting the invoice's currency), ``negative`` ...).
    """

    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None
    code: str = "invalid"
    cell: str | None = None  # the workbook cell (``H2``) when the message is about the cell itself

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column}")
        prefix = ", ".join(where)
        shown = f" ({self.value!r})" if self.value not in (None, "") else ""
        return f"{prefix}{shown}: {self.message}" if prefix else f"{self.message}{shown}"


@dataclass(frozen=True, slots=True)
class CellFault:
    """A workbook cell whose value cannot be read: it shows an error value (``#N/A``, ``#DIV/0!`` ...) or
    holds a formula with no saved result. ``cell`` is where it is (``H2``), ``text`` what it holds as the
    user sees it (``#N/A``, ``=I2*J2``)."""

    cell: str
    text: str
    no_result: bool = False  # a formula without a saved result (else an error value)


@dataclass(frozen=True)
class FormatOptions:
    """How to read the file; each None means 'detect'."""

    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None  # "." or ","
    date: str | None = None  # a strptime format such as "%d.%m.%Y"
    day_first: bool | None = None  # slashed dates: day/month (True) or month/day (False); None: decide
    header_row: int | None = None  # the header's row number (1-based); None: find it among the first rows


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


@dataclass(frozen=True)
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
    # by header, the frame positions of the cells that cannot be read (an error value, a formula without a
    # saved result); the frame holds their text (#N/A, =I2*J2) so that the Rows sheet shows it
    faults: Mapping[str, Mapping[int, CellFault]] = field(default_factory=dict)
    header_row: int = 1  # the row the header was found on
    notes: tuple[str, ...] = ()  # what the loader tells the user that is no error (the header row taken)


@dataclass(frozen=True)
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


@dataclass(frozen=True, slots=True)
class Line:
    """One invoice line (one input row), as the file gives it.

    ``values`` holds every line-level column's typed value by canonical name (importer.columns; None
    where blank): ``item`` (str, "" for a missing one), ``quantity`` (Decimal), ``price`` (Decimal, or
    None: the item's catalogue price), ``discount`` (Decimal), ``tax1``/``tax2`` (str or None),
    ``line_description`` (str or None), and any column declared later. The properties read the usual ones.
    """

    row: int
    values: Mapping[str, Any]

    @property
    def item(self) -> str:
        return str(self.values.get("item") or "")

    @property
    def quantity(self) -> Decimal:
        value = self.values.get("quantity")
        return Decimal(0) if value is None else value

    @property
    def price(self) -> Decimal | None:
        return self.values.get("price")

    @property
    def discount(self) -> Decimal:
        value = self.values.get("discount")
        return Decimal(0) if value is None else value

    @property
    def tax1(self) -> str | None:
        return self.values.get("tax1")

    @property
    def tax2(self) -> str | None:
        return self.values.get("tax2")

    @property
    def description(self) -> str | None:
        return self.values.get("line_description")


@dataclass(frozen=True, slots=True)
class Invoice:
    """One invoice: the rows sharing an invoice number, in row order (built by importer.group).

    ``values`` holds every invoice-level column's typed value by canonical name (None where blank, after
    continuation rows and defaults): dates as ``datetime.date``, amounts as ``Decimal``, IDs as ``int``,
    ``template_type`` as 0/1, text as ``str``. ``errors`` are the offline errors of its rows; ``total`` the
    CRM's total when it is known offline (every price given, no tax), else None.
    """

    number: str
    rows: tuple[int, ...]
    lines: Sequence[Line]
    values: Mapping[str, Any]
    errors: tuple[CellError, ...] = ()
    total: Decimal | None = None

    def value(self, column: str) -> Any:
        """An invoice-level column's typed value (None where blank)."""
        return self.values.get(column)

    @property
    def is_valid(self) -> bool:
        """No offline error (the pre-flight may still find some: see Resolution)."""
        return not self.errors

    @property
    def issue_date(self) -> date | None:
        return self.values.get("issue_date")

    @property
    def due_date(self) -> date | None:
        return self.values.get("due_date")

    @property
    def contact(self) -> str | None:
        return self.values.get("contact")

    @property
    def consignee(self) -> str | None:
        return self.values.get("consignee")

    @property
    def currency(self) -> str | None:
        return self.values.get("currency")

    @property
    def exchange_rate(self) -> Decimal:
        value = self.values.get("exchange_rate")
        return Decimal(1) if value is None else value

    @property
    def language(self) -> str:
        return self.values.get("language") or "en-US"

    @property
    def template_type(self) -> int:
        value = self.values.get("template_type")
        return 0 if value is None else int(value)

    @property
    def terms(self) -> str | None:
        return self.values.get("terms")

    @property
    def deal_id(self) -> int | None:
        return self.values.get("deal_id")

    @property
    def billing_address_id(self) -> int | None:
        return self.values.get("billing_address_id")

    @property
    def delivery_address_id(self) -> int | None:
        return self.values.get("delivery_address_id")

    @property
    def expected_total(self) -> Decimal | None:
        return self.values.get("invoice_total")

    @property
    def target_status(self) -> CrmStatus:
        """The status the file asks for (the ``status`` column; Draft where blank)."""
        value = self.values.get("status")
        return CrmStatus(value) if value is not None else CrmStatus.DRAFT

    @property
    def source_rows(self) -> str:
        """Row span for the workbook, e.g. '2-4' or '2, 5, 7' when not contiguous."""
        if not self.rows:
            return ""
        rows = sorted(self.rows)
        if rows == list(range(rows[0], rows[-1] + 1)):
            return str(rows[0]) if len(rows) == 1 else f"{rows[0]}-{rows[-1]}"
        return ", ".join(str(r) for r in rows)


@dataclass(frozen=True)
class Validation:
    """What the offline stages return: the table, its invoices (valid or not) and every problem found
    offline, in row order (the errors of rows that belong to no invoice included)."""

    table: MappedTable
    invoices: tuple[Invoice, ...]
    errors: tuple[CellError, ...]
    notes: tuple[str, ...] = ()  # what the user should know that is no error (e.g. a totals row left out)
    left_out: tuple[int, ...] = ()  # rows left out on purpose (totals rows): no invoice, and no error


@dataclass(frozen=True, slots=True)
class ResolvedLine:
    """A line with what the CRM told about it: the item's ID, the price to send (the file's, or the
    catalogue's when the cell was blank), and each tax's ID (0: none) and rate."""

    line: Line
    item_id: int
    price: Decimal
    tax1_id: int = 0
    tax2_id: int = 0
    tax1_rate: Decimal | None = None
    tax2_rate: Decimal | None = None

    @property
    def row(self) -> int:
        return self.line.row


@dataclass(frozen=True)
class ResolvedInvoice:
    """An invoice ready to post: its references resolved against the CRM, its total computed the CRM's
    way. Only an invoice with no error, offline or in the pre-flight, is resolved."""

    invoice: Invoice
    contact_id: int
    consignee_id: int | None
    currency: str  # the CRM's code, upper case
    language: str  # the CRM's spelling
    terms: str  # the file's, or the CRM's default terms
    lines: tuple[ResolvedLine, ...]
    total: Decimal

    @property
    def number(self) -> str:
        return self.invoice.number


@dataclass(frozen=True)
class Resolution:
    """What the pre-flight returns: the invoices that can be posted, by number, and every problem it found
    (unknown or ambiguous references, addresses, deals, currency, language, terms, total mismatch).

    ``totals`` holds the total the CRM will compute for every invoice without offline errors whose prices
    and tax rates are all known, even when the pre-flight found another problem in it (the workbook shows
    it beside the problem, e.g. a total mismatch)."""

    resolved: Mapping[str, ResolvedInvoice]
    errors: tuple[CellError, ...]
    requests_sent: int = 0
    totals: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    """What happened to an invoice in the CRM."""

    status: Status
    crm_id: int | None = None
    crm_total: Decimal | None = None
    message: str = ""  # for failed/exists/skipped/pending: what happened, in words
    crm_status: CrmStatus | None = None  # the status the CRM has it at, where known


@dataclass(frozen=True)
class ImportReport:
    """Everything a command found, from every stage: what the results workbook and the console read.

    ``errors`` holds every error of every stage (offline and pre-flight), in row order; ``outcomes`` the
    outcome of each invoice that reached the CRM stages, by number; ``totals`` the importer's total of each
    invoice where known (offline, or computed in the pre-flight).
    """

    table: MappedTable
    invoices: tuple[Invoice, ...]
    errors: tuple[CellError, ...]
    outcomes: Mapping[str, Outcome] = field(default_factory=dict)
    totals: Mapping[str, Decimal] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # shown on the console and in the Summary sheet
    left_out: tuple[int, ...] = ()  # rows left out on purpose (totals rows): no invoice, and no error

    @classmethod
    def offline(cls, validation: Validation) -> ImportReport:
        """The report of the offline stages alone (the ``validate`` command)."""
        totals = {i.number: i.total for i in validation.invoices if i.total is not None}
        return cls(
            validation.table,
            validation.invoices,
            validation.errors,
            {},
            totals,
            validation.notes,
            validation.left_out,
        )

    @functools.cached_property
    def _errors_by_row(self) -> dict[int | None, list[CellError]]:
        by_row: dict[int | None, list[CellError]] = {}
        for error in self.errors:
            by_row.setdefault(error.row, []).append(error)
        return by_row

    def errors_of(self, invoice: Invoice) -> tuple[CellError, ...]:
        """The errors on an invoice's rows, in row order."""
        by_row = self._errors_by_row
        return tuple(error for row in sorted(invoice.rows) for error in by_row.get(row, ()))

    def status(self, invoice: Invoice) -> Status:
        outcome = self.outcomes.get(invoice.number)
        if outcome is not None:
            return outcome.status
        return Status.INVALID if self.errors_of(invoice) else Status.PENDING

    def outcome(self, invoice: Invoice) -> Outcome | None:
        return self.outcomes.get(invoice.number)

    def total(self, invoice: Invoice) -> Decimal | None:
        return self.totals.get(invoice.number)


@dataclass(frozen=True)
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


class UndoStatus(StrEnum):
    """What ``invoice-import undo`` did with one invoice a run created."""

    DELETED = "deleted"  # deleted through the batch delete, and checked gone
    KEPT = "kept"  # not deleted: the reason says why (changed in the CRM since, not yours to delete ...)
    GONE = "gone"  # already deleted in the CRM by someone else
    PLANNED = "planned"  # --dry-run: would be deleted
    PENDING = "pending"  # not attempted (the plan not confirmed, interrupted, the CRM unusable)


@dataclass(frozen=True)
class UndoItem:
    """One invoice of an undo: the number, the CRM ID and the run that created it, and what happened."""

    number: str
    crm_id: int | None
    run_id: str | None
    status: UndoStatus
    reason: str = ""
    crm_status: CrmStatus | None = None
    crm_total: Decimal | None = None


@dataclass(frozen=True)
class UndoReport:
    """What the undo results workbook shows: every invoice of the runs undone, and the run itself."""

    crm_url: str
    run_ids: tuple[str, ...]
    items: tuple[UndoItem, ...]
    started: datetime
    version: str
    ended: datetime | None = None
    dry_run: bool = False
    undo_run_id: str | None = None

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in UndoStatus}
        for item in self.items:
            counts[item.status.value] += 1
        counts["invoices"] = len(self.items)
        return counts
