"""Money in the database: whole cents in a BIGINT, Decimal in Python.

SQLite has no exact decimal type (SQLAlchemy's Numeric goes through floats there), and sums of
floats drift by fractions of a cent; integers add exactly on every database, so SUM() in SQL is
exact too. Amounts are quantized to the cent on the way in: a value with more decimals is the
caller's bug (the API refuses it before it gets here), and raises rather than rounding."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> int:
    if amount != amount.quantize(CENT):
        raise ValueError(f"{amount} has more than two decimals")
    return int(amount * 100)


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


class Money(TypeDecorator[Decimal]):
    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        return None if value is None else to_cents(Decimal(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else from_cents(int(value))
