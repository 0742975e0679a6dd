"""A term's money as of a day (financeAnalytics): billed, collected, awarded, outstanding, the
collection rate, the aging of what is open, the totals by month and a collection forecast.

Everything is summed by the database, in whole cents, from the ledger and its allocations, as
they stood at the end of `as_of` in the school's timezone (`cutoff`); nothing is read per student
and no denormalized copy (an invoice's total or status) is trusted.

- billed: the RECEIVABLE side of the CHARGE and VOID entries of the term's invoice lines (a
  void's reversing entries net its charges out; a DRAFT invoice has none yet).
- collected: what payments applied to those lines (allocations), net of what refunds and voids
  took back. awarded: the same for scholarship awards, net of revocations and voids.
- outstanding: per line, billed less collected less awarded; its sum is the aging's, by how many
  days past due each line is on `as_of`.
- credit: what the term's students (those with an invoice of the term) paid or were awarded,
  net of refunds and revocations, that no line holds (overpayments, money a void freed). It is a
  student's, not a term's, so it is in none of the sums above; with the collected and awarded
  amounts it makes up every payment and award of those students that is applied to this term.

So billed = collected + awarded + outstanding holds line by line, to the cent, and `line_totals`
(the one per-line query) is shared with the finance report. byMonth groups the same entries and
allocations by the school's calendar months (month bounds computed here, compared in SQL), so
its columns sum to the totals. The whole answer costs five statements (after the term and the
school, from the loaders) however many students the term bills.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Date,
    Select,
    Subquery,
    case,
    cast,
    func,
    literal,
    null,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from errors import Forbidden
from models import Allocation, Invoice, InvoiceLine, LedgerEntry, School, Term
from models.enums import EntryKind, LedgerAccount
from models.money import from_cents
from resolvers.finance import forecast
from resolvers.finance.access import require_finance_staff
from resolvers.finance.forecast import Forecast, History, add_months, month_label
from resolvers.finance.invoices import school_today
from resolvers.policy import NOT_VISIBLE
from resolvers.roster_rules import decode_or_none

if TYPE_CHECKING:
    from context import Context

AGING_DAYS = (30, 60, 90)
BILLING_KINDS = (EntryKind.CHARGE, EntryKind.VOID)
# The RECEIVABLE entries of money in: payments and awards, and their refunds and revocations.
MONEY_IN_KINDS = (EntryKind.PAYMENT, EntryKind.REFUND, EntryKind.AWARD, EntryKind.AWARD_REVOKED)


@dataclass(frozen=True)
class Aging:
    current: Decimal
    days_1_to_30: Decimal
    days_31_to_60: Decimal
    days_61_to_90: Decimal
    over_90: Decimal


@dataclass(frozen=True)
class MonthTotals:
    month: str
    billed: Decimal
    collected: Decimal


@dataclass(frozen=True)
class FinanceAnalytics:
    term: Term
    as_of: date
    currency: str
    billed: Decimal
    collected: Decimal
    awarded: Decimal
    outstanding: Decimal
    credit: Decimal
    invoice_count: int
    overdue_invoice_count: int
    aging: Aging
    by_month: Sequence[MonthTotals]
    forecast: Forecast

    @property
    def collection_rate(self) -> float | None:
        """collected / billed, to four decimals; None (not 0) when nothing is billed, since a
        rate of nothing is no rate."""
        return None if self.billed == 0 else round(float(self.collected / self.billed), 4)


def cents(column: ColumnElement[Decimal] | InstrumentedAttribute[Decimal]) -> ColumnElement[int]:
    """A Money column as its stored integer cents, so that sums and differences stay integers."""
    return type_coerce(column, BigInteger)


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant a day of the school's calendar begins."""
    return datetime.combine(day, time(), zone).astimezone(UTC)


def cutoff_of(as_of: date, zone: ZoneInfo) -> datetime:
    """The end of `as_of` in the school's timezone: what was posted before it counts."""
    return day_start(as_of + timedelta(days=1), zone)


def term_invoices(term_id: int) -> Select[int]:
    return select(Invoice.id).where(Invoice.term_id == term_id)


