"""Billing a term, and an invoice's life: generateInvoices, issueInvoice, voidInvoice.

A run bills each ENROLLED student of the school every fee of the term that applies to them
(by grade level, or by an ACTIVE enrollment in the fee's class) and was never billed to them:
one invoice per student, a line per fee or installment. `uq_invoice_lines_billed` (student,
fee, installment) is the rule that a line is billed once, so a run repeated bills nothing. Two
runs at once take turns: each locks the term's row first (FOR NO KEY UPDATE; SQLite's writers
take its one write lock when they begin), so the second reads what the first committed.

Issuing posts each line as its own charge transaction (RECEIVABLE against REVENUE, linked to
the invoice and the line). Voiding reverses the charges still standing and takes back, with
negative allocations naming the ones they reverse, whatever payments and awards still cover its
lines: that money becomes the student's credit. Nothing is updated in the ledger or deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from errors import Problem, ProblemError
from models import (
    Allocation,
    Enrollment,
    Fee,
    FeeInstallment,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    School,
    StudentProfile,
    Term,
)
from models.base import utcnow
from models.enums import EnrollmentStatus, EntryKind, InvoiceStatus, StudentStatus
from resolvers import audit, ledger
from resolvers.finance.access import require_finance_staff
from resolvers.finance.invoices import school_today
from resolvers.finance.lines import ZERO
from resolvers.roster_rules import own_row

if TYPE_CHECKING:
    from context import Context

MAX_REASON = 500


@dataclass(frozen=True)
class GenerateResult:
    created_count: int
    already_billed_count: int
    total_amount: Decimal
    currency: str


@dataclass(frozen=True)
class _Charge:
    """A line to bill: a fee (paid at once: installment 0) or one of its installments."""

    fee_id: int
    installment_number: int
    description: str
    amount: Decimal
    due_date: date


@dataclass
class _Bill:
    student_id: int
    lines: list[_Charge] = field(default_factory=list)


async def generate_invoices(ctx: Context, term_global_id: str, issue: bool) -> GenerateResult | list[Problem]:
    user = require_finance_staff(ctx)
    try:
        async with ctx.writer.begin() as session:
            term = await own_row(session, Term, term_global_id, "Term", user.school_id, ("input", "termId"))
            await session.execute(select(Term.id).where(Term.id == term.id).with_for_update(key_share=True))
            school = await session.get_one(School, user.school_id)
            charges = await _charges_of(session, term.id)
            applying = await _students_of(session, user.school_id, charges)
            billed = await _billed(session, [fee.id for fee in charges])
            bills = [
                _Bill(
                    student_id,
                    [
                        charge
                        for charge in lines
                        if (student_id, charge.fee_id, charge.installment_number) not in billed
                    ],
                )
                for student_id, lines in sorted(applying.items())
            ]
            new = [bill for bill in bills if bill.lines]
            created = await _create(session, school, term.id, new, user.id)
            invoices = [invoice for invoice, _ in created]
            if issue:
                for invoice, lines in created:
                    await _post_charges(session, invoice, lines, user.id)
            total = sum((invoice.total for invoice in invoices), ZERO)
            audit.record(
                session, ctx, "invoices.generated", "Term", term.id,
                detail={"created": len(invoices), "issued": issue, "total": str(total)},
            )  # fmt: skip
    except ProblemError as refused:
        return refused.problems
    return GenerateResult(len(invoices), len(bills) - len(new), total, school.currency)


async def _charges_of(session: AsyncSession, term_id: int) -> dict[Fee, list[_Charge]]:
    """The term's fees that runs bill (not archived), each as the lines it bills. The fees are
    read under a share lock, so that updateFee waits for the run (and a run for an update)."""
    fees = list(
        await session.scalars(
            select(Fee)
            .where(Fee.term_id == term_id, Fee.archived_at.is_(None))
            .order_by(Fee.due_date, Fee.id)
            .with_for_update(read=True)
        )
    )
    plans: defaultdict[int, list[FeeInstallment]] = defaultdict(list)
    for part in await session.scalars(
        select(FeeInstallment)
        .where(FeeInstallment.fee_id.in_([fee.id for fee in fees]))
        .order_by(FeeInstallment.number)
    ):
        plans[part.fee_id].append(part)
    charges: dict[Fee, list[_Charge]] = {}
    for fee in fees:
        plan = plans[fee.id]
        charges[fee] = [
            _Charge(
                fee.id,
                part.number,
                f"{fee.name} (installment {part.number} of {len(plan)})",
                part.amount,
                part.due_date,
            )
            for part in plan
        ] or [_Charge(fee.id, 0, fee.name, fee.amount, fee.due_date)]
    return charges


async def _students_of(
    session: AsyncSession, school_id: int, charges: dict[Fee, list[_Charge]]
) -> dict[int, list[_Charge]]:
    """The lines each ENROLLED student of the school is to be billed, in the fees' order."""
    if not charges:
        return {}
    students = list(
        (
            await session.execute(
                select(StudentProfile.user_id, StudentProfile.grade_level).where(
                    StudentProfile.school_id == school_id, StudentProfile.status == StudentStatus.ENROLLED
                )
            )
        ).all()
    )
    class_ids = {fee.class_id for fee in charges if fee.class_id is not None}
    in_class: defaultdict[int, set[int]] = defaultdict(set)
    if class_ids:
        rows = await session.execute(
            select(Enrollment.class_id, Enrollment.student_id).where(
                Enrollment.class_id.in_(class_ids), Enrollment.status == EnrollmentStatus.ACTIVE
            )
        )
        for class_id, student_id in rows.all():
            in_class[class_id].add(student_id)
    applying: dict[int, list[_Charge]] = {}
    for student_id, grade in students:
        lines = [
            line
            for fee, fee_lines in charges.items()
            if (
                student_id in in_class[fee.class_id]
                if fee.class_id is not None
                else fee.grade_levels is None or grade in fee.grade_levels
            )
            for line in fee_lines
        ]
        if lines:
            applying[student_id] = lines
    return applying


