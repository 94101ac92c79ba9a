"""The invoice total computed exactly as ONLYOFFICE CRM computes ``cost``.

Every stored value has 2 decimals; R() rounds half to even. Per line::

    base = R(price * quantity); disc = R(base * discount / 100); net = base - disc
    t1 = R(net * rate1 / 100); t2 = R(net * rate2 / 100); cost += net + t1 + t2

The two taxes apply side by side on the discounted amount; the exchange rate plays no part.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from typing import Any

from importer.models import ResolvedLine

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


def crm_cost(record: Mapping[str, Any]) -> Decimal | None:
    """The ``cost`` of a CRM invoice record, to the cent (None when the record has none)."""
    cost = record.get("cost")
    if isinstance(cost, int | float | str) and not isinstance(cost, bool):
        return r2(Decimal(str(cost)))
    return None


def r2(value: Decimal) -> Decimal:
    """Round to 2 decimals, half to even (banker's rounding), as the CRM does."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def line_cost(
    price: Decimal,
    quantity: Decimal,
    discount: Decimal = Decimal(0),
    rate1: Decimal | None = None,
    rate2: Decimal | None = None,
) -> Decimal:
    """The cost of one line: discounted net plus both taxes, each rounded the CRM's way."""
    base = r2(r2(price) * r2(quantity))
    net = base - r2(base * r2(discount) / HUNDRED)
    tax1 = r2(net * r2(rate1) / HUNDRED) if rate1 else Decimal(0)
    tax2 = r2(net * r2(rate2) / HUNDRED) if rate2 else Decimal(0)
    return net + tax1 + tax2


def invoice_cost(lines: Iterable[ResolvedLine]) -> Decimal:
    """The total of an invoice's resolved lines (each has its price and its taxes' rates)."""
    total = sum(
        (
            line_cost(line.price, line.line.quantity, line.line.discount, line.tax1_rate, line.tax2_rate)
            for line in lines
        ),
        Decimal(0),
    )
    return r2(total)


def r2_half_up(value: Decimal) -> Decimal:
    """Round to 2 decimals half away from zero, as a spreadsheet's ROUND does."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _line_cost_by(
    rounding: Callable[[Decimal], Decimal],
    price: Decimal,
    quantity: Decimal,
    discount: Decimal,
    rate1: Decimal | None,
    rate2: Decimal | None,
) -> Decimal:
    base = rounding(rounding(price) * rounding(quantity))
    net = base - rounding(base * rounding(discount) / HUNDRED)
    tax1 = rounding(net * rounding(rate1) / HUNDRED) if rate1 else Decimal(0)
    tax2 = rounding(net * rounding(rate2) / HUNDRED) if rate2 else Decimal(0)
    return net + tax1 + tax2


@dataclass(frozen=True)
class PricedLine:
    """What the total of one line is computed from (its row, for the message)."""

    row: int
    price: Decimal
    quantity: Decimal
    discount: Decimal = Decimal(0)
    rate1: Decimal | None = None
    rate2: Decimal | None = None


def mismatch_message(expected: Decimal, total: Decimal, lines: Iterable[PricedLine]) -> str:
    """The message of a ``total_mismatch``: the two totals, how the CRM rounds, and the first line whose
    cost differs when rounded as a spreadsheet's ROUND does (half away from zero), when that is the cause.
    Used by importer.group (offline) and importer.resolve (with the CRM's tax rates)."""
    rounding_cause = ""
    for line in lines:
        args = (line.price, line.quantity, line.discount, line.rate1, line.rate2)
        crm, spreadsheet = _line_cost_by(r2, *args), _line_cost_by(r2_half_up, *args)
        if crm != spreadsheet:
            rounding_cause = (
                f"; row {line.row} comes to {crm:,.2f} the CRM's way but {spreadsheet:,.2f} with ROUND "
                "(half away from zero)"
            )
            break
    return (
        f"The expected total {expected:,.2f} differs from the total the CRM will compute, {total:,.2f} (the "
        f"CRM rounds each line to the cent, half to even{rounding_cause}): check the quantities, prices and "
        "discounts, or the expected total."
    )
