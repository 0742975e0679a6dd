"""Reading invoices: the school's list (staff/admin) and one invoice (whoever may read the
student's account), and what an invoice's lines still owe.

An invoice's amounts paid, credited and due are never stored: they are sums of its lines'
allocations (resolvers/finance/lines.py). A VOID invoice owes nothing (its charges were
reversed and its allocations taken back). DRAFT invoices are for staff only: to anyone else
they are answered like missing ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func, select

from errors import Forbidden, InvalidId
from models import Allocation, Invoice, InvoiceLine
from models.enums import InvoiceStatus
from resolvers.finance.access import require_account_reader, require_finance_staff
from resolvers.finance.lines import ZERO, LineState
from resolvers.ids import decode_id_of
from resolvers.pagination import Page, newest_first, page_size
from resolvers.policy import NOT_VISIBLE, Relation, require_user

if TYPE_CHECKING:
    from context import Context

UNPOSTED = (InvoiceStatus.DRAFT, InvoiceStatus.VOID)


@dataclass(frozen=True)
class InvoiceFilter:
    term_id: str | None = None
    student_id: str | None = None
    statuses: Sequence[InvoiceStatus] | None = None
    overdue: bool | None = None


def line_states(
    invoice: Invoice, lines: Sequence[InvoiceLine], allocations: Sequence[Allocation]
) -> list[LineState]:
    """The lines' states from rows already loaded (the loaders' batches): what `lines.line_states`
    answers in SQL, for an invoice whose lines and allocations the operation has at hand."""
    paid: defaultdict[int, Decimal] = defaultdict(lambda: ZERO)
    credited: defaultdict[int, Decimal] = defaultdict(lambda: ZERO)
    for allocation in allocations:
        target = paid if allocation.payment_id is not None else credited
        target[allocation.invoice_line_id] += allocation.amount
    return [
        LineState(
            line_id=line.id,
            invoice_id=invoice.id,
            student_id=line.student_id,
            due_date=line.due_date,
            amount=line.amount,
            paid=paid[line.id],
            credited=credited[line.id],
            invoice_status=invoice.status,
        )
        for line in lines
    ]


def amount_due(state: LineState) -> Decimal:
    """What a line still owes: nothing on a VOID invoice, never less than nothing."""
    if state.invoice_status is InvoiceStatus.VOID:
        return ZERO
    return max(state.due, ZERO)


def is_overdue(states: Sequence[LineState], today: date) -> bool:
    """Some posted line fell due before today and still owes something."""
    return any(
        state.invoice_status not in UNPOSTED and state.due_date < today and amount_due(state) > 0
        for state in states
    )


def school_today(timezone: str, now: datetime | None = None) -> date:
    return (now or datetime.now(ZoneInfo(timezone))).astimezone(ZoneInfo(timezone)).date()


async def invoices(ctx: Context, given: InvoiceFilter, first: int | None, after: str | None) -> Page[Invoice]:
    """The school's invoices, newest first. `overdue` compares due dates with the school's today."""
    user = require_finance_staff(ctx)
    limit = page_size(first, ctx.settings.max_page_size)
    query = select(Invoice).where(Invoice.school_id == user.school_id)
    if given.term_id is not None:
        query = query.where(Invoice.term_id == _pk_or_none(given.term_id, "Term"))
    if given.student_id is not None:
        query = query.where(Invoice.student_id == _pk_or_none(given.student_id, "Student"))
    if given.statuses:
        query = query.where(Invoice.status.in_(given.statuses))
    if given.overdue is not None:
        school = await ctx.loaders.school_by_id.load_existing(user.school_id)
        clause = _overdue_clause(school_today(school.timezone))
        query = query.where(clause if given.overdue else ~clause)
    async with ctx.session_factory() as session:
        page = await newest_first(session, query, Invoice.id, limit, after)
    for row in page.items:
        ctx.loaders.invoice_by_id.prime(row.id, row)
    return page


def _pk_or_none(global_id: str, type_name: str) -> int | None:
    """A filter by a malformed id or one of another type matches nothing (None equals no id)."""
    try:
        return decode_id_of(global_id, type_name)
    except InvalidId:
        return None


def _overdue_clause(today: date) -> ColumnElement[bool]:
    """A posted invoice with a line due before today that its allocations do not cover."""
    covered = (
        select(func.coalesce(func.sum(Allocation.amount), 0))
        .where(Allocation.invoice_line_id == InvoiceLine.id)
        .correlate(InvoiceLine)
        .scalar_subquery()
    )
    return Invoice.status.not_in(UNPOSTED) & exists(
        select(InvoiceLine.id).where(
            InvoiceLine.invoice_id == Invoice.id, InvoiceLine.due_date < today, InvoiceLine.amount > covered
        )
    )


async def get_invoice(ctx: Context, global_id: str) -> Invoice:
    """One invoice, for staff/admin of its school, the student and their guardians."""
    user = require_user(ctx)
    invoice = await ctx.loaders.invoice_by_id.load(decode_id_of(global_id, "Invoice"))
    if invoice is None:
        raise Forbidden(NOT_VISIBLE)
    relation = await require_account_reader(ctx, invoice.student_id, invoice.school_id)
    if invoice.status is InvoiceStatus.DRAFT and relation is not Relation.SCHOOL:
        raise Forbidden(NOT_VISIBLE)
    assert user.school_id == invoice.school_id
    return invoice
