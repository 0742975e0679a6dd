"""What each invoice line still owes, and applying money to lines.

A line's amount paid and credited are sums of its allocations (payments and awards; a refund or
void adds negative ones), never stored. `allocate` applies an amount of a payment or an award:
the explicit invoice amounts first, each to that invoice's open lines oldest due first, then the
rest to the student's oldest open lines; what is left over is the student's credit (the caller's
ledger entry already holds it). The invoice's status is the one column that follows: ISSUED,
PARTIALLY_PAID or PAID from its lines (`refresh_invoice_statuses`), never for DRAFT or VOID ones.

Concurrent payments of one student would both see a line open and overpay it, so `allocate`
first locks the student's open invoices (SELECT ... FOR UPDATE on PostgreSQL; SQLite serializes
writers anyway) and reads the lines after it holds them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models import Allocation, Invoice, InvoiceLine
from models.enums import InvoiceStatus

ZERO = Decimal("0.00")
OPEN_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID)
POSTED_STATUSES = (InvoiceStatus.ISSUED, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID)


@dataclass(frozen=True)
class LineState:
    line_id: int
    invoice_id: int
    student_id: int
    due_date: date
    amount: Decimal
    paid: Decimal
    credited: Decimal
    invoice_status: InvoiceStatus

    @property
    def due(self) -> Decimal:
        return self.amount - self.paid - self.credited


class AllocationRefused(ValueError):
    """An explicit invoice amount that cannot be applied: the invoice is not the student's open
    invoice (`missing`), or the amount is more than it owes. The caller rolls back."""

    def __init__(self, invoice_id: int, *, missing: bool) -> None:
        super().__init__(f"invoice {invoice_id}: {'not open' if missing else 'less due than allocated'}")
        self.invoice_id = invoice_id
        self.missing = missing


async def line_states(
    session: AsyncSession,
    *,
    line_ids: Collection[int] | None = None,
    invoice_ids: Collection[int] | None = None,
    student_id: int | None = None,
    student_ids: Collection[int] | None = None,
    include_void: bool = False,
    posted_only: bool = False,
) -> list[LineState]:
    """The lines asked for (by any of the filters, all applied), oldest due first, in one
    statement. Lines of VOID invoices are left out unless `include_void`; `posted_only` leaves
    out DRAFT invoices too (their charges are not in the ledger yet)."""
    sums = (
        select(
            Allocation.invoice_line_id.label("line_id"),
            func.sum(case((Allocation.payment_id.is_not(None), Allocation.amount), else_=0)).label("paid"),
            func.sum(case((Allocation.award_id.is_not(None), Allocation.amount), else_=0)).label("credited"),
        )
        .group_by(Allocation.invoice_line_id)
        .subquery()
    )
    query = (
        select(
            InvoiceLine.id,
            InvoiceLine.invoice_id,
            InvoiceLine.student_id,
            InvoiceLine.due_date,
            InvoiceLine.amount,
            func.coalesce(sums.c.paid, 0),
            func.coalesce(sums.c.credited, 0),
            Invoice.status,
        )
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .outerjoin(sums, sums.c.line_id == InvoiceLine.id)
        .order_by(InvoiceLine.due_date, InvoiceLine.id)
    )
    if line_ids is not None:
        query = query.where(InvoiceLine.id.in_(line_ids))
    if invoice_ids is not None:
        query = query.where(InvoiceLine.invoice_id.in_(invoice_ids))
    if student_id is not None:
        query = query.where(InvoiceLine.student_id == student_id)
    if student_ids is not None:
        query = query.where(InvoiceLine.student_id.in_(student_ids))
    if posted_only:
        query = query.where(
            Invoice.status.in_((*POSTED_STATUSES, InvoiceStatus.VOID) if include_void else POSTED_STATUSES)
        )
    elif not include_void:
        query = query.where(Invoice.status != InvoiceStatus.VOID)
    rows = await session.execute(query)
    return [
        LineState(
            line_id=line_id,
            invoice_id=invoice_id,
            student_id=owner,
            due_date=due_date,
            amount=amount,
            paid=paid,
            credited=credited,
            invoice_status=status,
        )
        for line_id, invoice_id, owner, due_date, amount, paid, credited, status in rows.all()
    ]


async def allocate(
    session: AsyncSession,
    *,
    school_id: int,
    student_id: int,
    amount: Decimal,
    payment_id: int | None = None,
    award_id: int | None = None,
    explicit: Sequence[tuple[int, Decimal]] = (),
) -> list[Allocation]:
    """Apply `amount` of one payment or award (exactly one of the ids) to the student's open
    lines: the explicit (invoice id, amount) pairs first, then the oldest open lines. Returns the
    allocations made (the rest of `amount` is credit) after refreshing the invoices' statuses.
    Raises AllocationRefused for an explicit pair that cannot be applied."""
    if (payment_id is None) == (award_id is None):
        raise ValueError("an allocation is of a payment or of an award")
    await session.execute(
        select(Invoice.id)
        .where(
            Invoice.student_id == student_id,
            Invoice.school_id == school_id,
            Invoice.status.in_(OPEN_STATUSES),
        )
        .with_for_update()
    )
    states = [
        state
        for state in await line_states(session, student_id=student_id, posted_only=True)
        if state.invoice_status in OPEN_STATUSES
    ]
    due = {state.line_id: state.due for state in states}
    plan: list[tuple[LineState, Decimal]] = []
    left = amount
    for invoice_id, wanted in explicit:
        lines = [state for state in states if state.invoice_id == invoice_id]
        if not lines:
            raise AllocationRefused(invoice_id, missing=True)
        if wanted > sum((due[state.line_id] for state in lines), ZERO) or wanted > left:
            raise AllocationRefused(invoice_id, missing=False)
        left -= wanted
        plan.extend(_spread(lines, due, wanted))
    plan.extend(_spread(states, due, left))
    if not plan:
        return []
    rows = [
        {
            "school_id": school_id,
            "student_id": student_id,
            "invoice_id": state.invoice_id,
            "invoice_line_id": state.line_id,
            "payment_id": payment_id,
            "award_id": award_id,
            "amount": applied,
        }
        for state, applied in plan
    ]
    made = list(await session.scalars(insert(Allocation).returning(Allocation), rows))
    await refresh_invoice_statuses(session, {state.invoice_id for state, _ in plan})
    return made


def _spread(
    lines: Sequence[LineState], due: dict[int, Decimal], amount: Decimal
) -> list[tuple[LineState, Decimal]]:
    """`amount` over `lines` in their order, each up to what it still owes (`due`, updated)."""
    plan: list[tuple[LineState, Decimal]] = []
    for state in lines:
        if amount <= 0:
            break
        applied = min(amount, due[state.line_id])
        if applied > 0:
            due[state.line_id] -= applied
            amount -= applied
            plan.append((state, applied))
    return plan


def status_from(lines: Sequence[LineState]) -> InvoiceStatus:
    """PAID when nothing is due, PARTIALLY_PAID when something was paid or credited, else ISSUED."""
    if sum((state.due for state in lines), ZERO) <= 0:
        return InvoiceStatus.PAID
    if any(state.paid + state.credited > 0 for state in lines):
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.ISSUED


async def refresh_invoice_statuses(session: AsyncSession, invoice_ids: Collection[int]) -> None:
    """Set ISSUED/PARTIALLY_PAID/PAID on the posted invoices among `invoice_ids` from their lines
    (after allocations changed); DRAFT and VOID invoices keep theirs. At most four statements."""
    if not invoice_ids:
        return
    by_invoice: dict[int, list[LineState]] = defaultdict(list)
    for state in await line_states(session, invoice_ids=invoice_ids, posted_only=True):
        by_invoice[state.invoice_id].append(state)
    changes: dict[InvoiceStatus, list[int]] = defaultdict(list)
    for invoice_id, lines in by_invoice.items():
        status = status_from(lines)
        if status is not lines[0].invoice_status:
            changes[status].append(invoice_id)
    for status, ids in changes.items():
        await session.execute(
            update(Invoice)
            .where(Invoice.id.in_(ids))
            .values(status=status)
            .execution_options(synchronize_session=False)
        )
