"""Payments at the point of sale (recordPayment) and reading one payment.

A payment is one database transaction: the payment row with its receipt number, one ledger
transaction (CASH debited, RECEIVABLE credited), its allocations (resolvers/finance/lines.py:
the explicit invoices first, then the oldest open lines; what is left is credit), the invoices'
statuses and the audit entry. A failure anywhere rolls all of it back.

The idempotency key is unique in the school (a constraint, not a check): the payment row is
inserted with ON CONFLICT DO NOTHING, so of concurrent requests with one key, on any number of
processes, the database lets one insert and the others wait for it to commit and insert nothing.
Those roll back everything they did (their receipt number too) and read the winner: the same
details (`request_hash`) are a replay of it, other details a CONFLICT.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Forbidden, InvalidId, Problem, ProblemError
from models import Payment, School, StudentProfile
from models.enums import EntryKind, PaymentMethod
from models.upsert import upsert_insert
from resolvers import audit, ledger
from resolvers.finance.access import require_account_reader, require_finance_staff
from resolvers.finance.amounts import amount_problem
from resolvers.finance.lines import AllocationRefused, allocate
from resolvers.ids import decode_id_of
from resolvers.ledger import Links
from resolvers.policy import NOT_VISIBLE
from resolvers.roster_rules import decode_or_none, not_found

if TYPE_CHECKING:
    from context import Context

MAX_KEY = 120
MAX_REFERENCE = 120
MAX_NOTE = 500


@dataclass(frozen=True)
class PaymentRequest:
    """recordPayment's input; ids are global ids, amounts Decimal."""

    student_id: str
    amount: Decimal
    currency: str
    method: PaymentMethod
    idempotency_key: str
    reference: str | None = None
    note: str | None = None
    allocations: tuple[tuple[str, Decimal], ...] = ()


@dataclass(frozen=True)
class Recorded:
    payment: Payment
    replayed: bool


def currency_problem(currency: str, school: School, field: tuple[str, ...]) -> Problem | None:
    if currency.strip().upper() != school.currency:
        return Problem(f"The school's currency is {school.currency}.", "CURRENCY_MISMATCH", field)
    return None


def _request_problems(request: PaymentRequest, school: School) -> list[Problem]:
    problems = [
        problem
        for problem in (
            amount_problem(request.amount, ("input", "amount")),
            currency_problem(request.currency, school, ("input", "currency")),
            *(
                amount_problem(amount, ("input", "allocations", str(index), "amount"))
                for index, (_, amount) in enumerate(request.allocations)
            ),
        )
        if problem
    ]
    key = request.idempotency_key.strip()
    if not key or len(key) > MAX_KEY:
        problems.append(
            Problem(
                f"Give an idempotency key of 1 to {MAX_KEY} characters.",
                "INVALID",
                ("input", "idempotencyKey"),
            )
        )
    if request.reference and len(request.reference) > MAX_REFERENCE:
        problems.append(Problem(f"At most {MAX_REFERENCE} characters.", "INVALID", ("input", "reference")))
    if request.note and len(request.note) > MAX_NOTE:
        problems.append(Problem(f"At most {MAX_NOTE} characters.", "INVALID", ("input", "note")))
    if not problems and sum((amount for _, amount in request.allocations), Decimal(0)) > request.amount:
        problems.append(
            Problem("The allocations add up to more than the payment.", "INVALID", ("input", "allocations"))
        )
    return problems


def request_hash(request: PaymentRequest, student_id: int, invoice_ids: Sequence[int | None]) -> str:
    """What makes two requests with one key the same payment: every detail but the key."""
    details = {
        "student": student_id,
        "amount": str(request.amount),
        "currency": request.currency.strip().upper(),
        "method": request.method.value,
        "reference": request.reference,
        "note": request.note,
        "allocations": [
            [invoice_id, str(amount)]
            for invoice_id, (_, amount) in zip(invoice_ids, request.allocations, strict=True)
        ],
    }
    return hashlib.sha256(json.dumps(details, sort_keys=True).encode()).hexdigest()


async def record_payment(ctx: Context, request: PaymentRequest) -> Recorded | list[Problem]:
    user = require_finance_staff(ctx)
    school = await ctx.loaders.school_by_id.load_existing(user.school_id)
    problems = _request_problems(request, school)
    if problems:
        return problems
    key = request.idempotency_key.strip()
    invoice_ids = [decode_or_none(invoice_id, "Invoice") for invoice_id, _ in request.allocations]
    try:
        async with ctx.writer.begin() as session:
            student_id = await _student_of_school(session, request.student_id, school.id)
            digest = request_hash(request, student_id, invoice_ids)
            payment = await _by_key(session, school.id, key)
            if payment is None:
                payment = await _insert(session, ctx, request, school, student_id, key, digest)
                if payment is None:
                    raise _LostRace
                await _apply(session, request, school, payment, invoice_ids)
                audit.record(session, ctx, "payment.recorded", "Payment", payment.id, detail=_detail(payment))
                return Recorded(payment, replayed=False)
    except ProblemError as refused:
        return refused.problems
    except _LostRace:
        async with ctx.session_factory() as session:
            payment = await _by_key(session, school.id, key)
        assert payment is not None, "a payment with the key committed"
    return _replay(payment, digest)


