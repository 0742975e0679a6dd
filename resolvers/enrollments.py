"""Enrollments: a class's roster and who sees it, enrollStudents and dropEnrollment.

An enrollment is never deleted: a drop keeps it, DROPPED, with its grades, and a dropped
student enrolled again gets the same row back, ACTIVE (one row per class and student). Each
change writes a history row (EnrollmentChange). A class's seats hold under concurrent
enrollStudents: the class row is locked for the transaction and the seats are counted
inside it, so of two writers racing for the last seat exactly one gets it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from errors import Forbidden, Problem, ProblemError
from loaders.roster import PageKey
from models import Class, Enrollment, EnrollmentChange, School, StudentProfile, Term, User
from models.base import utcnow
from models.enums import EnrollmentStatus, Role
from resolvers import audit
from resolvers.after_commit import teacher_dashboards_changed
from resolvers.classes import decode_position, locked_class, page_of
from resolvers.pagination import Page, page_size
from resolvers.policy import SCHOOL_WIDE_ROLES, require_same_school, require_user
from resolvers.roster_rules import decode_or_none, not_found, require_open, require_staff
from resolvers.student_dashboard import dashboards_changed
from subscriptions.channels import gradebook_channel
from subscriptions.events import StudentDropped, StudentEnrolled, UserRef

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from context import Context

MAX_ENROLL = 500
MAX_REASON = 500


@dataclass(frozen=True)
class Enrolled:
    klass: Class
    enrollments: list[Enrollment]


async def require_roster_visible(ctx: Context, class_id: int, school_id: int) -> None:
    """A class's students and enrollments: its teachers (co-teachers too) and the school's
    staff and admins."""
    user = require_user(ctx)
    require_same_school(user, school_id)
    if user.role in SCHOOL_WIDE_ROLES:
        return
    if user.role == Role.TEACHER and class_id in await ctx.loaders.class_ids_by_teacher.load(user.id):
        return
    raise Forbidden("Only the class's teachers and the school's staff see its roster.")


async def enrollment_page(
    ctx: Context,
    class_id: int,
    school_id: int,
    statuses: list[EnrollmentStatus] | None,
    first: int | None,
    after: str | None,
) -> Page[Enrollment]:
    """One page of the class's enrollments (of `statuses`, else all) by the student's name."""
    await require_roster_visible(ctx, class_id, school_id)
    scope = tuple(sorted(set(statuses), key=lambda status: status.value)) if statuses else None
    key = PageKey(class_id, page_size(first, ctx.settings.max_page_size), decode_position(after), scope)
    return page_of(await ctx.loaders.roster.enrollment_pages_by_class.load(key))


async def enroll_students(
    ctx: Context, class_global_id: str, student_global_ids: list[str]
) -> Enrolled | list[Problem]:
    """All or nothing: every student is enrolled, or none is and each problem is reported."""
    user = require_staff(ctx)
    if not 0 < len(student_global_ids) <= MAX_ENROLL:
        return [Problem(f"Enroll 1 to {MAX_ENROLL} students at once.", "INVALID", ("input", "studentIds"))]
    try:
        async with ctx.writer.begin() as session:
            klass = await locked_class(session, class_global_id, user.school_id, ("input", "classId"))
            term = await session.get(Term, klass.term_id)
            assert term is not None
            require_open(term)
            pks = [decode_or_none(global_id, "Student") for global_id in student_global_ids]
            names = await _students(session, [pk for pk in pks if pk is not None], user.school_id)
            existing = {
                row.student_id: row
                for row in await session.scalars(
                    select(Enrollment).where(
                        Enrollment.class_id == klass.id, Enrollment.student_id.in_(list(names))
                    )
                )
            }
            problems = _refusals(pks, names, existing)
            wanted = list(dict.fromkeys(pk for pk in pks if pk is not None))
            if not problems and klass.capacity is not None:
                seats = klass.capacity - await _active_count(session, klass.id)
                if len(wanted) > seats:
                    message = f"{max(seats, 0)} seats are left in the class; {len(wanted)} asked for."
                    problems.append(Problem(message, "CAPACITY_EXCEEDED", ("input", "studentIds")))
            if problems:
                raise ProblemError(*problems)
            enrollments = await _enroll(session, klass.id, wanted, existing)
            now = utcnow()
            effective = max(await school_today(session, user.school_id, now), term.starts_on)
            await write_history(
                session, [e.id for e in enrollments], EnrollmentStatus.ACTIVE, effective, user.id, now
            )
            entries = [(e.student_id, {"classId": klass.id, "enrollmentId": e.id}) for e in enrollments]
            await audit.record_each(session, ctx, "enrollment.enrolled", "Student", entries)
    except ProblemError as refused:
        return refused.problems
    for enrollment in enrollments:
        student = UserRef(id=enrollment.student_id, name=names[enrollment.student_id])
        event = StudentEnrolled(class_id=klass.id, enrollment_id=enrollment.id, student=student)
        await ctx.bus.publish(gradebook_channel(klass.id), event)
    await _roster_changed(ctx, klass.id, [e.student_id for e in enrollments])
    return Enrolled(klass, enrollments)


async def drop_enrollment(
    ctx: Context, enrollment_global_id: str, effective_date: date, reason: str | None
) -> Enrollment | list[Problem]:
    """The enrollment stays, DROPPED from `effective_date` (inside the class's term), with its
    grades and history; the student leaves the gradebook (which lists ACTIVE enrollments)."""
    user = require_staff(ctx)
    reason = (reason or "").strip() or None
    try:
        async with ctx.writer.begin() as session:
            pk = decode_or_none(enrollment_global_id, "Enrollment")
            found = (
                (
                    await session.execute(
                        select(Enrollment, Class.school_id, Class.term_id)
                        .join(Class, Class.id == Enrollment.class_id)
                        .where(Enrollment.id == pk)
                    )
                ).first()
                if pk is not None
                else None
            )
            if found is None or found.school_id != user.school_id:
                raise ProblemError(not_found(("input", "enrollmentId"), "enrollment"))
            enrollment = found[0]
            term = await session.get(Term, found.term_id)
            assert term is not None
            require_open(term)
            _check_drop(enrollment, term, effective_date, reason)
            dropped: Enrollment | None = await session.scalar(
                update(Enrollment)
                .where(Enrollment.id == enrollment.id, Enrollment.status == EnrollmentStatus.ACTIVE)
                .values(status=EnrollmentStatus.DROPPED, dropped_on=effective_date)
                .returning(Enrollment)
            )
            if dropped is None:  # a concurrent drop came first
                raise ProblemError(_not_active())
            await write_history(
                session, [dropped.id], EnrollmentStatus.DROPPED, effective_date, user.id, utcnow(), reason
            )
            detail = {
                "classId": dropped.class_id,
                "enrollmentId": dropped.id,
                "effectiveDate": effective_date.isoformat(),
            }
            audit.record(session, ctx, "enrollment.dropped", "Student", dropped.student_id, detail=detail)
            name = await session.scalar(select(User.name).where(User.id == dropped.student_id))
    except ProblemError as refused:
        return refused.problems
    student = UserRef(id=dropped.student_id, name=name or "")
    event = StudentDropped(
        class_id=dropped.class_id, enrollment_id=dropped.id, student=student, effective_date=effective_date
    )
    await ctx.bus.publish(gradebook_channel(dropped.class_id), event)
    await _roster_changed(ctx, dropped.class_id, [dropped.student_id])
    return dropped


def _refusals(pks: list[int | None], names: dict[int, str], existing: dict[int, Enrollment]) -> list[Problem]:
    """Each student given who is not one of the school's (NOT_FOUND) or is in the class and not
    dropped (ALREADY_ENROLLED), at their index."""
    problems = []
    for index, pk in enumerate(pks):
        if pk is None or pk not in names:
            problems.append(not_found(("input", "studentIds", index), "student"))
        elif pk in existing and existing[pk].status != EnrollmentStatus.DROPPED:
            message = f"{names[pk]} is in the class already."
            problems.append(Problem(message, "ALREADY_ENROLLED", ("input", "studentIds", str(index))))
    return problems


def _check_drop(enrollment: Enrollment, term: Term, effective_date: date, reason: str | None) -> None:
    problems = []
    if enrollment.status != EnrollmentStatus.ACTIVE:
        problems.append(_not_active())
    if not term.starts_on <= effective_date <= term.ends_on:
        message = f"The effective date is inside the term ({term.starts_on} to {term.ends_on})."
        problems.append(Problem(message, "INVALID", ("input", "effectiveDate")))
    if reason is not None and len(reason) > MAX_REASON:
        problems.append(
            Problem(f"A reason of at most {MAX_REASON} characters.", "INVALID", ("input", "reason"))
        )
    if problems:
        raise ProblemError(*problems)


def _not_active() -> Problem:
    return Problem("Only an active enrollment can be dropped.", "FORBIDDEN_STATE", ("input", "enrollmentId"))


async def _students(session: AsyncSession, pks: list[int], school_id: int) -> dict[int, str]:
    """The names of those of `pks` who are students of the school."""
    rows = await session.execute(
        select(User.id, User.name)
        .join(StudentProfile, StudentProfile.user_id == User.id)
        .where(User.id.in_(pks), StudentProfile.school_id == school_id, User.role == Role.STUDENT)
    )
    return dict(rows.all())


async def _active_count(session: AsyncSession, class_id: int) -> int:
    count = await session.scalar(
        select(func.count()).where(
            Enrollment.class_id == class_id, Enrollment.status == EnrollmentStatus.ACTIVE
        )
    )
    return count or 0


async def _enroll(
    session: AsyncSession, class_id: int, student_ids: list[int], existing: dict[int, Enrollment]
) -> list[Enrollment]:
    """Dropped students' rows become ACTIVE again (their grades were kept); the others get new
    rows. In the order of `student_ids`."""
    back = [existing[s].id for s in student_ids if s in existing]
    returned = []
    if back:
        returned = list(
            await session.scalars(
                update(Enrollment)
                .where(Enrollment.id.in_(back), Enrollment.status == EnrollmentStatus.DROPPED)
                .values(status=EnrollmentStatus.ACTIVE, dropped_on=None)
                .returning(Enrollment)
            )
        )
    new = [
        Enrollment(class_id=class_id, student_id=s, status=EnrollmentStatus.ACTIVE)
        for s in student_ids
        if s not in existing
    ]
    session.add_all(new)
    try:
        await session.flush()
    except IntegrityError as error:  # a writer that does not lock the class came first
        raise ProblemError(_enrolled_meanwhile()) from error
    if len(returned) != len(back):
        raise ProblemError(_enrolled_meanwhile())
    by_student = {row.student_id: row for row in [*returned, *new]}
    return [by_student[s] for s in student_ids]


def _enrolled_meanwhile() -> Problem:
    message = "Some of these students were enrolled meanwhile; reload the class and try again."
    return Problem(message, "ALREADY_ENROLLED", ("input", "studentIds"))


async def write_history(
    session: AsyncSession,
    enrollment_ids: Sequence[int],
    status: EnrollmentStatus,
    effective_date: date,
    changed_by: int,
    changed_at: datetime,
    reason: str | None = None,
) -> None:
    """A history row (EnrollmentChange) for each enrollment, which took `status`: one statement."""
    if not enrollment_ids:
        return
    await session.execute(
        insert(EnrollmentChange),
        [
            {
                "enrollment_id": enrollment_id, "status": status, "effective_date": effective_date,
                "changed_at": changed_at, "changed_by_id": changed_by, "reason": reason,
            }
            for enrollment_id in enrollment_ids
        ],
    )  # fmt: skip


async def school_today(session: AsyncSession, school_id: int, now: datetime) -> date:
    """The school's calendar day at `now`, in its time zone."""
    zone = await session.scalar(select(School.timezone).where(School.id == school_id))
    return now.astimezone(ZoneInfo(zone or "UTC")).date()


async def _roster_changed(ctx: Context, class_id: int, student_ids: list[int]) -> None:
    """After commit: the class's teachers' dashboards and the students' own."""
    await teacher_dashboards_changed(ctx.app, class_ids=[class_id])
    await dashboards_changed(ctx.app, sorted(set(student_ids)))


def note_roster_read(ctx: Context, student_ids: list[int]) -> None:
    """A roster shows student records: the reads are audited, as a search's are."""
    for student_id in student_ids:
        audit.note_read(ctx, "Student", student_id)
