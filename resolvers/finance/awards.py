"""Scholarship awards (awardScholarship) and their revocation (revokeAward).

An award is one transaction: the award row, a ledger transaction (SCHOLARSHIP debited,
RECEIVABLE credited), its allocations to the student's oldest open lines (what is left over is
the student's credit, resolvers/finance/lines.py) and the audit entry. It is refused, with
nothing written, when the scholarship is inactive (INACTIVE), the student holds an active award
of it (ALREADY_AWARDED), misses a criterion (NOT_ELIGIBLE), or when the amount is more than the
budget still holds (OVER_BUDGET).

The budget holds under concurrent awards because every award locks the scholarship's row before
it sums the active awards (SELECT ... FOR UPDATE on PostgreSQL; SQLite serialises writers), so
awards of one scholarship take turns and each sees the ones committed before it.

A revocation changes no entry: it posts the mirror image of the award's transaction, adds a
negative allocation for what each of its allocations still covers (those lines are open again;
the invoices' statuses follow), marks the award REVOKED, which frees its budget, and is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Problem, ProblemError
from models import Allocation, Invoice, LedgerEntry, ScholarshipAward, StudentProfile
from models.base import utcnow
from models.enums import AwardStatus, EntryKind
from resolvers import audit, ledger
from resolvers.finance.access import require_finance_staff
from resolvers.finance.amounts import amount_problem
from resolvers.finance.lines import POSTED_STATUSES, allocate, refresh_invoice_statuses
from resolvers.finance.matching import GONE, matches
from resolvers.finance.scholarships import locked_scholarship, usage_of
from resolvers.ledger import Links
from resolvers.roster_rules import decode_or_none, not_found

if TYPE_CHECKING:
    from context import Context

MAX_NOTE = 500
MAX_REASON = 500


@dataclass(frozen=True)
class AwardRequest:
    scholarship_id: str
    student_id: str
    amount: Decimal | None = None  # None: the scholarship's amount for this student
    note: str | None = None


@dataclass(frozen=True)
class AwardResult:
    award: ScholarshipAward
    scholarship_id: int


async def award_scholarship(ctx: Context, request: AwardRequest) -> AwardResult | list[Problem]:
    user = require_finance_staff(ctx)
    note = (request.note or "").strip() or None
    problems = []
    if request.amount is not None and (problem := amount_problem(request.amount, ("input", "amount"))):
        problems.append(problem)
    if note is not None and len(note) > MAX_NOTE:
        problems.append(Problem(f"A note of at most {MAX_NOTE} characters.", "INVALID", ("input", "note")))
    if problems:
        return problems
    try:
        async with ctx.writer.begin() as session:
            scholarship = await locked_scholarship(
                session, request.scholarship_id, user.school_id, ("input", "scholarshipId")
            )
            profile = await _student(session, request.student_id, user.school_id)
            if not scholarship.active:
                message = "The scholarship is inactive: it makes no new awards."
                raise ProblemError(Problem(message, "INACTIVE", ("input", "scholarshipId")))
            [match] = await matches(session, [scholarship], [profile])
            if match.awarded:
                message = "The student holds an active award of this scholarship."
                raise ProblemError(Problem(message, "ALREADY_AWARDED", ("input", "studentId")))
            unmet = [result.criterion.value for result in match.criteria if not result.met]
            if profile.status in GONE or unmet:
                message = (
                    f"The student does not meet: {', '.join(unmet)}." if unmet else "The student has left."
                )
                raise ProblemError(Problem(message, "NOT_ELIGIBLE", ("input", "studentId")))
            amount = _amount(request.amount, match.proposed_amount)
            awarded = (await usage_of(session, [scholarship.id]))[scholarship.id].awarded_amount
            remaining = scholarship.budget - awarded
            if amount > remaining:
                message = f"{amount} is more than the {remaining} left of the budget."
                raise ProblemError(Problem(message, "OVER_BUDGET", ("input", "amount")))
            award = ScholarshipAward(
                school_id=user.school_id,
                scholarship_id=scholarship.id,
                student_id=profile.user_id,
                amount=amount,
                currency=scholarship.currency,
                note=note,
                awarded_by_id=user.id,
            )
            session.add(award)
            await session.flush()
            await ledger.post(
                session,
                school_id=user.school_id,
                student_id=profile.user_id,
                currency=scholarship.currency,
                kind=EntryKind.AWARD,
                postings=ledger.award(amount),
                description=f"Scholarship: {scholarship.name}"[:300],
                posted_by_id=user.id,
                links=Links(award_id=award.id),
                reference=scholarship.name[:120],
                at=award.awarded_at,
            )
            await allocate(
                session,
                school_id=user.school_id,
                student_id=profile.user_id,
                amount=amount,
                award_id=award.id,
            )
            audit.record(
                session, ctx, "scholarship.awarded", "ScholarshipAward", award.id, detail=_detail(award)
            )
    except ProblemError as refused:
        return refused.problems
    return AwardResult(award, scholarship.id)


def _amount(asked: Decimal | None, proposed: Decimal) -> Decimal:
    """The award's amount: the one asked for, at most the scholarship's for the student."""
    if proposed <= 0:
        message = "The student has no charges in the scholarship's term for its percentage to apply to."
        raise ProblemError(Problem(message, "INVALID", ("input", "amount")))
    if asked is None:
        return proposed
    if asked > proposed:
        message = f"At most {proposed} for this student."
        raise ProblemError(Problem(message, "INVALID", ("input", "amount")))
    return asked


async def _student(session: AsyncSession, global_id: str, school_id: int) -> StudentProfile:
    pk = decode_or_none(global_id, "Student")
    profile = await session.get(StudentProfile, pk) if pk is not None else None
    if profile is None or profile.school_id != school_id:
        raise ProblemError(not_found(("input", "studentId"), "student"))
    return profile


async def revoke_award(ctx: Context, award_global_id: str, reason: str) -> AwardResult | list[Problem]:
    user = require_finance_staff(ctx)
    reason = reason.strip()
    problems = []
    if not 0 < len(reason) <= MAX_REASON:
        problems.append(Problem(f"A reason of 1 to {MAX_REASON} characters.", "INVALID", ("input", "reason")))
    try:
        async with ctx.writer.begin() as session:
            pk = decode_or_none(award_global_id, "ScholarshipAward")
            award = (
                await session.scalar(
                    select(ScholarshipAward)
                    .where(ScholarshipAward.id == pk, ScholarshipAward.school_id == user.school_id)
                    .with_for_update()
                )
                if pk is not None
                else None
            )
            if award is None:
                raise ProblemError(not_found(("input", "awardId"), "award"))
            if award.status is AwardStatus.REVOKED:
                message = "The award is revoked already."
                raise ProblemError(Problem(message, "FORBIDDEN_STATE", ("input", "awardId")))
            if problems:
                raise ProblemError(*problems)
            entries = list(
                await session.scalars(
                    select(LedgerEntry)
                    .where(LedgerEntry.award_id == award.id, LedgerEntry.kind == EntryKind.AWARD)
                    .order_by(LedgerEntry.id)
                )
            )
            award.status = AwardStatus.REVOKED
            award.revoked_at = utcnow()
            award.revoked_by_id = user.id
            award.revoke_reason = reason
            await ledger.reverse(
                session,
                entries,
                kind=EntryKind.AWARD_REVOKED,
                description=f"Scholarship revoked: {reason}"[:300],
                posted_by_id=user.id,
                links=Links(award_id=award.id),
                at=award.revoked_at,
            )
            await _take_back(session, award)
            audit.record(
                session, ctx, "scholarship.award_revoked", "ScholarshipAward", award.id,
                detail={**_detail(award), "reason": reason},
            )  # fmt: skip
    except ProblemError as refused:
        return refused.problems
    return AwardResult(award, award.scholarship_id)


async def _take_back(session: AsyncSession, award: ScholarshipAward) -> None:
    """A negative allocation for what each of the award's allocations still covers (a void may
    have taken some back already), after locking the student's invoices as payments do."""
    await session.execute(
        select(Invoice.id)
        .where(Invoice.student_id == award.student_id, Invoice.status.in_(POSTED_STATUSES))
        .with_for_update()
    )
    allocations = list(
        await session.scalars(
            select(Allocation).where(Allocation.award_id == award.id).order_by(Allocation.id)
        )
    )
    taken: dict[int, Decimal] = {}
    for allocation in allocations:
        if allocation.reverses_id is not None:
            taken[allocation.reverses_id] = taken.get(allocation.reverses_id, Decimal(0)) + allocation.amount
    rows: list[dict[str, Any]] = []
    for allocation in allocations:
        left = allocation.amount + taken.get(allocation.id, Decimal(0))
        if allocation.reverses_id is None and left > 0:
            rows.append(
                {
                    "school_id": allocation.school_id,
                    "student_id": allocation.student_id,
                    "invoice_id": allocation.invoice_id,
                    "invoice_line_id": allocation.invoice_line_id,
                    "award_id": award.id,
                    "amount": -left,
                    "reverses_id": allocation.id,
                }
            )
    if rows:
        await session.execute(insert(Allocation), rows)
        await refresh_invoice_statuses(session, {row["invoice_id"] for row in rows})


def _detail(award: ScholarshipAward) -> dict[str, Any]:
    return {
        "scholarshipId": award.scholarship_id,
        "studentId": award.student_id,
        "amount": str(award.amount),
        "currency": award.currency,
    }
