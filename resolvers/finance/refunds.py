"""Refunds of payments (refundPayment): part of a payment, or all that is left of it.

A refund changes nothing that exists. In one transaction it adds the refund row, a ledger
transaction reversing that share of the payment's (RECEIVABLE debited, CASH credited, each entry
naming the one it reverses), and negative allocations: from the payment's credit first (which no
line holds, so nothing to take back), then from its allocations newest first, each negative one
naming the allocation it reverses, so those lines are open again; the invoices' statuses follow.

The payment's row is locked first, so concurrent refunds of one payment take turns and never
refund more than it is; a retried idempotency key finds the refund its first try made.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Problem, ProblemError
from models import Allocation, LedgerEntry, Payment, Refund
from models.enums import EntryKind
from resolvers import audit, ledger
from resolvers.finance.access import require_finance_staff
from resolvers.finance.amounts import amount_problem
from resolvers.finance.lines import ZERO, refresh_invoice_statuses
from resolvers.ledger import Links
from resolvers.roster_rules import own_row

if TYPE_CHECKING:
    from context import Context

MAX_REASON = 500
MAX_KEY = 120


@dataclass(frozen=True)
class RefundRequest:
    payment_id: str
    reason: str
    amount: Decimal | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Refunded:
    refund: Refund
    payment: Payment


def net_allocated(allocations: Sequence[Allocation]) -> Decimal:
    return sum((allocation.amount for allocation in allocations), ZERO)


def payment_credit(payment: Payment, refunds: Sequence[Refund], allocations: Sequence[Allocation]) -> Decimal:
    """What of the payment no line holds and no refund took back."""
    return payment.amount - sum((refund.amount for refund in refunds), ZERO) - net_allocated(allocations)


def _problems(request: RefundRequest) -> list[Problem]:
    problems = []
    if not request.reason.strip() or len(request.reason) > MAX_REASON:
        problems.append(
            Problem(f"Give a reason of 1 to {MAX_REASON} characters.", "INVALID", ("input", "reason"))
        )
    if request.amount is not None and (problem := amount_problem(request.amount, ("input", "amount"))):
        problems.append(problem)
    key = request.idempotency_key
    if key is not None and (not key.strip() or len(key) > MAX_KEY):
        problems.append(
            Problem(
                f"An idempotency key has 1 to {MAX_KEY} characters.", "INVALID", ("input", "idempotencyKey")
            )
        )
    return problems


async def refund_payment(ctx: Context, request: RefundRequest) -> Refunded | list[Problem]:
    user = require_finance_staff(ctx)
    problems = _problems(request)
    if problems:
        return problems
    key = request.idempotency_key.strip() if request.idempotency_key else None
    try:
        async with ctx.writer.begin() as session:
            payment = await own_row(
                session, Payment, request.payment_id, "Payment", user.school_id, ("input", "paymentId")
            )
            await session.execute(select(Payment.id).where(Payment.id == payment.id).with_for_update())
            refunds = list(await session.scalars(select(Refund).where(Refund.payment_id == payment.id)))
            earlier = next(
                (refund for refund in refunds if key is not None and refund.idempotency_key == key), None
            )
            if earlier is not None:
                return Refunded(earlier, payment)
            refundable = payment.amount - sum((refund.amount for refund in refunds), ZERO)
            amount = refundable if request.amount is None else request.amount
            if amount <= 0 or amount > refundable:
                message = f"At most {refundable} of this payment can be refunded."
                raise ProblemError(Problem(message, "INVALID", ("input", "amount")))
            refund = Refund(
                school_id=payment.school_id,
                payment_id=payment.id,
                amount=amount,
                reason=request.reason.strip(),
                idempotency_key=key,
                refunded_by_id=user.id,
            )
            session.add(refund)
            await session.flush()
            await _reverse_entries(session, payment, refund)
            await _take_back(session, payment, refunds, refund)
            detail = {"refundId": refund.id, "amount": str(amount), "reason": refund.reason}
            audit.record(session, ctx, "payment.refunded", "Payment", payment.id, detail=detail)
    except ProblemError as refused:
        return refused.problems
    return Refunded(refund, payment)


async def _reverse_entries(session: AsyncSession, payment: Payment, refund: Refund) -> None:
    original = list(
        await session.scalars(
            select(LedgerEntry)
            .where(LedgerEntry.payment_id == payment.id, LedgerEntry.kind == EntryKind.PAYMENT)
            .order_by(LedgerEntry.id)
        )
    )
    await ledger.reverse(
        session,
        original,
        kind=EntryKind.REFUND,
        description=f"Refund of {payment.receipt_number}: {refund.reason}"[:300],
        posted_by_id=refund.refunded_by_id,
        links=Links(payment_id=payment.id, refund_id=refund.id),
        share=refund.amount,
        at=refund.refunded_at,
    )


async def _take_back(
    session: AsyncSession, payment: Payment, refunds: Sequence[Refund], refund: Refund
) -> None:
    """Negative allocations for what the payment's credit does not cover, newest allocation first."""
    allocations = list(
        await session.scalars(
            select(Allocation).where(Allocation.payment_id == payment.id).order_by(Allocation.id)
        )
    )
    left = refund.amount - max(ZERO, payment_credit(payment, refunds, allocations))
    if left <= 0:
        return
    taken: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for allocation in allocations:
        if allocation.reverses_id is not None:
            taken[allocation.reverses_id] -= allocation.amount
    rows: list[dict[str, object]] = []
    invoice_ids: set[int] = set()
    for allocation in reversed([row for row in allocations if row.amount > 0]):
        take = min(left, allocation.amount - taken[allocation.id])
        if take <= 0:
            continue
        rows.append(
            {
                "school_id": allocation.school_id,
                "student_id": allocation.student_id,
                "invoice_id": allocation.invoice_id,
                "invoice_line_id": allocation.invoice_line_id,
                "payment_id": payment.id,
                "refund_id": refund.id,
                "amount": -take,
                "reverses_id": allocation.id,
            }
        )
        invoice_ids.add(allocation.invoice_id)
        left -= take
        if left <= 0:
            break
    assert left <= 0, "a payment's allocations and credit cover what is refundable"
    await session.execute(insert(Allocation), rows)
    await refresh_invoice_statuses(session, invoice_ids)
