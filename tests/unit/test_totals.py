"""importer.totals against an independent computation of the CRM's arithmetic."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from importer.models import ResolvedLine
from importer.totals import invoice_cost, line_cost, r2
from tests import builders


def cents(value: Decimal) -> int:
    """An amount with at most 2 decimals as whole cents."""
    return int(value * 100)


def divide_half_even(numerator: int, denominator: int) -> int:
    """Integer division rounded half to even, written without Decimal quantize."""
    quotient, remainder = divmod(numerator, denominator)
    if remainder * 2 > denominator or (remainder * 2 == denominator and quotient % 2 == 1):
        quotient += 1
    return quotient


def expected_line_cents(
    price: Decimal, quantity: Decimal, discount: Decimal, rate1: Decimal, rate2: Decimal
) -> int:
    base = divide_half_even(cents(price) * cents(quantity), 100)
    net = base - divide_half_even(base * cents(discount), 10_000)
    tax1 = divide_half_even(net * cents(rate1), 10_000)
    tax2 = divide_half_even(net * cents(rate2), 10_000)
    return net + tax1 + tax2


amounts = st.decimals(
    min_value=0, max_value=Decimal("99999.99"), places=2, allow_nan=False, allow_infinity=False
)
percents = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(price=amounts, quantity=amounts, discount=percents, rate1=percents, rate2=percents)
def test_line_cost_matches_an_integer_computation(
    price: Decimal, quantity: Decimal, discount: Decimal, rate1: Decimal, rate2: Decimal
) -> None:
    cost = line_cost(price, quantity, discount, rate1, rate2)
    assert cost == Decimal(expected_line_cents(price, quantity, discount, rate1, rate2)) / 100


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(amounts, amounts, percents), min_size=1, max_size=8))
def test_invoice_cost_is_the_sum_of_its_lines(lines: list[tuple[Decimal, Decimal, Decimal]]) -> None:
    invoice = [
        ResolvedLine(line=builders.line(i, "x", q, p, discount=d), item_id=1, price=p)
        for i, (p, q, d) in enumerate(lines)
    ]
    expected = sum(expected_line_cents(p, q, d, Decimal(0), Decimal(0)) for p, q, d in lines)
    assert invoice_cost(invoice) == Decimal(expected) / 100


def test_half_even_not_half_up() -> None:
    # 2.90 * 25% = 0.725: half-even gives 0.72 (half-up would give 0.73)
    assert line_cost(Decimal("2.90"), Decimal(1), Decimal(0), Decimal(25)) == Decimal("3.62")
    assert r2(Decimal("0.725")) == Decimal("0.72") and r2(Decimal("0.735")) == Decimal("0.74")
    assert Decimal("0.725").quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN) == Decimal("0.72")


def test_discount_and_two_side_by_side_taxes() -> None:
    # base 770.00, discount 25% -> 577.50, taxes 20% and 5% on 577.50 each: 115.50 + 28.875 -> 28.88
    assert line_cost(Decimal("7.70"), Decimal(100), Decimal(25), Decimal(20), Decimal(5)) == Decimal("721.88")


def test_invoice_cost_takes_the_resolved_price_and_rates_not_the_file_cells() -> None:
    # the file left the price blank and named the taxes; the pre-flight found 7.70, 20% and 5%
    written = builders.line(2, "WID-001", 100, None, discount="25", tax1="VAT", tax2="Eco")
    resolved = ResolvedLine(
        line=written, item_id=1, price=Decimal("7.70"), tax1_rate=Decimal(20), tax2_rate=Decimal(5)
    )
    assert invoice_cost([resolved]) == Decimal("721.88")
    assert invoice_cost([resolved, resolved]) == Decimal("1443.76")
