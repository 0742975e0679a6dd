"""A student's account: the financial summary (Student.financialSummary), the ledger entries
with running balances, and the account's payments and awards.

The balance is the sum of the student's RECEIVABLE entries (resolvers/ledger.py); what is overdue
or falls due next comes from the posted lines' allocations (resolvers/finance/lines.py), as of
the school's today. The credit is what the student paid or was awarded that no line took:
the open lines' total less the balance (both are sums of the same charges, payments, refunds
and awards), never below zero.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Invoice, LedgerEntry, Payment, ScholarshipAward, School, StudentProfile
from models.enums import InvoiceStatus, LedgerAccount
from resolvers import ledger
from resolvers.finance.access import require_account_reader
from resolvers.finance.lines import ZERO, LineState, line_states
from resolvers.ids import decode_id_of
from resolvers.pagination import Page, newest_first, page_size
from resolvers.policy import Relation

if TYPE_CHECKING:
    from context import Context


@dataclass(frozen=True)
class FinancialSummary:
    currency: str
    balance: Decimal
    overdue_amount: Decimal
    next_due_date: date | None
    next_due_amount: Decimal | None
    credit_balance: Decimal


@dataclass(frozen=True)
class AccountOwner:
    """The student whose account is read, once the caller may read it."""

    student_id: int
    school_id: int
    currency: str
    staff: bool


@dataclass(frozen=True)
class EntryWithBalance:
    entry: LedgerEntry
    running_balance: Decimal


def summary_of(states: list[LineState], balance: Decimal, currency: str, today: date) -> FinancialSummary:
    open_lines = [state for state in states if state.due > 0]
    upcoming = [state for state in open_lines if state.due_date >= today]
    next_due = min((state.due_date for state in upcoming), default=None)
    return FinancialSummary(
        currency=currency,
        balance=balance,
        overdue_amount=sum((state.due for state in open_lines if state.due_date < today), ZERO),
        next_due_date=next_due,
        next_due_amount=sum((state.due for state in upcoming if state.due_date == next_due), ZERO)
        if next_due
        else None,
        credit_balance=max(ZERO, sum((state.due for state in open_lines), ZERO) - balance),
    )


async def summaries(
    session_factory: async_sessionmaker[AsyncSession], student_ids: list[int], now: datetime | None = None
) -> list[FinancialSummary]:
    """The summaries of many students in three statements (a batch of Loaders.batched)."""
    async with session_factory() as session:
        schools = dict(
            (
                await session.execute(
                    select(StudentProfile.user_id, School)
                    .join(School, School.id == StudentProfile.school_id)
                    .where(StudentProfile.user_id.in_(student_ids))
                )
            ).all()
        )
        balances = await ledger.balances(session, student_ids)
        states: dict[int, list[LineState]] = defaultdict(list)
        for state in await line_states(session, student_ids=student_ids, posted_only=True):
            states[state.student_id].append(state)
    found = []
    for student_id in student_ids:
        school: School = schools[student_id]
        zone = ZoneInfo(school.timezone)
        today = (now or datetime.now(zone)).astimezone(zone).date()
        found.append(summary_of(states[student_id], balances[student_id], school.currency, today))
    return found


async def financial_summary(ctx: Context, student_id: int, school_id: int) -> FinancialSummary:
    """FORBIDDEN for anyone but the student, their guardians and the school's staff and admins."""
    await require_account_reader(ctx, student_id, school_id)
    return await ctx.loaders.batched(summaries).load(student_id)


async def account_owner(ctx: Context, student_global_id: str) -> AccountOwner:
    """The student of studentAccount(studentId:), if the caller may read the account."""
    pk = decode_id_of(student_global_id, "Student")
    profile = await ctx.loaders.student_profile_by_user_id.load(pk)
    relation = await require_account_reader(ctx, pk, profile.school_id if profile else None)
    assert profile is not None
    school = await ctx.loaders.school_by_id.load_existing(profile.school_id)
    return AccountOwner(
        student_id=pk,
        school_id=profile.school_id,
        currency=school.currency,
        staff=relation is Relation.SCHOOL,
    )


async def entries(
    ctx: Context, owner: AccountOwner, first: int | None, after: str | None
) -> Page[EntryWithBalance]:
    """The account's entries (its RECEIVABLE side), newest first, each with the balance right
    after it: the page's newest running balance is one sum, the others follow by subtraction."""
    query = select(LedgerEntry).where(
        LedgerEntry.student_id == owner.student_id, LedgerEntry.account == LedgerAccount.RECEIVABLE
    )
    async with ctx.session_factory() as session:
        page = await newest_first(
            session, query, LedgerEntry.id, page_size(first, ctx.settings.max_page_size), after
        )
        rows: list[LedgerEntry] = page.items
        running = ZERO
        if rows:
            running = (
                await session.scalar(
                    select(func.coalesce(func.sum(LedgerEntry.amount), ZERO)).where(
                        LedgerEntry.student_id == owner.student_id,
                        LedgerEntry.account == LedgerAccount.RECEIVABLE,
                        LedgerEntry.id <= rows[0].id,
                    )
                )
                or ZERO
            )
    items = []
    for row in rows:
        items.append(EntryWithBalance(row, running))
        running -= row.amount
    return Page(
        items=items, cursors=page.cursors, total_count=page.total_count, has_next_page=page.has_next_page
    )


async def payments(ctx: Context, owner: AccountOwner, first: int | None, after: str | None) -> Page[Payment]:
    query = select(Payment).where(Payment.student_id == owner.student_id)
    async with ctx.session_factory() as session:
        page: Page[Payment] = await newest_first(
            session, query, Payment.id, page_size(first, ctx.settings.max_page_size), after
        )
    for payment in page.items:
        ctx.loaders.payment_by_id.prime(payment.id, payment)
    return page


async def invoices(
    ctx: Context,
    owner: AccountOwner,
    first: int | None,
    after: str | None,
    statuses: Sequence[InvoiceStatus] | None,
) -> Page[Invoice]:
    """The account's invoices, newest first; DRAFT ones for the school's staff and admins only."""
    query = select(Invoice).where(Invoice.student_id == owner.student_id)
    if not owner.staff:
        query = query.where(Invoice.status != InvoiceStatus.DRAFT)
    if statuses:
        query = query.where(Invoice.status.in_(statuses))
    async with ctx.session_factory() as session:
        page: Page[Invoice] = await newest_first(
            session, query, Invoice.id, page_size(first, ctx.settings.max_page_size), after
        )
    for invoice in page.items:
        ctx.loaders.invoice_by_id.prime(invoice.id, invoice)
    return page


async def reversed_entry(ctx: Context, entry_id: int) -> EntryWithBalance:
    """An entry that a later one reverses, with the balance right after it."""
    async with ctx.session_factory() as session:
        entry = await session.get_one(LedgerEntry, entry_id)
        running = await session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.amount), ZERO)).where(
                LedgerEntry.student_id == entry.student_id,
                LedgerEntry.account == entry.account,
                LedgerEntry.id <= entry.id,
            )
        )
    return EntryWithBalance(entry, running or ZERO)


async def awards(ctx: Context, owner: AccountOwner) -> list[ScholarshipAward]:
    """The student's awards, newest first."""
    async with ctx.session_factory() as session:
        rows = await session.scalars(
            select(ScholarshipAward)
            .where(ScholarshipAward.student_id == owner.student_id)
            .order_by(ScholarshipAward.id.desc())
        )
        return list(rows)