async def _billed(session: AsyncSession, fee_ids: Sequence[int]) -> set[tuple[int, int, int]]:
    """(student, fee, installment) of the lines billed already: the unique key's values."""
    rows = await session.execute(
        select(InvoiceLine.student_id, InvoiceLine.fee_id, InvoiceLine.installment_number).where(
            InvoiceLine.fee_id.in_(fee_ids)
        )
    )
    return {(student, fee, part) for student, fee, part in rows.all()}


async def _create(
    session: AsyncSession, school: School, term_id: int, bills: Sequence[_Bill], user_id: int
) -> list[tuple[Invoice, list[InvoiceLine]]]:
    """The DRAFT invoices and their lines, numbered in one take of the school's counter."""
    if not bills:
        return []
    last = await ledger.next_number(session, school.id, "invoice", len(bills))
    year = school_today(school.timezone).year
    first = last - len(bills) + 1
    invoices = [
        Invoice(
            school_id=school.id,
            term_id=term_id,
            student_id=bill.student_id,
            number=f"INV-{year}-{first + index:06d}",
            status=InvoiceStatus.DRAFT,
            currency=school.currency,
            total=sum((line.amount for line in bill.lines), ZERO),
            due_date=min(line.due_date for line in bill.lines),
            created_by_id=user_id,
        )
        for index, bill in enumerate(bills)
    ]
    session.add_all(invoices)
    await session.flush()
    made = await session.scalars(
        insert(InvoiceLine).returning(InvoiceLine, sort_by_parameter_order=True),
        [
            {
                "invoice_id": invoice.id,
                "school_id": school.id,
                "student_id": bill.student_id,
                "fee_id": line.fee_id,
                "installment_number": line.installment_number,
                "description": line.description,
                "amount": line.amount,
                "due_date": line.due_date,
            }
            for invoice, bill in zip(invoices, bills, strict=True)
            for line in bill.lines
        ],
    )
    by_invoice: defaultdict[int, list[InvoiceLine]] = defaultdict(list)
    for line in made:
        by_invoice[line.invoice_id].append(line)
    return [(invoice, by_invoice[invoice.id]) for invoice in invoices]


async def _post_charges(
    session: AsyncSession, invoice: Invoice, lines: Sequence[InvoiceLine], user_id: int
) -> None:
    """One charge transaction per line; the invoice is ISSUED."""
    for line in lines:
        await ledger.post(
            session,
            school_id=invoice.school_id,
            student_id=invoice.student_id,
            currency=invoice.currency,
            kind=EntryKind.CHARGE,
            postings=ledger.charge(line.amount),
            description=line.description,
            posted_by_id=user_id,
            links=ledger.Links(invoice_id=invoice.id, invoice_line_id=line.id),
            reference=invoice.number,
        )
    invoice.status = InvoiceStatus.ISSUED
    invoice.issued_at = utcnow()


async def _locked_invoice(session: AsyncSession, global_id: str, school_id: int) -> Invoice:
    invoice = await own_row(session, Invoice, global_id, "Invoice", school_id, ("input", "invoiceId"))
    await session.refresh(invoice, with_for_update=True)
    return invoice


