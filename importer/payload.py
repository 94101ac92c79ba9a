"""The body of ``POST invoice`` (and later ``PUT invoice/{id}``) for a resolved invoice.

The body is what the CRM stores: amounts as 2-decimal text, dates as ``yyyy-mm-dd``, references as IDs.
Which key each input column becomes, and how its value is written, is declared with the column
(importer.columns, ``Column.payload``).
``content_hash`` fingerprints a body, so the journal can tell whether the file changed since an import.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from importer.columns import (
    BUILT_IN_DEFAULTS,
    BY_NAME,
    COLUMNS,
    INVOICE_KEY,
    LINES_ORDER,
    Column,
    Kind,
    Write,
)
from importer.models import ResolvedInvoice, ResolvedLine

_Field = tuple[int, str, Any]
_INVOICE_COLUMNS = tuple(c for c in COLUMNS if c.invoice_level)
_LINE_COLUMNS = tuple(c for c in COLUMNS if not c.invoice_level)

CENT = Decimal("0.01")
SENT_SUMMARY_LIMIT = 1500


def _typed_default(column: Column, text: str) -> Any:
    """A built-in default as the typed value a blank cell gets from validate."""
    if column.to_value is not None:
        return column.to_value(text)
    return Decimal(text) if column.kind is Kind.NUMBER else text


_DEFAULTS: dict[str, Any] = {
    name: _typed_default(BY_NAME[name], text) for name, text in BUILT_IN_DEFAULTS.items()
}


def decimal_text(value: Decimal) -> str:
    """An amount as the decimal string the CRM stores: 2 decimals, no exponent (``7.7`` -> ``"7.70"``)."""
    return format(value.quantize(CENT, rounding=ROUND_HALF_EVEN), "f")


def _written(value: Any, write: Write) -> Any:
    """A value as the body holds it (a blank one: the CRM's 'none', 0 or 0.00, for IDs and amounts)."""
    if write is Write.AMOUNT:
        return decimal_text(Decimal(0) if value is None else value)
    if write is Write.ID:
        return value or 0
    if write is Write.DATE:
        return "" if value is None else value.strftime("%Y-%m-%d")
    if write is Write.INTEGER:
        return 0 if value is None else int(value)
    return value


def _fields(columns: tuple[Column, ...], values: Mapping[str, Any], resolved: object) -> list[_Field]:
    """(order, key, written value) of each declared column of a level that goes in the body: the CRM's
    value where it resolved the column, else the file's (its built-in default where blank)."""
    fields = []
    for column in columns:
        target = column.payload
        if target is None:
            continue
        if target.resolved is not None:
            value = getattr(resolved, target.resolved)
        else:
            value = values.get(column.name)
            if value is None and column.name in _DEFAULTS:
                value = _DEFAULTS[column.name]
        if target.omit_blank and not value:
            continue
        fields.append((target.order, target.key, _written(value, target.write)))
    return sorted(fields, key=lambda field: field[0])


def _line_payload(line: ResolvedLine) -> dict[str, Any]:
    return {key: value for _, key, value in _fields(_LINE_COLUMNS, line.line.values, line)}


def build_payload(resolved: ResolvedInvoice) -> dict[str, Any]:
    """The exact JSON body of ``POST invoice`` for a resolved invoice, as importer.columns places each
    column (``invoiceLines`` at LINES_ORDER among the invoice's keys)."""
    invoice = resolved.invoice
    values = {**invoice.values, INVOICE_KEY: invoice.number}
    fields = _fields(_INVOICE_COLUMNS, values, resolved)
    fields.append((LINES_ORDER, "invoiceLines", [_line_payload(line) for line in resolved.lines]))
    return {key: value for _, key, value in sorted(fields, key=lambda field: field[0])}


def content_hash(payload: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical JSON of a body (sorted keys, no spaces)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def describe_sent(payload: Mapping[str, Any]) -> str:
    """What was sent, for a failure message (shortened if very long)."""
    text = json.dumps(payload, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= SENT_SUMMARY_LIMIT else text[:SENT_SUMMARY_LIMIT] + " …"
