"""Reading request values the way the server binds them, and the server's own cost arithmetic.

The arithmetic is written here on purpose (not imported from ``importer.totals``): the sandbox is the
independent oracle that the importer's arithmetic is tested against.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

_CENT = Decimal("0.01")
_HUNDRED = Decimal(100)


class BadArgument(ValueError):
    """A bad or missing argument: the generic 400 of the server."""

    def __init__(self, message: str = "Value does not fall within the expected range.") -> None:
        super().__init__(message)


def round2(value: Decimal) -> Decimal:
    """Round to 2 decimals, half to even (banker's rounding)."""
    return value.quantize(_CENT, rounding=ROUND_HALF_EVEN)


def stored2(value: Decimal) -> Decimal:
    """What a ``decimal(10,2)`` column keeps: MySQL rounds half away from zero (2.345 → 2.35)."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def to_decimal(value: Any, default: Decimal = Decimal(0)) -> Decimal:
    """A JSON number or numeric string as a Decimal; null or missing gives ``default``."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise BadArgument()
    if isinstance(value, int | Decimal):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except InvalidOperation:
            raise BadArgument() from None
    else:
        raise BadArgument()
    if not result.is_finite():
        raise BadArgument()
    return result


def to_int(value: Any, default: int = 0) -> int:
    """A JSON integer (or an integral number or numeric string); null or missing gives ``default``."""
    if value is None:
        return default
    if isinstance(value, bool):
        raise BadArgument()
    if isinstance(value, int):
        return value
    number = to_decimal(value)
    if number != number.to_integral_value():
        raise BadArgument()
    return int(number)


def to_text(value: Any) -> str | None:
    """A JSON string (numbers become their text); null or missing gives None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        return str(value)
    raise BadArgument()


def to_bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BadArgument()


@dataclass(frozen=True)
class CostLine:
    """One stored invoice line with its taxes' rates (None when the line has no such tax)."""

    price: Decimal
    quantity: Decimal
    discount: Decimal
    rate1: Decimal | None
    rate2: Decimal | None


def invoice_cost(lines: Iterable[CostLine]) -> Decimal:
    """The invoice ``cost``: per line base, discount, net and two side-by-side taxes, rounded half-even."""
    total = Decimal(0)
    for line in lines:
        base = round2(round2(line.price) * round2(line.quantity))
        discount = round2(base * round2(line.discount) / _HUNDRED)
        net = base - discount
        tax1 = round2(net * round2(line.rate1) / _HUNDRED) if line.rate1 is not None else Decimal(0)
        tax2 = round2(net * round2(line.rate2) / _HUNDRED) if line.rate2 is not None else Decimal(0)
        total += net + tax1 + tax2
    return round2(total)
