"""Closing a term freezes it; an admin reopens it.

`closeTerm` does everything in one transaction: it claims the term with a conditional UPDATE
(`… WHERE status = 'OPEN'`, so of two concurrent closes exactly one changes a row and the other
gets FORBIDDEN_STATE), stores the final grade of every active student of every class of the term
(`resolvers.grading.write_final_grades`, the gradebook's rule), and completes those enrollments,
each with a history row. Transcripts then show the stored grades as final. `reopenTerm` undoes
the status and the completions, never the stored grades: the next close recalculates them.
Open gradebooks hear of both through `TermStatusChanged` once the transaction has committed
(and of a close's grades through `FinalGradesCalculated`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Problem, ProblemError
from models import Class, Enrollment, Term
from models.base import utcnow
from models.enums import EnrollmentStatus, TermStatus
from resolvers import audit
from resolvers.after_commit import teacher_dashboards_changed
from resolvers.enrollments import school_today, write_history
from resolvers.grading import write_final_grades
from resolvers.roster_rules import own_row, require_admin, require_staff
from resolvers.student_dashboard import dashboards_changed
from subscriptions.channels import gradebook_channel
from subscriptions.events import FinalGradesCalculated, TermStatusChanged

if TYPE_CHECKING:
    from context import Context

MAX_REASON = 500  # EnrollmentChange.reason's length
TERM_FIELD = ("input", "termId")


@dataclass(frozen=True)
class ClosedTerm:
    term: Term
    final_grade_count: int


@dataclass(frozen=True)
class _Moved:
    """What a change of status did: the term's classes and the students whose enrollments moved."""

    class_ids: list[int]
    student_ids: list[int]


async def close_term(ctx: Context, term_global_id: str) -> ClosedTerm | list[Problem]:
    """Staff and admins. Already closed: FORBIDDEN_STATE."""
    user = require_staff(ctx)
    now = utcnow()
    try:
        async with ctx.writer.begin() as session:
            term = await own_row(session, Term, term_global_id, "Term", user.school_id, TERM_FIELD)
            await _claim(
                session, term, TermStatus.OPEN,
                {"status": TermStatus.CLOSED, "closed_at": now, "closed_by_id": user.id},
                "The term is already closed.",
            )  # fmt: skip
            class_ids = await _class_ids(session, term.id)
            final_grade_count = 0
            for class_id in class_ids:
                final_grade_count += len(
                    await write_final_grades(session, ctx, class_id, term.school_id, now)
                )
            effective = min(term.ends_on, await school_today(session, term.school_id, now))
            moved = await _move_enrollments(
                session, term.id, class_ids, EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED,
                effective, user.id, now,
            )  # fmt: skip
            audit.record(
                session, ctx, "term.closed", "Term", term.id,
                detail={"classes": len(class_ids), "finalGrades": final_grade_count,
                        "completedEnrollments": len(moved.student_ids)},
            )  # fmt: skip
            await session.refresh(term)
    except ProblemError as refused:
        return refused.problems
    await _announce(ctx, term.id, TermStatus.CLOSED, moved)
    for class_id in moved.class_ids:
        await ctx.bus.publish(gradebook_channel(class_id), FinalGradesCalculated(class_id=class_id, at=now))
    return ClosedTerm(term, final_grade_count)


async def reopen_term(ctx: Context, term_global_id: str, reason: str) -> Term | list[Problem]:
    """Admins only (staff FORBIDDEN). The reason is required and goes to the audit entry; the
    term's COMPLETED enrollments are ACTIVE again. Not closed: FORBIDDEN_STATE."""
    user = require_admin(ctx)
    reason = reason.strip()
    if not 1 <= len(reason) <= MAX_REASON:
        return [Problem(f"Give a reason of 1 to {MAX_REASON} characters.", "INVALID", ("input", "reason"))]
    now = utcnow()
    try:
        async with ctx.writer.begin() as session:
            term = await own_row(session, Term, term_global_id, "Term", user.school_id, TERM_FIELD)
            await _claim(
                session, term, TermStatus.CLOSED,
                {"status": TermStatus.OPEN, "closed_at": None, "closed_by_id": None},
                "The term is not closed.",
            )  # fmt: skip
            moved = await _move_enrollments(
                session, term.id, await _class_ids(session, term.id), EnrollmentStatus.COMPLETED,
                EnrollmentStatus.ACTIVE, await school_today(session, term.school_id, now), user.id, now,
                reason=reason,
            )  # fmt: skip
            audit.record(
                session, ctx, "term.reopened", "Term", term.id,
                detail={"reason": reason, "reactivatedEnrollments": len(moved.student_ids)},
            )  # fmt: skip
            await session.refresh(term)
    except ProblemError as refused:
        return refused.problems
    await _announce(ctx, term.id, TermStatus.OPEN, moved)
    return term


async def _claim(
    session: AsyncSession, term: Term, expected: TermStatus, values: dict[str, object], refusal: str
) -> None:
    """Moves the term out of `expected` only if it is still there when the UPDATE runs (it
    waits for a concurrent claim's commit, then finds the status changed)."""
    claimed = await session.execute(
        update(Term)
        .where(Term.id == term.id, Term.status == expected)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise ProblemError(Problem(refusal, "FORBIDDEN_STATE", TERM_FIELD))


async def _class_ids(session: AsyncSession, term_id: int) -> list[int]:
    return list(
        (await session.scalars(select(Class.id).where(Class.term_id == term_id).order_by(Class.id))).all()
    )


async def _move_enrollments(
    session: AsyncSession,
    term_id: int,
    class_ids: list[int],
    source: EnrollmentStatus,
    target: EnrollmentStatus,
    effective: date,
    user_id: int,
    now: datetime,
    *,
    reason: str | None = None,
) -> _Moved:
    """Every `source` enrollment of the term's classes becomes `target`, with a history row each:
    two statements, however many enrollments."""
    moved = (
        await session.execute(
            update(Enrollment)
            .where(Enrollment.class_id.in_(select(Class.id).where(Class.term_id == term_id)))
            .where(Enrollment.status == source)
            .values(status=target)
            .returning(Enrollment.id, Enrollment.student_id)
            .execution_options(synchronize_session=False)
        )
    ).all()
    await write_history(
        session, [enrollment_id for enrollment_id, _ in moved], target, effective, user_id, now, reason
    )
    return _Moved(class_ids, sorted({student_id for _, student_id in moved}))


async def _announce(ctx: Context, term_id: int, status: TermStatus, moved: _Moved) -> None:
    """After commit: open gradebooks, and the dashboards whose classes changed."""
    for class_id in moved.class_ids:
        await ctx.bus.publish(
            gradebook_channel(class_id),
            TermStatusChanged(class_id=class_id, term_id=term_id, status=status.value),
        )
    await teacher_dashboards_changed(ctx.app, class_ids=moved.class_ids)
    await dashboards_changed(ctx.app, moved.student_ids)
