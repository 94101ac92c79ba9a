"""Rules that span two columns, on a frame of one row per invoice (its first row, after filling).

Each rule is declared once in :data:`INVOICE_RULES`: the columns it reads (typed as for the row checks:
text as str, dates as datetime64, numbers as float64), the column whose cell is reported, a vectorised
predicate over the frame, and how its message is worded. ``INVOICE_SCHEMA`` is the pandera schema of
these rules; importer.validate runs it and words the failures with ``explain``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from importer.journal import number_key
from importer.parse import CURRENCY_SIGNS


@dataclass(frozen=True)
class InvoiceRule:
    """A rule over the invoice frame. ``explain(frame, failing, rows)`` words the message of each failing
    invoice (``failing``: their index in ``frame``; ``rows``: the row number of each invoice's first
    row, indexed like ``frame``)."""

    code: str
    columns: tuple[str, ...]
    reported_on: str
    passes: Callable[[pd.DataFrame], pd.Series]
    explain: Callable[[pd.DataFrame, pd.Index, pd.Series], list[str]]


def _due_not_before_issue(frame: pd.DataFrame) -> pd.Series:
    due, issue = frame["due_date"], frame["issue_date"]
    return due.isna() | issue.isna() | (due >= issue)


def _due_message(frame: pd.DataFrame, failing: pd.Index, rows: pd.Series) -> list[str]:
    return [
        f"The due date is before the issue date {issue.date().isoformat()}: correct one of them."
        for issue in frame.loc[failing, "issue_date"].tolist()
    ]


def _crm_key(number: object) -> str:
    """How the CRM compares invoice numbers: ignoring case, trailing spaces and accents (as the journal)."""
    return number_key(str(number))


def _unique_ignoring_case(frame: pd.DataFrame) -> pd.Series:
    return ~frame["invoice_number"].map(_crm_key).duplicated(keep=False)


def _duplicate_message(frame: pd.DataFrame, failing: pd.Index, rows: pd.Series) -> list[str]:
    numbers = frame["invoice_number"]
    spellings: dict[str, list[tuple[str, int]]] = {}
    for number, row in zip(numbers.loc[failing].tolist(), rows.loc[failing].tolist(), strict=True):
        spellings.setdefault(_crm_key(number), []).append((str(number), int(row)))
    messages = []
    for value in numbers.loc[failing].tolist():
        number = str(value)
        others = " and ".join(f"{n!r} (row {r})" for n, r in spellings[_crm_key(number)] if n != number)
        messages.append(
            "The CRM treats invoice numbers that differ only in upper/lower case, accents or trailing spaces "
            "as the same number, and "
            f"{others} is also in this file: give one of them another number."
        )
    return messages


INVOICE_RULES: tuple[InvoiceRule, ...] = (
    InvoiceRule(
        "duplicate_number", ("invoice_number",), "invoice_number", _unique_ignoring_case, _duplicate_message
    ),
    InvoiceRule(
        "due_before_issue", ("issue_date", "due_date"), "due_date", _due_not_before_issue, _due_message
    ),
)

INVOICE_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(c for rule in INVOICE_RULES for c in rule.columns))

INVOICE_SCHEMA = pa.DataFrameSchema(
    {column: pa.Column(None, nullable=True) for column in INVOICE_COLUMNS},
    checks=[pa.Check(rule.passes, name=rule.code) for rule in INVOICE_RULES],
    name="invoices",
)


# --------------------------------------------------------------------------------- amounts and currency
# A rule across an amount cell and its invoice's currency, on every row (not only an invoice's first):
# an amount written with a currency sign or code ($19.99, EUR 100.00) that is not the invoice's currency.

CURRENCY_COLUMN = "currency"
CURRENCY_MISMATCH = "currency_mismatch"


def currency_contradicted(marks: np.ndarray, currencies: np.ndarray) -> np.ndarray:
    """Per row, whether the amount's currency mark (None: none) contradicts the row's invoice currency
    (upper-case ISO code; None: not known, then nothing is contradicted)."""
    result = np.zeros(len(marks), dtype=bool)
    for position, (mark, currency) in enumerate(zip(marks.tolist(), currencies.tolist(), strict=True)):
        if mark is None or not currency:
            continue
        allowed = CURRENCY_SIGNS.get(mark, frozenset({mark.upper()}))
        result[position] = str(currency).upper() not in allowed
    return result


def currency_message(mark: str, currency: str) -> str:
    return (
        f"This amount is written in {mark} but the invoice's currency is {currency}: remove the sign (or "
        "code) or correct the currency."
    )
