"""The names a results workbook is made of, written once: its sheets and the result columns of its Rows sheet.

The writer (importer.results) lays the workbook out with these, and the loader uses them to recognise a
results workbook fed back as input (read its Rows sheet, drop its result columns). This module imports
nothing, so the loader can use it without loading the writer's dependencies.
"""

from __future__ import annotations

from collections.abc import Sequence

INVOICES_SHEET = "Invoices"
ROWS_SHEET = "Rows"
SUMMARY_SHEET = "Summary"
RESULTS_SHEETS: tuple[str, ...] = (INVOICES_SHEET, ROWS_SHEET, SUMMARY_SHEET)  # in workbook order

# The columns the Rows sheet adds before the input columns. When such a sheet is fed back as input they are
# not input data: the loader drops them (wherever they stand) and the writer adds fresh ones. Their names
# can never be an input column's (or one of its aliases): the input has a `status` column of its own.
RESULT_COLUMNS: tuple[str, ...] = ("row", "import_status", "crm_id", "crm_status", "import_error")
# The result columns of the results workbooks written before the input had a `status` column: recognised
# (and dropped) only as that whole block at the head of the sheet, so that a `status` input column anywhere
# else is read.
LEGACY_RESULT_COLUMNS: tuple[str, ...] = ("row", "status", "crm_id", "error")


def _key(header: object) -> str:
    """A header as the loader compares it (case, spaces, underscores and punctuation ignored)."""
    return "".join(char for char in str(header) if char.isalnum()).casefold()


_RESULT_KEYS = frozenset(_key(name) for name in RESULT_COLUMNS)
_LEGACY_KEYS = tuple(_key(name) for name in LEGACY_RESULT_COLUMNS)


def result_positions(headers: Sequence[object]) -> frozenset[int]:
    """The positions (0-based) of the result columns among a header row: today's names wherever they stand,
    and an older results workbook's block (``row, status, crm_id, error``) when the row starts with it."""
    keys = [_key(header) if header is not None else "" for header in headers]
    found = {position for position, key in enumerate(keys) if key in _RESULT_KEYS}
    if tuple(keys[: len(_LEGACY_KEYS)]) == _LEGACY_KEYS:
        found |= set(range(len(_LEGACY_KEYS)))
    return frozenset(found)


# The Invoices sheet, one row per invoice.
INVOICE_COLUMNS: tuple[str, ...] = (
    "invoice_number",
    "status",
    "crm_id",
    "crm_status",
    "lines",
    "total",
    "crm_total",
    "currency",
    "source_rows",
    "error",
)
# What a finance user reads at the head of each Invoices column (the sheet is never read back as input).
INVOICE_HEADERS: dict[str, str] = {
    "invoice_number": "Invoice number",
    "status": "Status",
    "crm_id": "CRM ID",
    "crm_status": "CRM status",
    "lines": "Lines",
    "total": "Total",
    "crm_total": "CRM total",
    "currency": "Currency",
    "source_rows": "Source rows",
    "error": "Error",
}
