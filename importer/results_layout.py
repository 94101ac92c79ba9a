"""The names a results workbook is made of, written once: its sheets and the result columns of its Rows sheet.

The writer (importer.results) lays the workbook out with these, and the loader uses them to recognise a
results workbook fed back as input (read its Rows sheet, drop its result columns). This module imports
nothing, so the loader can use it without loading the writer's dependencies.
"""

from __future__ import annotations

INVOICES_SHEET = "Invoices"
ROWS_SHEET = "Rows"
SUMMARY_SHEET = "Summary"
RESULTS_SHEETS: tuple[str, ...] = (INVOICES_SHEET, ROWS_SHEET, SUMMARY_SHEET)  # in workbook order

# The columns the Rows sheet adds before the input columns. When such a sheet is fed back as input they are
# not input data: the loader drops them (wherever they stand) and the writer adds fresh ones.
RESULT_COLUMNS: tuple[str, ...] = ("row", "status", "crm_id", "error")

# The Invoices sheet, one row per invoice.
INVOICE_COLUMNS: tuple[str, ...] = (
    "invoice_number",
    "status",
    "crm_id",
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
    "lines": "Lines",
    "total": "Total",
    "crm_total": "CRM total",
    "currency": "Currency",
    "source_rows": "Source rows",
    "error": "Error",
}
