"""The gradebook: the sheet, who may read and edit it, history and final grades.

Who: teachers of the class (co-teachers too) and the school's admins edit; staff read;
students and everyone else never see the sheet. Writes are in `resolvers.grade_writes`;
presence, cell locks and the live events in `resolvers.live_grading`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Forbidden
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
from models.grade_math import GradedWork, GradingScale, class_percentage
from resolvers import audit
from resolvers.ids import decode_id_of
from resolvers.policy import NOT_VISIBLE, require_user
from subscriptions.bus import CONNECTION_ERRORS
from subscriptions.channels import gradebook_channel
from subscriptions.events import FinalGradesCalculated
from subscriptions.locks import CellLock
from subscriptions.presence import Editor

if TYPE_CHECKING:
    from context import Context

log = logging.getLogger(__name__)


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


async def assignment_of(ctx: Context, assignment_id: int) -> Assignment:
    async with ctx.session_factory() as session:
        assignment = await session.get(Assignment, assignment_id)
    if assignment is None:
        raise Forbidden(NOT_VISIBLE)
    return assignment


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
        # One calculation of a class at a time: the next one waits, then replaces these rows.
        await session.execute(select(Class.id).where(Class.id == class_id).with_for_update())
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
    await ctx.bus.publish(gradebook_channel(class_id), FinalGradesCalculated(class_id=class_id, at=utcnow()))
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
