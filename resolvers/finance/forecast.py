"""The collection forecast of financeAnalytics: the 3 calendar months after as_of's month.

The method, TRAILING_3_MONTH_COLLECTION_RATE, is deliberately simple enough to check by hand:

- history: the school's invoice lines (of every term) that fell due in the 3 months before
  as_of (from `window_start(as_of)` up to the day before it). Of what they billed, less what
  scholarships covered (no cash is expected for that), the share payments had collected by the
  end of as_of is the trailing collection rate.
- each forecast month's dueAmount is what the term's lines falling due in that month still owe
  as of as_of; its expectedCollections is dueAmount times the rate, to the cent (half up).

What is overdue already is not forecast (it fell due before the months forecast). With too
little history (fewer than MIN_HISTORY_LINES lines with something payable fell due in the
window: a rate from one or two lines says nothing) there is no rate, and the forecast says so:
the due amounts are given, the expected collections are None rather than a guess.

Pure functions of plain data; resolvers/finance/analytics.py reads the numbers.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from models.money import CENT

METHOD = "TRAILING_3_MONTH_COLLECTION_RATE"
MONTHS = 3
MIN_HISTORY_LINES = 5
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class History:
    """The trailing window's lines, as of the forecast's day: how many had something payable
    (billed beyond their awards), and their sums."""

    since: date
    lines: int
    billed: Decimal
    awarded: Decimal
    collected: Decimal

    @property
    def payable(self) -> Decimal:
        return self.billed - self.awarded

    @property
    def rate(self) -> Decimal | None:
        """collected / payable; None with too little history."""
        if self.lines < MIN_HISTORY_LINES or self.payable <= 0:
            return None
        return self.collected / self.payable


@dataclass(frozen=True)
class ForecastMonth:
    month: str
    due_amount: Decimal
    expected_collections: Decimal | None


@dataclass(frozen=True)
class Forecast:
    method: str
    explanation: str
    months: Sequence[ForecastMonth]


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, its day of the month clamped to the month's length."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return day.replace(year=year, month=month + 1, day=min(day.day, calendar.monthrange(year, month + 1)[1]))


def month_label(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def window_start(as_of: date) -> date:
    return add_months(as_of, -MONTHS)


def forecast_months(as_of: date) -> list[date]:
    """The first days of the MONTHS months after as_of's."""
    first = as_of.replace(day=1)
    return [add_months(first, offset) for offset in range(1, MONTHS + 1)]


def forecast(as_of: date, due_by_month: Mapping[str, Decimal], history: History) -> Forecast:
    """The forecast of the 3 months after as_of's, from what falls due in each (`due_by_month`,
    by YYYY-MM) and the trailing history."""
    rate = history.rate
    months = []
    for label in (month_label(month) for month in forecast_months(as_of)):
        due = due_by_month.get(label, ZERO)
        expected = None if rate is None else (due * rate).quantize(CENT, rounding=ROUND_HALF_UP)
        months.append(ForecastMonth(month=label, due_amount=due, expected_collections=expected))
    window = f"the 3 months before {as_of.isoformat()} (due {history.since.isoformat()} or later)"
    if rate is None:
        explanation = (
            f"Too little history: {history.lines} line(s) of the school's invoices with something "
            f"payable fell due in {window}, fewer than the {MIN_HISTORY_LINES} a collection rate is "
            "taken from. Each month shows what falls due in it; expected collections are not estimated."
        )
    else:
        percent = (rate * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        explanation = (
            f"Expected collections = what falls due in the month (still open as of {as_of.isoformat()}) "
            f"x the trailing collection rate {percent}%: of the {history.payable} that {history.lines} "
            f"lines of the school's invoices due in {window} billed (less scholarship awards), payments "
            f"had collected {history.collected} by that day. Amounts already overdue are not included."
        )
    return Forecast(method=METHOD, explanation=explanation, months=months)
