"""What the Check, Plan and Results pages show, read from the pipeline's report (plain data for the
templates; every message is the pipeline's own)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from importer.models import ImportReport, Invoice, Status
from importer.pipeline import Plan, RunResult
from importer.results import ErrorIndex, summary_counts

PAGE_ROWS = 500
INVOICE_PAGE_URL = "{crm}/Products/CRM/Invoices.aspx?id={id}"


def shown(value: Any) -> str:
    """A cell as text (the template escapes it)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    return str(value)


@dataclass(frozen=True)
class Cell:
    text: str
    error: str  # the messages of this cell, "" when fine


@dataclass(frozen=True)
class GridRow:
    number: int
    status: str
    cells: list[Cell]
    problems: str  # messages about the row or invoice as a whole
    has_error: bool


@dataclass(frozen=True)
class Grid:
    headers: list[str]
    rows: list[GridRow]
    total_rows: int
    error_rows: int
    page: int
    pages: int
    unplaced: list[str]  # errors of no row (e.g. a whole column)


def grid(report: ImportReport, *, page: int = 1, errors_only: bool = False) -> Grid:
    raw = report.table.raw
    headers = [str(header) for header in raw.frame.columns]
    errors = ErrorIndex.build(report, headers)
    invoice_of = {row: invoice for invoice in report.invoices for row in invoice.rows}
    status_of = {invoice.number: report.status(invoice).value for invoice in report.invoices}
    error_rows = set(errors.by_row)
    positions = list(range(len(raw.row_numbers)))
    if errors_only:
        positions = [i for i in positions if raw.row_numbers[i] in error_rows]
    pages = max(1, math.ceil(len(positions) / PAGE_ROWS))
    page = min(max(page, 1), pages)
    chosen = positions[(page - 1) * PAGE_ROWS : page * PAGE_ROWS]
    columns = [raw.frame[header].tolist() for header in raw.frame.columns]
    rows: list[GridRow] = []
    for i in chosen:
        number = raw.row_numbers[i]
        messages = errors.cell_messages(number)
        cells = [
            Cell(shown(columns[c][i]), "; ".join(messages.get(header, [])))
            for c, header in enumerate(headers)
        ]
        problems = [
            errors.describe(error, with_row=False)
            for error in errors.by_row.get(number, [])
            if errors.header(error.column) is None
        ]
        invoice = invoice_of.get(number)
        status = status_of[invoice.number] if invoice else ("invalid" if number in error_rows else "")
        rows.append(GridRow(number, status, cells, "; ".join(dict.fromkeys(problems)), number in error_rows))
    return Grid(
        headers=headers,
        rows=rows,
        total_rows=len(raw.row_numbers),
        error_rows=len(error_rows),
        page=page,
        pages=pages,
        unplaced=[errors.describe(error) for error in errors.unplaced],
    )


def counts(result: RunResult) -> dict[str, int]:
    """Invoices per status (only those that occur), then invoices and lines."""
    all_counts = summary_counts(result.report)
    shown_counts = {status.value: all_counts[status.value] for status in Status if all_counts[status.value]}
    shown_counts["invoices"] = all_counts["invoices"]
    shown_counts["lines"] = all_counts["lines"]
    return shown_counts


@dataclass(frozen=True)
class PlanGroup:
    currency: str
    status: str
    invoices: int
    lines: int
    total: Decimal


def plan_groups(plan: Plan) -> list[PlanGroup]:
    """What will be created, per currency and the status each invoice is to reach."""
    groups: dict[tuple[str, str], list[Any]] = {}
    for resolved in plan.to_create:
        status = str(resolved.invoice.value("status") or "Draft")
        key = (resolved.currency, status)
        entry = groups.setdefault(key, [0, 0, Decimal(0)])
        entry[0] += 1
        entry[1] += len(resolved.lines)
        entry[2] += resolved.total
    return [PlanGroup(c, s, n, lines, total) for (c, s), (n, lines, total) in sorted(groups.items())]


@dataclass(frozen=True)
class InvoiceRow:
    number: str
    status: str
    crm_id: int | None
    link: str | None
    total: str
    currency: str
    rows: str
    message: str


def invoice_rows(result: RunResult, crm_url: str) -> list[InvoiceRow]:
    report = result.report
    headers = report.table.headers
    errors = ErrorIndex.build(report, [str(h) for h in report.table.raw.frame.columns])
    rows = []
    for invoice in report.invoices:
        outcome = report.outcome(invoice)
        crm_id = outcome.crm_id if outcome else None
        total = report.total(invoice)
        rows.append(
            InvoiceRow(
                number=invoice.number,
                status=report.status(invoice).value,
                crm_id=crm_id,
                link=INVOICE_PAGE_URL.format(crm=crm_url.rstrip("/"), id=crm_id) if crm_id else None,
                total="" if total is None else f"{total:,.2f}",
                currency=str(invoice.currency or ""),
                rows=invoice.source_rows,
                message=_invoice_message(invoice, report, errors, headers),
            )
        )
    return rows


def _invoice_message(
    invoice: Invoice, report: ImportReport, errors: ErrorIndex, headers: dict[str, str]
) -> str:
    outcome = report.outcome(invoice)
    parts = [errors.describe(error) for error in report.errors_of(invoice)]
    if outcome is not None and outcome.message:
        parts.append(outcome.message)
    return "; ".join(dict.fromkeys(parts))