def line_totals(school_id: int, cutoff: datetime, term_id: int | None = None) -> Subquery:
    """Per invoice line of the school (of one term, or all): `billed`, `paid`, `awarded` and
    `open` in cents, as they stood at `cutoff`, with the line's invoice and due date.

    One grouping of a union of the lines, their billing entries and their allocations, each
    narrowed by indexed columns, and no joins: the plan stays linear in the rows however stale
    the database's statistics are (joins of grouped subqueries did not, on a fresh PostgreSQL)."""
    zero = literal(0, BigInteger)
    no_day = cast(null(), Date)
    lines = select(
        InvoiceLine.id.label("line_id"),
        InvoiceLine.invoice_id.label("invoice_id"),
        InvoiceLine.due_date.label("due_date"),
        zero.label("billed"),
        zero.label("paid"),
        zero.label("awarded"),
    ).where(InvoiceLine.school_id == school_id)
    amount = cents(Allocation.amount)
    charges = select(
        LedgerEntry.invoice_line_id, LedgerEntry.invoice_id, no_day, cents(LedgerEntry.amount), zero, zero
    ).where(
        LedgerEntry.school_id == school_id,
        LedgerEntry.account == LedgerAccount.RECEIVABLE,
        LedgerEntry.kind.in_(BILLING_KINDS),
        LedgerEntry.invoice_line_id.is_not(None),
        LedgerEntry.posted_at < cutoff,
    )
    applied = select(
        Allocation.invoice_line_id,
        Allocation.invoice_id,
        no_day,
        zero,
        case((Allocation.payment_id.is_not(None), amount), else_=0),
        case((Allocation.award_id.is_not(None), amount), else_=0),
    ).where(Allocation.school_id == school_id, Allocation.created_at < cutoff)
    if term_id is not None:
        lines = lines.where(InvoiceLine.invoice_id.in_(term_invoices(term_id)))
        charges = charges.where(LedgerEntry.invoice_id.in_(term_invoices(term_id)))
        applied = applied.where(Allocation.invoice_id.in_(term_invoices(term_id)))
    parts = union_all(lines, charges, applied).subquery("parts")
    billed, paid, awarded = (func.sum(parts.c[name]) for name in ("billed", "paid", "awarded"))
    return (
        select(
            parts.c.line_id,
            func.max(parts.c.invoice_id).label("invoice_id"),
            func.max(parts.c.due_date).label("due_date"),
            billed.label("billed"),
            paid.label("paid"),
            awarded.label("awarded"),
            (billed - paid - awarded).label("open"),
        )
        .group_by(parts.c.line_id)
        .subquery("line_totals")
    )


async def finance_analytics(ctx: Context, term_global_id: str, as_of: date | None) -> FinanceAnalytics:
    """Staff/admin of the term's school; another school's term (or a malformed id) is FORBIDDEN
    like a missing one. `as_of` defaults to the school's today."""
    user = require_finance_staff(ctx)
    pk = decode_or_none(term_global_id, "Term")
    term = await ctx.loaders.term_by_id.load(pk) if pk is not None else None
    if term is None or term.school_id != user.school_id:
        raise Forbidden(NOT_VISIBLE)
    school = await ctx.loaders.school_by_id.load_existing(user.school_id)
    day = as_of or school_today(school.timezone)
    async with ctx.session_factory() as session:
        return await analytics_of(session, school, term, day)


async def analytics_of(session: AsyncSession, school: School, term: Term, as_of: date) -> FinanceAnalytics:
    """The analytics in five statements, whatever the number of students or invoices."""
    zone = ZoneInfo(school.timezone)
    cutoff = cutoff_of(as_of, zone)
    lines = line_totals(school.id, cutoff, term.id)
    forecast_months = forecast.forecast_months(as_of)
    bounds = [*forecast_months, add_months(forecast_months[-1], 1)]
    first_aging, second_aging, third_aging = (as_of - timedelta(days=days) for days in AGING_DAYS)
    due, open_amount = lines.c.due_date, lines.c.open

    def open_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, open_amount), else_=0)), 0)

    totals = (
        await session.execute(
            select(
                func.coalesce(func.sum(lines.c.billed), 0),
                func.coalesce(func.sum(lines.c.paid), 0),
                func.coalesce(func.sum(lines.c.awarded), 0),
                func.coalesce(func.sum(open_amount), 0),
                open_where(due >= as_of),
                open_where((due < as_of) & (due >= first_aging)),
                open_where((due < first_aging) & (due >= second_aging)),
                open_where((due < second_aging) & (due >= third_aging)),
                open_where(due < third_aging),
                func.count(func.distinct(case((lines.c.billed > 0, lines.c.invoice_id)))),
                func.count(func.distinct(case(((due < as_of) & (open_amount > 0), lines.c.invoice_id)))),
                *(open_where((due >= start) & (due < end)) for start, end in pairwise(bounds)),
            )
        )
    ).one()
    billed, collected, awarded, outstanding, *aging = (from_cents(int(value)) for value in totals[:9])
    due_by_month = {
        month_label(month): from_cents(int(value))
        for month, value in zip(forecast_months, totals[11:], strict=True)
    }
    history = await _history(session, school.id, as_of, cutoff)
    return FinanceAnalytics(
        term=term,
        as_of=as_of,
        currency=school.currency,
        billed=billed,
        collected=collected,
        awarded=awarded,
        outstanding=outstanding,
        credit=await _credit(session, school.id, term.id, cutoff),
        invoice_count=int(totals[9]),
        overdue_invoice_count=int(totals[10]),
        aging=Aging(*aging),
        by_month=await _by_month(session, school.id, term, as_of, cutoff, zone),
        forecast=forecast.forecast(as_of, due_by_month, history),
    )