class _LostRace(Exception):
    """A concurrent request with the key committed its payment first: roll back, read it."""


def _replay(payment: Payment, digest: str) -> Recorded | list[Problem]:
    if payment.request_hash != digest:
        message = "This idempotency key was used for a different payment."
        return [Problem(message, "CONFLICT", ("input", "idempotencyKey"))]
    return Recorded(payment, replayed=True)


async def _student_of_school(session: AsyncSession, global_id: str, school_id: int) -> int:
    pk = decode_or_none(global_id, "Student")
    found = None
    if pk is not None:
        found = await session.scalar(
            select(StudentProfile.user_id).where(
                StudentProfile.user_id == pk, StudentProfile.school_id == school_id
            )
        )
    if found is None:
        raise ProblemError(not_found(("input", "studentId"), "student"))
    return found


async def _by_key(session: AsyncSession, school_id: int, key: str) -> Payment | None:
    payment: Payment | None = await session.scalar(
        select(Payment).where(Payment.school_id == school_id, Payment.idempotency_key == key)
    )
    return payment


async def _insert(
    session: AsyncSession,
    ctx: Context,
    request: PaymentRequest,
    school: School,
    student_id: int,
    key: str,
    digest: str,
) -> Payment | None:
    """The payment row, or None when a concurrent request with the key inserted it first."""
    number = await ledger.next_number(session, school.id, "receipt")
    payment_id: int | None = await session.scalar(
        upsert_insert(session, Payment)
        .values(
            school_id=school.id,
            student_id=student_id,
            idempotency_key=key,
            request_hash=digest,
            receipt_number=f"RCT-{number:06d}",
            amount=request.amount,
            currency=school.currency,
            method=request.method,
            reference=request.reference,
            note=request.note,
            recorded_by_id=ctx.user.id if ctx.user else None,
        )
        .on_conflict_do_nothing(index_elements=["school_id", "idempotency_key"])
        .returning(Payment.id)
    )
    if payment_id is None:
        return None
    return await session.get_one(Payment, payment_id)


async def _apply(
    session: AsyncSession,
    request: PaymentRequest,
    school: School,
    payment: Payment,
    invoice_ids: Sequence[int | None],
) -> None:
    """The ledger transaction and the allocations of a new payment."""
    explicit: list[tuple[int, Decimal]] = []
    for index, (invoice_id, (_, amount)) in enumerate(zip(invoice_ids, request.allocations, strict=True)):
        if invoice_id is None:
            raise ProblemError(not_found(("input", "allocations", str(index), "invoiceId"), "invoice"))
        explicit.append((invoice_id, amount))
    await ledger.post(
        session,
        school_id=school.id,
        student_id=payment.student_id,
        currency=payment.currency,
        kind=EntryKind.PAYMENT,
        postings=ledger.receipt(payment.amount),
        description=f"Payment {payment.receipt_number} ({payment.method.value.lower().replace('_', ' ')})",
        posted_by_id=payment.recorded_by_id,
        links=Links(payment_id=payment.id),
        reference=payment.receipt_number,
        at=payment.received_at,
    )
    try:
        await allocate(
            session,
            school_id=school.id,
            student_id=payment.student_id,
            amount=payment.amount,
            payment_id=payment.id,
            explicit=explicit,
        )
    except AllocationRefused as refused:
        index = next(i for i, (invoice_id, _) in enumerate(explicit) if invoice_id == refused.invoice_id)
        field = ("input", "allocations", str(index))
        if refused.missing:
            raise ProblemError(not_found((*field, "invoiceId"), "open invoice of the student")) from refused
        raise ProblemError(
            Problem("More than the invoice still owes.", "INVALID", (*field, "amount"))
        ) from refused


def _detail(payment: Payment) -> dict[str, object]:
    return {
        "receiptNumber": payment.receipt_number,
        "studentId": payment.student_id,
        "amount": str(payment.amount),
        "currency": payment.currency,
        "method": payment.method.value,
        "reference": payment.reference,
    }


async def get_payment(ctx: Context, global_id: str) -> Payment:
    """A payment for those who may read its student's account; another school's like a missing one."""
    try:
        pk = decode_id_of(global_id, "Payment")
    except InvalidId:
        raise Forbidden(NOT_VISIBLE) from None
    payment = await ctx.loaders.payment_by_id.load(pk)
    if payment is None:
        raise Forbidden(NOT_VISIBLE)
    await require_account_reader(ctx, payment.student_id, payment.school_id)
    return payment
