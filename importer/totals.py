"""The invoice total computed exactly as ONLYOFFICE CRM computes ``cost``.

Every stored value has 2 decimals; R() rounds half to even. Per line::

    base = R(price * quantity); disc = R(base * discount / 100); net = base - disc
    t1 = R(net * rate1 / 100); t2 = R(net * rate2 / 100); cost += net + t1 + t2

The two taxes apply side by side on the discounted amount; the exchange rate plays no part.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal

from importer.models import ResolvedLine

CENT = Decimal("0.01")
HUNDRED = Decimal(100)


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
