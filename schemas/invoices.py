"""The checks on whole invoices, on a frame of one row per invoice (its first row, after filling).

Columns: ``invoice_number`` (str), ``issue_date`` and ``due_date`` (datetime64). Each check is named by
the error code it produces; ``column_of`` tells which cell a frame-wide check reports on.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa


def _unique_ignoring_case(numbers: pd.Series) -> pd.Series:
    return ~numbers.str.casefold().duplicated(keep=False)


def _due_not_before_issue(frame: pd.DataFrame) -> pd.Series:
    due, issue = frame["due_date"], frame["issue_date"]
    return due.isna() | issue.isna() | (due >= issue)


INVOICE_SCHEMA = pa.DataFrameSchema(
    {
        "invoice_number": pa.Column(
            None, nullable=False, checks=[pa.Check(_unique_ignoring_case, name="duplicate_number")]
        ),
        "issue_date": pa.Column(None, nullable=True),
        "due_date": pa.Column(None, nullable=True),
    },
    checks=[pa.Check(_due_not_before_issue, name="due_before_issue")],
    name="invoices",
)

# Frame-wide checks report every column of a failing row; keep only this one.
CHECK_COLUMN: dict[str, str] = {"due_before_issue": "due_date"}

MESSAGES: dict[str, str] = {
    "due_before_issue": "The due date is before the issue date {issue}: correct one of them.",
    "duplicate_number": "The CRM treats invoice numbers that differ only in upper/lower case as the same "
    "number, and {others} is also in this file: give one of them another number.",
}