async def _history(session: AsyncSession, school_id: int, as_of: date, cutoff: datetime) -> History:
    """What the school's lines of every term that fell due in the trailing window had billed,
    had awarded and had collected by the cutoff, and how many of them had something payable."""
    since = forecast.window_start(as_of)
    lines = line_totals(school_id, cutoff)
    row = (
        await session.execute(
            select(
                func.count(case((lines.c.billed > lines.c.awarded, 1))),
                func.coalesce(func.sum(lines.c.billed), 0),
                func.coalesce(func.sum(lines.c.awarded), 0),
                func.coalesce(func.sum(lines.c.paid), 0),
            ).where(lines.c.due_date >= since, lines.c.due_date < as_of)
        )
    ).one()
    billed, awarded, paid = (from_cents(int(value)) for value in row[1:])
    return History(since=since, lines=int(row[0]), billed=billed, awarded=awarded, collected=paid)


async def _credit(session: AsyncSession, school_id: int, term_id: int, cutoff: datetime) -> Decimal:
    """Money in (payments and awards, net of refunds and revocations) of the term's students that
    no line holds at the cutoff: what those RECEIVABLE entries credited less what is allocated,
    grouped by student over a union (no joins, as in `line_totals`)."""
    zero = literal(0, BigInteger)
    parts = union_all(
        select(
            Invoice.student_id.label("student_id"), literal(1).label("of_term"), zero.label("amount")
        ).where(Invoice.term_id == term_id, Invoice.school_id == school_id),
        select(LedgerEntry.student_id, literal(0), -cents(LedgerEntry.amount)).where(
            LedgerEntry.school_id == school_id,
            LedgerEntry.account == LedgerAccount.RECEIVABLE,
            LedgerEntry.kind.in_(MONEY_IN_KINDS),
            LedgerEntry.posted_at < cutoff,
        ),
        select(Allocation.student_id, literal(0), -cents(Allocation.amount)).where(
            Allocation.school_id == school_id, Allocation.created_at < cutoff
        ),
    ).subquery("parts")
    students = (
        select(func.sum(parts.c.amount).label("credit"))
        .group_by(parts.c.student_id)
        .having(func.max(parts.c.of_term) == 1)
        .subquery("students")
    )
    found = await session.scalar(select(func.coalesce(func.sum(students.c.credit), 0)))
    return from_cents(int(found or 0))


async def _by_month(
    session: AsyncSession, school_id: int, term: Term, as_of: date, cutoff: datetime, zone: ZoneInfo
) -> list[MonthTotals]:
    """Every month from the first with activity (or the term's first) to as_of's, each with the
    billed entries and payment allocations of the term's lines posted in it."""
    charges = select(
        LedgerEntry.posted_at.label("at"),
        cents(LedgerEntry.amount).label("billed"),
        literal(0, BigInteger).label("collected"),
    ).where(
        LedgerEntry.school_id == school_id,
        LedgerEntry.account == LedgerAccount.RECEIVABLE,
        LedgerEntry.kind.in_(BILLING_KINDS),
        LedgerEntry.invoice_line_id.is_not(None),
        LedgerEntry.invoice_id.in_(term_invoices(term.id)),
        LedgerEntry.posted_at < cutoff,
    )
    payments = select(
        Allocation.created_at.label("at"),
        literal(0, BigInteger).label("billed"),
        cents(Allocation.amount).label("collected"),
    ).where(
        Allocation.school_id == school_id,
        Allocation.payment_id.is_not(None),
        Allocation.invoice_id.in_(term_invoices(term.id)),
        Allocation.created_at < cutoff,
    )
    activity = union_all(charges, payments).subquery("activity")
    first: datetime | None = await session.scalar(select(func.min(activity.c.at)))
    last_month = as_of.replace(day=1)
    start = term.starts_on.replace(day=1)
    if first is not None:
        start = min(start, first.astimezone(zone).date().replace(day=1))
    start = min(start, last_month)
    months = [start]
    while months[-1] < last_month:
        months.append(add_months(months[-1], 1))
    last = month_label(months[-1])
    whens = [
        (activity.c.at < day_start(following, zone), month_label(month))
        for month, following in pairwise(months)
    ]
    labelled = select(
        (case(*whens, else_=last) if whens else literal(last)).label("month"),
        activity.c.billed,
        activity.c.collected,
    ).subquery("labelled")
    rows = await session.execute(
        select(labelled.c.month, func.sum(labelled.c.billed), func.sum(labelled.c.collected)).group_by(
            labelled.c.month
        )
    )
    found = {label: (int(billed), int(collected)) for label, billed, collected in rows.all()}
    return [
        MonthTotals(label, *(from_cents(amount) for amount in found.get(label, (0, 0))))
        for label in (month_label(month) for month in months)
    ]
