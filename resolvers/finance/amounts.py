"""The rules of an amount of money given to the API: positive, at most two decimals, and at most
MAX_AMOUNT.

The bound comes first: a Decimal with more digits than the context's precision (28) cannot be
quantized to the cent at all (`decimal.InvalidOperation`; the fuzzer sent 2 x 10^31), and no
school's fee, payment or budget comes near a billion. Sums of millions of such amounts in
cents still fit the BIGINT columns (models/money.py)."""

from __future__ import annotations

from decimal import Decimal

from errors import Problem
from models.money import CENT

MAX_AMOUNT = Decimal("1000000000.00")


def amount_problem(amount: Decimal, field: tuple[str, ...]) -> Problem | None:
    """INVALID unless the amount keeps the rules above."""
    if not amount.is_finite() or amount <= 0:
        return Problem("The amount must be greater than zero.", "INVALID", field)
    if amount > MAX_AMOUNT:
        return Problem(f"The amount must be at most {MAX_AMOUNT:,}.", "INVALID", field)
    if amount != amount.quantize(CENT):
        return Problem("The amount has at most two decimals.", "INVALID", field)
    return None
