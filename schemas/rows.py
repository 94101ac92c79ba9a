"""The checks every input row must pass, built from the column declaration (importer.columns).

The frame the schema sees ("check frame"): text columns as str/None (normalised: currency upper-cased,
language in the CRM's spelling where known, template_type "0"/"1" where known), dates as datetime64,
numbers and IDs as float64 (NaN for blank). Required cells are non-nullable columns; each check is named
by its error code and its message is the declaration's.
"""

from __future__ import annotations

import pandera.pandas as pa

from importer.columns import BY_NAME, COLUMNS, MAX_AMOUNT, Column

ROW_SCHEMA = pa.DataFrameSchema(
    {
        column.name: pa.Column(
            None,
            nullable=not column.required,
            checks=[pa.Check(check.passes, name=check.code) for check in column.checks],
            required=True,
        )
        for column in COLUMNS
    },
    name="invoice rows",
)

# The columns a row can fail on (a check, or required); the rest can never fail, so the frame checked
# carries only these and pandera runs ROW_SCHEMA restricted to them.
CHECKED_COLUMNS: tuple[str, ...] = tuple(
    name for name, column in ROW_SCHEMA.columns.items() if column.checks or not column.nullable
)
ROW_CHECKS = ROW_SCHEMA.select_columns(list(CHECKED_COLUMNS))


def message(column: str, code: str) -> str:
    """The one-line message for a failed check ``code`` on ``column`` (from its declaration)."""
    declared: Column | None = BY_NAME.get(column)
    if declared is None:
        return f"The {column.replace('_', ' ')} is not valid."
    return declared.message(code)


__all__ = ["CHECKED_COLUMNS", "MAX_AMOUNT", "ROW_CHECKS", "ROW_SCHEMA", "message"]
