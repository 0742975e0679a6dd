"""The gradebook: the sheet, grade writes with optimistic concurrency and cell locks, history,
final grades, and the events that keep every editor's screen current.

Who: teachers of the class (co-teachers too) and the school's admins edit; staff read;
students and everyone else never see the sheet.

A write succeeds only against the version the writer saw (`expectedVersion`): the UPDATE
carries `WHERE version = seen`, so of concurrent writers exactly one wins and the others get
VERSION_CONFLICT with nothing written. Every change writes a history row, a notification for
the student and a new risk snapshot in the same transaction; events go out after commit.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from loaders.signals import category_weights
from models import (
    Assignment,
    Class,
    Enrollment,
    FinalGrade,
    Grade,
    GradeChange,
    School,
    User,
)
from models.base import utcnow
from models.enums import EnrollmentStatus, Role
from resolvers import audit
from resolvers.analytics import refresh_student_risk
from resolvers.dashboards import dashboards_changed
from resolvers.errors import Forbidden
from resolvers.grade_math import GradedWork, GradingScale, class_percentage
from resolvers.ids import decode_id_of
from resolvers.notifications import add_notification
from resolvers.policy import NOT_VISIBLE, require_user
from resolvers.problems import Problem, ProblemError
from resolvers.teaching_cache import teacher_dashboards_changed
from subscriptions.bus import CONNECTION_ERRORS
from subscriptions.channels import gradebook_channel, user_notifications_channel
from subscriptions.locks import CellLock
from subscriptions.presence import Editor

if TYPE_CHECKING:
    from context import Context
    from resolvers.identity import CurrentUser

log = logging.getLogger(__name__)

MAX_BULK_UPDATES = 500


@dataclass(frozen=True)
class Access:
    klass: Class
    can_edit: bool


async def gradebook_access(ctx: Context, class_id: int, *, edit: bool) -> Access:
    """The class if the caller may read (or, with `edit`, write) its gradebook; FORBIDDEN otherwise."""
    user = require_user(ctx)
    klass = await ctx.loaders.class_by_id.load(class_id)
    if klass is None or klass.school_id != user.school_id:
        raise Forbidden(NOT_VISIBLE)
    teaches = user.role == Role.TEACHER and class_id in await ctx.loaders.class_ids_by_teacher.load(user.id)
    can_edit = teaches or user.role == Role.ADMIN
    if not (can_edit or user.role == Role.STAFF) or (edit and not can_edit):
        raise Forbidden(
            "Only the class's teachers and the school's admins edit its gradebook; staff may read it."
        )
    return Access(klass, can_edit)


class SheetStudent(NamedTuple):
    id: int
    name: str


@dataclass(slots=True)
class Cell:
    assignment_id: int
    score: float | None
    letter: str | None
    version: int
    lock: CellLock | None


@dataclass(slots=True)
class SheetRow:
    student: SheetStudent
    cells: list[Cell]
    final: FinalResult


@dataclass(frozen=True, slots=True)
class FinalResult:
    percentage: float | None
    letter: str | None
    grade_points: float | None


@dataclass
class Sheet:
    klass: Class
    assignments: list[Assignment]
    rows: list[SheetRow]
    editors: list[Editor]


UNGRADED: tuple[float | None, int] = (None, 0)


@dataclass
class SheetData:
    """What a sheet is computed from; grades by (student, assignment): (score, version)."""

    assignments: list[Assignment]
    students: list[SheetStudent]
    grades: dict[tuple[int, int], tuple[float | None, int]]
    weights: dict[Any, float]
    scale: GradingScale

    def scores_of(self, student_id: int) -> dict[int, float | None]:
        return {a.id: self.grades.get((student_id, a.id), UNGRADED)[0] for a in self.assignments}

    def final_result(self, scores: dict[int, float | None], now: datetime) -> FinalResult:
        """The final grade rule: graded work counts; work past due and still ungraded counts as
        zero; work not yet due is left out (resolvers/grade_math.py weighs the categories)."""
        work = []
        for assignment in self.assignments:
            score = scores[assignment.id]
            if score is None and assignment.due_at is not None and assignment.due_at < now:
                score = 0.0
            if score is not None:
                work.append(GradedWork(assignment.category, score, assignment.max_score))
        percentage = class_percentage(work, self.weights)
        if percentage is None:
            return FinalResult(None, None, None)
        grade = self.scale.grade(percentage)
        return FinalResult(percentage, grade.letter, grade.points)


async def sheet(ctx: Context, class_global_id: str) -> Sheet:
    class_id = decode_id_of(class_global_id, "Class")
    access = await gradebook_access(ctx, class_id, edit=False)
    async with ctx.session_factory() as session:
        data = await _sheet_data(session, class_id, access.klass.school_id)
    locks = await standing_locks(ctx, class_id)
    editors = await current_editors(ctx, class_id)
    now = utcnow()
    letter_of = data.scale.letter_of
    rows = []
    for student in data.students:
        cells = []
        for a in data.assignments:
            score, version = data.grades.get((student.id, a.id), UNGRADED)
            lock = locks.get((student.id, a.id)) if locks else None
            cells.append(Cell(a.id, score, letter_of(score, a.max_score), version, lock))
        scores = {cell.assignment_id: cell.score for cell in cells}
        rows.append(SheetRow(student, cells, data.final_result(scores, now)))
    return Sheet(access.klass, data.assignments, rows, editors)


async def _sheet_data(session: AsyncSession, class_id: int, school_id: int) -> SheetData:
    """Plain rows, not ORM entities: a sheet may hold 10,000 grades."""
    assignments = (
        await session.scalars(
            select(Assignment)
            .where(Assignment.class_id == class_id)
            .order_by(Assignment.due_at, Assignment.id)
        )
    ).all()
    students = (
        await session.execute(
            select(User.id, User.name)
            .join(Enrollment, Enrollment.student_id == User.id)
            .where(Enrollment.class_id == class_id, Enrollment.status == EnrollmentStatus.ACTIVE)
            .order_by(User.name, User.id)
        )
    ).all()
    grades = await session.execute(
        select(Grade.student_id, Grade.assignment_id, Grade.score, Grade.version)
        .join(Assignment, Assignment.id == Grade.assignment_id)
        .where(Assignment.class_id == class_id)
    )
    weights = (await category_weights(session, {class_id})).get(class_id, {})
    scale = await session.scalar(select(School.grading_scale).where(School.id == school_id))
    return SheetData(
        assignments=list(assignments),
        students=[SheetStudent(*row) for row in students],
        grades={(sid, aid): (score, version) for sid, aid, score, version in grades},
        weights=weights,
        scale=GradingScale(scale),
    )


@dataclass
class WrittenGrade:
    grade: Grade
    class_id: int
    by: CurrentUser
    notification_id: int | None
    letter: str | None


@dataclass
class GradeInput:
    student_global_id: str
    assignment_global_id: str
    score: float | None
    expected_version: int | None


async def update_grade(ctx: Context, item: GradeInput) -> WrittenGrade | list[Problem]:
    assignment_id = decode_id_of(item.assignment_global_id, "Assignment")
    assignment = await assignment_of(ctx, assignment_id)
    await gradebook_access(ctx, assignment.class_id, edit=True)
    try:
        async with ctx.writer.begin() as session:
            written = await _write(session, ctx, assignment.class_id, item, ())
    except ProblemError as refused:
        return refused.problems
    await _announce(ctx, [written])
    return written


async def assignment_of(ctx: Context, assignment_id: int) -> Assignment:
    async with ctx.session_factory() as session:
        assignment = await session.get(Assignment, assignment_id)
    if assignment is None:
        raise Forbidden(NOT_VISIBLE)
    return assignment


async def _write(
    session: AsyncSession, ctx: Context, class_id: int, item: GradeInput, field: tuple[str, ...]
) -> WrittenGrade:
    """Validates and writes one cell inside the caller's transaction; raises ProblemError."""
    user = require_user(ctx)
    student_id = decode_id_of(item.student_global_id, "Student")
    assignment_id = decode_id_of(item.assignment_global_id, "Assignment")
    assignment = await session.get(Assignment, assignment_id)
    if assignment is None or assignment.class_id != class_id:
        raise ProblemError(
            Problem("No such assignment in this class.", "NOT_FOUND", (*field, "assignmentId"))
        )
    enrolled = await session.scalar(
        select(Enrollment.id).where(
            Enrollment.class_id == class_id,
            Enrollment.student_id == student_id,
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    )
    if enrolled is None:
        raise ProblemError(Problem("This student is not in the class.", "NOT_FOUND", (*field, "studentId")))
    score = item.score
    if score is not None and (not math.isfinite(score) or not 0 <= score <= assignment.max_score):
        message = f"The score must be between 0 and {assignment.max_score:g}."
        raise ProblemError(Problem(message, "INVALID", (*field, "score")))
    lock = (await standing_locks(ctx, class_id)).get((student_id, assignment_id))
    if lock is not None and lock.holder_id != user.id:
        raise ProblemError(Problem(f"{lock.holder_name} is editing this cell.", "CELL_LOCKED", field or None))
    grade, old_score = await _store(
        session, assignment_id, student_id, score, item.expected_version, user.id, field
    )
    notification_id = await _record_change(session, ctx, grade, assignment, old_score)
    # The transaction's own session: a writer holding SQLite's lock must not wait for another connection.
    scale = await session.scalar(select(School.grading_scale).where(School.id == user.school_id))
    letter = GradingScale(scale).letter_of(score, assignment.max_score)
    return WrittenGrade(grade, class_id, user, notification_id, letter)


async def _store(
    session: AsyncSession,
    assignment_id: int,
    student_id: int,
    score: float | None,
    expected: int | None,
    user_id: int,
    field: tuple[str, ...],
) -> tuple[Grade, float | None]:
    """The written grade and the score it had before."""
    conflict = ProblemError(
        Problem(
            "Someone changed this grade first; reload it and try again.", "VERSION_CONFLICT", field or None
        )
    )
    now = utcnow()
    current = await session.scalar(
        select(Grade).where(Grade.assignment_id == assignment_id, Grade.student_id == student_id)
    )
    if current is None:
        if expected not in (None, 0):
            raise conflict
        try:
            async with session.begin_nested():
                grade = Grade(
                    assignment_id=assignment_id, student_id=student_id, score=score, version=1,
                    updated_at=now, updated_by_id=user_id,
                )  # fmt: skip
                session.add(grade)
                await session.flush()
        except IntegrityError:
            raise conflict from None
        return grade, None
    seen = current.version
    if expected is not None and expected != seen:
        raise conflict
    changed = await session.execute(
        update(Grade)
        .where(Grade.id == current.id, Grade.version == seen)
        .values(score=score, version=seen + 1, updated_at=now, updated_by_id=user_id)
        .execution_options(synchronize_session=False)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise conflict
    old_score = current.score
    await session.refresh(current)
    return current, old_score


async def _record_change(
    session: AsyncSession, ctx: Context, grade: Grade, assignment: Assignment, old: float | None
) -> int | None:
    """History, the student's notification (its id), their new risk snapshot and the audit entry."""
    score = grade.score
    session.add(
        GradeChange(
            grade_id=grade.id, old_score=old, new_score=score, version=grade.version,
            changed_at=grade.updated_at, changed_by_id=grade.updated_by_id,
        )
    )  # fmt: skip
    notification_id = None
    if score is not None:
        verb = "posted" if old is None else "changed"
        notification_id = await add_notification(
            session, ctx.settings, grade.student_id, f"grade_{verb}",
            f"Grade {verb}: {assignment.title}", f"{assignment.title}: {score:g}/{assignment.max_score:g}",
        )  # fmt: skip
    await refresh_student_risk(session, [grade.student_id], utcnow())
    audit.record(
        session, ctx, "grade.updated", "Student", grade.student_id,
        detail={"assignmentId": assignment.id, "old": old, "new": score, "version": grade.version},
    )  # fmt: skip
    return notification_id


async def bulk_update(
    ctx: Context, class_global_id: str, items: list[GradeInput], *, atomic: bool
) -> tuple[list[WrittenGrade], list[Problem]]:
    """All or nothing (`atomic`), or as many as can be written, each failure reported by index."""
    class_id = decode_id_of(class_global_id, "Class")
    await gradebook_access(ctx, class_id, edit=True)
    if len(items) > MAX_BULK_UPDATES:
        return [], [Problem(f"At most {MAX_BULK_UPDATES} grades at once.", "INVALID", ("input", "updates"))]
    written: list[WrittenGrade] = []
    problems: list[Problem] = []
    if atomic:
        try:
            async with ctx.writer.begin() as session:
                for index, item in enumerate(items):
                    try:
                        written.append(
                            await _write(session, ctx, class_id, item, ("input", "updates", str(index)))
                        )
                    except ProblemError as refused:
                        problems.extend(refused.problems)
                if problems:
                    raise ProblemError(*problems)
        except ProblemError:
            return [], problems
    else:
        for index, item in enumerate(items):
            try:
                async with ctx.writer.begin() as session:
                    written.append(
                        await _write(session, ctx, class_id, item, ("input", "updates", str(index)))
                    )
            except ProblemError as refused:
                problems.extend(refused.problems)
    await _announce(ctx, written)
    return written, problems


async def _announce(ctx: Context, written: list[WrittenGrade]) -> None:
    """After commit: the gradebook's editors, the students' notification feeds and dashboards."""
    for item in written:
        await ctx.bus.publish(gradebook_channel(item.class_id), grade_event(item))
        if item.notification_id is not None:
            channel = user_notifications_channel(item.grade.student_id)
            await ctx.bus.publish(channel, {"id": item.notification_id})
    await dashboards_changed(ctx.app, sorted({item.grade.student_id for item in written}))
    await teacher_dashboards_changed(
        ctx.app,
        class_ids={item.class_id for item in written},
        student_ids={item.grade.student_id for item in written},
    )


def grade_event(written: WrittenGrade) -> dict[str, Any]:
    grade = written.grade
    return {
        "type": "GradeUpdated",
        "studentId": grade.student_id,
        "assignmentId": grade.assignment_id,
        "grade": {
            "id": grade.id,
            "score": grade.score,
            "version": grade.version,
            "letter": written.letter,
            "updatedAt": grade.updated_at.isoformat(),
        },
        "by": {"id": written.by.id, "name": written.by.name},
    }


async def history(
    ctx: Context, class_global_id: str, student_global_id: str, assignment_global_id: str
) -> list[GradeChange]:
    class_id = decode_id_of(class_global_id, "Class")
    await gradebook_access(ctx, class_id, edit=False)
    student_id = decode_id_of(student_global_id, "Student")
    assignment_id = decode_id_of(assignment_global_id, "Assignment")
    query = (
        select(GradeChange)
        .join(Grade, Grade.id == GradeChange.grade_id)
        .join(Assignment, Assignment.id == Grade.assignment_id)
        .where(
            Grade.student_id == student_id,
            Grade.assignment_id == assignment_id,
            Assignment.class_id == class_id,
        )
        .order_by(GradeChange.version.desc(), GradeChange.id.desc())
    )
    async with ctx.session_factory() as session:
        return list((await session.scalars(query)).all())


async def calculate_final_grades(
    ctx: Context, class_global_id: str
) -> list[tuple[SheetStudent, FinalResult]]:
    class_id = decode_id_of(class_global_id, "Class")
    access = await gradebook_access(ctx, class_id, edit=True)
    now = utcnow()
    async with ctx.writer.begin() as session:
        data = await _sheet_data(session, class_id, access.klass.school_id)
        results = [(student, data.final_result(data.scores_of(student.id), now)) for student in data.students]
        await session.execute(delete(FinalGrade).where(FinalGrade.class_id == class_id))
        rows = [
            {
                "class_id": class_id, "student_id": student.id, "percentage": r.percentage,
                "letter": r.letter, "grade_points": r.grade_points, "calculated_at": now,
            }
            for student, r in results
        ]  # fmt: skip
        if rows:
            await session.execute(insert(FinalGrade), rows)
        await audit.record_many(
            session, ctx, "grade.final_calculated", "Student", [s.id for s, _ in results], classId=class_id
        )
    await ctx.bus.publish(gradebook_channel(class_id), {"type": "FinalGradesCalculated", "classId": class_id})
    return results


async def standing_locks(ctx: Context, class_id: int) -> dict[tuple[int, int], CellLock]:
    """The class's locks; none while Redis is unreachable. Locks coordinate editors; the
    versions, kept by the database, are what guarantee that no change is lost."""
    try:
        return await ctx.app.locks.of_class(class_id)
    except CONNECTION_ERRORS as error:
        log.warning("cell locks unreadable: %s", type(error).__name__)
        return {}


async def current_editors(ctx: Context, class_id: int) -> list[Editor]:
    try:
        return await ctx.app.presence.editors(class_id)
    except CONNECTION_ERRORS as error:
        log.warning("presence unreadable: %s", type(error).__name__)
        return []