async def issue_invoice(ctx: Context, invoice_global_id: str) -> Invoice | list[Problem]:
    user = require_finance_staff(ctx)
    try:
        async with ctx.writer.begin() as session:
            invoice = await _locked_invoice(session, invoice_global_id, user.school_id)
            if invoice.status is not InvoiceStatus.DRAFT:
                message = f"Only a DRAFT invoice is issued; this one is {invoice.status.value}."
                raise ProblemError(Problem(message, "FORBIDDEN_STATE", ("input", "invoiceId")))
            lines = await session.scalars(
                select(InvoiceLine)
                .where(InvoiceLine.invoice_id == invoice.id)
                .order_by(InvoiceLine.due_date, InvoiceLine.id)
            )
            await _post_charges(session, invoice, list(lines), user.id)
            audit.record(
                session, ctx, "invoice.issued", "Invoice", invoice.id, detail={"number": invoice.number}
            )
    except ProblemError as refused:
        return refused.problems
    return invoice


async def void_invoice(ctx: Context, invoice_global_id: str, reason: str) -> Invoice | list[Problem]:
    user = require_finance_staff(ctx)
    reason = reason.strip()
    problems = []
    if not 0 < len(reason) <= MAX_REASON:
        problems.append(Problem(f"A reason of 1 to {MAX_REASON} characters.", "INVALID", ("input", "reason")))
    try:
        async with ctx.writer.begin() as session:
            invoice = await _locked_invoice(session, invoice_global_id, user.school_id)
            if invoice.status is InvoiceStatus.VOID:
                raise ProblemError(
                    Problem("The invoice is void already.", "FORBIDDEN_STATE", ("input", "invoiceId"))
                )
            if problems:
                raise ProblemError(*problems)
            reversed_charges = await _reverse_charges(session, invoice, reason, user.id)
            taken_back = await _take_back_allocations(session, invoice)
            invoice.status = InvoiceStatus.VOID
            invoice.voided_at = utcnow()
            invoice.void_reason = reason
            invoice.voided_by_id = user.id
            audit.record(
                session, ctx, "invoice.voided", "Invoice", invoice.id,
                detail={
                    "number": invoice.number, "reason": reason,
                    "reversedCharges": reversed_charges, "creditedBack": str(taken_back),
                },
            )  # fmt: skip
    except ProblemError as refused:
        return refused.problems
    return invoice


async def _reverse_charges(session: AsyncSession, invoice: Invoice, reason: str, user_id: int) -> int:
    """A VOID transaction mirroring each charge transaction of the invoice not reversed yet."""
    reversal = aliased(LedgerEntry)
    entries = await session.scalars(
        select(LedgerEntry)
        .where(
            LedgerEntry.invoice_id == invoice.id,
            LedgerEntry.kind == EntryKind.CHARGE,
            ~select(reversal.id).where(reversal.reverses_id == LedgerEntry.id).exists(),
        )
        .order_by(LedgerEntry.id)
    )
    by_transaction: defaultdict[str, list[LedgerEntry]] = defaultdict(list)
    for entry in entries:
        by_transaction[entry.transaction_id].append(entry)
    for transaction in by_transaction.values():
        await ledger.reverse(
            session, transaction, kind=EntryKind.VOID,
            description=f"Void of {invoice.number}: {reason}"[:300], posted_by_id=user_id,
        )  # fmt: skip
    return len(by_transaction)


async def _take_back_allocations(session: AsyncSession, invoice: Invoice) -> Decimal:
    """A negative allocation for what each payment's or award's allocation to the invoice still
    covers (after refunds took part of it back); the total taken back."""
    taken = (
        select(Allocation.reverses_id, func.sum(Allocation.amount).label("taken"))
        .where(Allocation.invoice_id == invoice.id, Allocation.reverses_id.is_not(None))
        .group_by(Allocation.reverses_id)
        .subquery()
    )
    rows = await session.execute(
        select(Allocation, func.coalesce(taken.c.taken, 0))
        .outerjoin(taken, taken.c.reverses_id == Allocation.id)
        .where(Allocation.invoice_id == invoice.id, Allocation.reverses_id.is_(None), Allocation.amount > 0)
        .order_by(Allocation.id)
    )
    reversals: list[dict[str, object]] = []
    total = ZERO
    for allocation, taken in rows.all():
        left = allocation.amount + taken  # the sum is Money already: Decimal, negative
        if left > 0:
            reversals.append(
                {
                    "school_id": allocation.school_id,
                    "student_id": allocation.student_id,
                    "invoice_id": allocation.invoice_id,
                    "invoice_line_id": allocation.invoice_line_id,
                    "payment_id": allocation.payment_id,
                    "award_id": allocation.award_id,
                    "amount": -left,
                    "reverses_id": allocation.id,
                }
            )
            total += left
    if reversals:
        await session.execute(insert(Allocation), reversals)
    return total
