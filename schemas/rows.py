"""The checks every input row must pass, on the parsed and defaulted frame.

The frame the schema sees ("check frame"): text columns as str/None (currency upper-cased, language in
the CRM's spelling where known, template_type "0"/"1" where known), dates as datetime64, numbers and IDs
as float64 (NaN for blank). Required cells are non-nullable columns; each check is named by its error code.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from importer.columns import BY_NAME, REQUIRED, Kind
from importer.crm_constants import CURRENCY_CODES, LANGUAGES

MAX_AMOUNT = 99_999_999.99
AMOUNT_COLUMNS: tuple[str, ...] = ("quantity", "price", "exchange_rate", "invoice_total")
ID_COLUMNS: tuple[str, ...] = tuple(c.name for c in BY_NAME.values() if c.kind is Kind.INTEGER)


def _at_most_two_decimals(values: pd.Series) -> pd.Series:
    cents = values * 100
    return (cents - cents.round()).abs() < 1e-3


def _amount_checks(column: str) -> list[pa.Check]:
    checks = [
        pa.Check(lambda s: s <= MAX_AMOUNT, name="too_large"),
        pa.Check(_at_most_two_decimals, name="decimals"),
    ]
    if column == "exchange_rate":
        checks.insert(0, pa.Check(lambda s: s > 0, name="range"))
    else:
        checks.insert(0, pa.Check(lambda s: s >= 0, name="range"))
    return checks


def _checks(column: str) -> list[pa.Check]:
    if column in AMOUNT_COLUMNS:
        return _amount_checks(column)
    if column == "discount":
        return [
            pa.Check(lambda s: (s >= 0) & (s <= 100), name="range"),
            pa.Check(_at_most_two_decimals, name="decimals"),
        ]
    if column in ID_COLUMNS:
        return [pa.Check(lambda s: (s > 0) & (s <= 2**31 - 1), name="range")]
    if column == "currency":
        return [pa.Check(lambda s: s.isin(CURRENCY_CODES), name="currency")]
    if column == "language":
        return [pa.Check(lambda s: s.isin(LANGUAGES), name="language")]
    if column == "template_type":
        return [pa.Check(lambda s: s.isin(["0", "1"]), name="template_type")]
    return []


ROW_SCHEMA = pa.DataFrameSchema(
    {
        name: pa.Column(None, nullable=name not in REQUIRED, checks=_checks(name), required=True)
        for name in BY_NAME
    },
    name="invoice rows",
)

# The columns a row can fail on (a check, or required); the rest can never fail, so the frame checked
# carries only these and pandera runs ROW_SCHEMA restricted to them.
CHECKED_COLUMNS: tuple[str, ...] = tuple(
    name for name, column in ROW_SCHEMA.columns.items() if column.checks or not column.nullable
)
ROW_CHECKS = ROW_SCHEMA.select_columns(list(CHECKED_COLUMNS))

_MESSAGES: dict[tuple[str, str], str] = {
    ("invoice_number", "required"): "This row has no invoice number, so it belongs to no invoice: "
    "fill it in.",
    ("currency", "required"): "The currency is missing: fill it in (e.g. EUR) or set a default currency "
    "under [defaults] in a --mapping file.",
    ("currency", "currency"): "This currency is not in the CRM's list: use an ISO code such as EUR, USD "
    "or GBP.",
    ("language", "language"): "This language is not one the CRM offers: use a culture name such as en-US, "
    "de-DE or fr-FR.",
    ("template_type", "template_type"): "The template type must be Eur, Rus, 0 or 1.",
    ("quantity", "range"): "The quantity cannot be negative: enter 0 or more.",
    ("price", "range"): "The price cannot be negative: enter 0 or more, or leave it blank for the "
    "catalogue price.",
    ("discount", "range"): "The discount is a percentage from 0 to 100.",
    ("exchange_rate", "range"): "The exchange rate must be greater than 0 (leave it blank for 1).",
    ("invoice_total", "range"): "The expected total cannot be negative.",
}


def message(column: str, code: str) -> str:
    """The one-line message for a failed check ``code`` on ``column``."""
    known = _MESSAGES.get((column, code))
    if known is not None:
        return known
    example = BY_NAME[column].example if column in BY_NAME else ""
    label = column.replace("_", " ")
    if code == "required":
        hint = f" (e.g. {example})" if example else ""
        return f"The {label} is missing: fill it in{hint}."
    if code == "too_large":
        return f"The {label} is too large: the CRM accepts at most 99,999,999.99."
    if code == "decimals":
        return f"The {label} has more than 2 decimals: the CRM keeps 2 and would round it; round it yourself."
    if code == "range" and column in ID_COLUMNS:
        return f"The {label} must be a positive whole number (a CRM ID)."
    return f"The {label} is not valid."
