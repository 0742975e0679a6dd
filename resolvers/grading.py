"""The gradebook: the sheet, who may read and edit it, history and final grades.

Who: teachers of the class (co-teachers too) and the school's admins edit; staff read;
students and everyone else never see the sheet. A closed term's sheet is read-only
(`lock_open_term`). Writes are in `resolvers.grade_writes` (cells) and `resolvers.assignments`
(columns, weights); presence, cell locks and the live events in `resolvers.live_grading`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Literal, NamedTuple

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Forbidden, Problem, ProblemError
from loaders.academics import ASSIGNMENT_ORDER, IN_GRADEBOOK
from loaders.signals import category_weights
from models import (
    Assignment,
    Class,
    Enrollment,
    FinalGrade,
    Grade,
    GradeChange,
    School,
    Term,
    User,
)
from models.base import utcnow
from models.enums import AssignmentCategory, EnrollmentStatus, GradeStatus, Role, TermStatus
from models.grade_math import UNMARKED, Column, GradingScale, Mark, adjusted_score, final_percentage
from resolvers import audit
from resolvers.ids import decode_id_of
from resolvers.policy import NOT_VISIBLE, require_user
from resolvers.roster_rules import require_open
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
    adjusted_score: float | None
    letter: str | None
    status: GradeStatus
    late_penalty: float | None
    comment: str | None
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
    term: Term
    weights: list[tuple[AssignmentCategory, float]]
    assignments: list[Assignment]
    rows: list[SheetRow]
    editors: list[Editor]

    @property
    def closed(self) -> bool:
        """A closed term's sheet is read-only (grade writes answer TERM_CLOSED)."""
        return self.term.status == TermStatus.CLOSED


class StoredGrade(NamedTuple):
    """A cell as stored; `version` 0 before its first write."""

    mark: Mark
    comment: str | None
    version: int


UNGRADED = StoredGrade(UNMARKED, None, 0)
# The sheet's students: those in the class, and those who completed it (a closed term's sheet).
ON_THE_SHEET = (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED)


@dataclass
class SheetData:
    """What a sheet is computed from: the class's assignments (archived ones left out), its
    students (`ON_THE_SHEET`), and their grades by (student, assignment)."""

    assignments: list[Assignment]
    students: list[SheetStudent]
    grades: dict[tuple[int, int], StoredGrade]
    weights: dict[AssignmentCategory, float]
    scale: GradingScale
    columns: list[Column] = field(init=False)

    def __post_init__(self) -> None:
        self.columns = [column_of(a) for a in self.assignments]

    def marks_of(self, student_id: int) -> dict[int, Mark]:
        return {a.id: self.grades.get((student_id, a.id), UNGRADED).mark for a in self.assignments}

    def final_result(self, marks: dict[int, Mark], now: datetime) -> FinalResult:
        """The final grade rule (models/grade_math.py): EXCUSED work left out, MISSING as zero,
        LATE less its penalty, work past due and still ungraded as zero, work not yet due left out."""
        cells = [(column, marks[a.id]) for column, a in zip(self.columns, self.assignments, strict=True)]
        return result_of(self.scale, final_percentage(cells, self.weights, now))


def result_of(scale: GradingScale, percentage: float | None) -> FinalResult:
    """A percentage with its letter and grade points on the school's scale."""
    if percentage is None:
        return FinalResult(None, None, None)
    grade = scale.grade(percentage)
    return FinalResult(percentage, grade.letter, grade.points)


def column_of(assignment: Assignment) -> Column:
    return Column(assignment.category, assignment.max_score, assignment.due_at)


def ordered_weights(weights: dict[AssignmentCategory, float]) -> list[tuple[AssignmentCategory, float]]:
    """A class's category weights in the categories' order."""
    return [(category, weights[category]) for category in AssignmentCategory if category in weights]


async def sheet(ctx: Context, class_global_id: str) -> Sheet:
    class_id = decode_id_of(class_global_id, "Class")
    access = await gradebook_access(ctx, class_id, edit=False)
    async with ctx.session_factory() as session:
        data = await _sheet_data(session, class_id, access.klass.school_id)
        term = await session.get_one(Term, access.klass.term_id)
    locks = await standing_locks(ctx, class_id)
    editors = await current_editors(ctx, class_id)
    now = utcnow()
    letter_of = data.scale.letter_of
    rows = []
    for student in data.students:
        # Only staff, admins and teachers read a sheet: each row is a read of a student's record
        # by someone else (audited, all of the operation's reads in one statement).
        audit.note_read(ctx, "Student", student.id)
        cells = []
        for a in data.assignments:
            mark, comment, version = data.grades.get((student.id, a.id), UNGRADED)
            adjusted = adjusted_score(mark)
            lock = locks.get((student.id, a.id)) if locks else None
            letter = letter_of(adjusted, a.max_score)
            cells.append(
                Cell(
                    a.id, mark.score, adjusted, letter, mark.status, mark.late_penalty, comment, version, lock
                )
            )
        rows.append(SheetRow(student, cells, data.final_result(data.marks_of(student.id), now)))
    weights = ordered_weights(data.weights)
    return Sheet(access.klass, term, weights, data.assignments, rows, editors)


async def _sheet_data(session: AsyncSession, class_id: int, school_id: int) -> SheetData:
    """Plain rows, not ORM entities: a sheet may hold 10,000 grades."""
    assignments = (
        await session.scalars(
            select(Assignment)
            .where(Assignment.class_id == class_id, IN_GRADEBOOK)
            .order_by(*ASSIGNMENT_ORDER)
        )
    ).all()
    students = (
        await session.execute(
            select(User.id, User.name)
            .join(Enrollment, Enrollment.student_id == User.id)
            .where(Enrollment.class_id == class_id, Enrollment.status.in_(ON_THE_SHEET))
            .order_by(User.name, User.id)
        )
    ).all()
    grades = await session.execute(
        select(
            Grade.student_id, Grade.assignment_id, Grade.score, Grade.status, Grade.late_penalty,
            Grade.comment, Grade.version,
        )
        .join(Assignment, Assignment.id == Grade.assignment_id)
        .where(Assignment.class_id == class_id, IN_GRADEBOOK)
    )  # fmt: skip
    weights = (await category_weights(session, {class_id})).get(class_id, {})
    scale = await session.scalar(select(School.grading_scale).where(School.id == school_id))
    return SheetData(
        assignments=list(assignments),
        students=[SheetStudent(*row) for row in students],
        grades={
            (sid, aid): StoredGrade(Mark(score, status, penalty), comment, version)
            for sid, aid, score, status, penalty, comment, version in grades
        },
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
        changes = list((await session.scalars(query)).all())
    if changes:  # the student's grade in this class: a read of their record by staff or a teacher
        audit.note_read(ctx, "Student", student_id)
    return changes


async def lock_open_term(session: AsyncSession, class_id: int, lock: Literal["share", "update"]) -> Term:
    """The class's term, once the class is locked, in the caller's transaction; TERM_CLOSED
    (ProblemError) if the term is closed.

    Grade writes take the class's row "share": they go on side by side, while whatever takes it
    "update" (assignment and weight changes, calculating final grades, and so `closeTerm`)
    waits for them and they for it; the term is read after the lock, so a write that waited for
    a `closeTerm` sees the term closed. (SQLite serializes writers without row locks.)"""
    locked = select(Class.id).where(Class.id == class_id)
    await session.execute(
        locked.with_for_update(read=True) if lock == "share" else locked.with_for_update(key_share=True)
    )
    term = await session.scalar(
        select(Term).join(Class, Class.term_id == Term.id).where(Class.id == class_id)
    )
    if term is None:
        raise LookupError(f"class {class_id} has no term")
    require_open(term)
    return term


@dataclass(frozen=True)
class CalculatedGrades:
    results: list[tuple[SheetStudent, FinalResult]]


async def calculate_final_grades(ctx: Context, class_global_id: str) -> CalculatedGrades | list[Problem]:
    """Stores the final grades of an open term's class (a closed term keeps those it froze)."""
    class_id = decode_id_of(class_global_id, "Class")
    access = await gradebook_access(ctx, class_id, edit=True)
    try:
        async with ctx.writer.begin() as session:
            await lock_open_term(session, class_id, "update")
            results = await write_final_grades(session, ctx, class_id, access.klass.school_id, utcnow())
    except ProblemError as refused:
        return refused.problems
    await ctx.bus.publish(gradebook_channel(class_id), FinalGradesCalculated(class_id=class_id, at=utcnow()))
    return CalculatedGrades(results)


async def write_final_grades(
    session: AsyncSession, ctx: Context, class_id: int, school_id: int, now: datetime
) -> list[tuple[SheetStudent, FinalResult]]:
    """Calculates the class's final grades (the sheet's rule) and stores them in the caller's
    transaction, replacing the earlier ones; `calculateFinalGrades` and `closeTerm` both use it."""
    # One calculation of a class at a time: the next one waits, then replaces these rows.
    await session.execute(select(Class.id).where(Class.id == class_id).with_for_update())
    data = await _sheet_data(session, class_id, school_id)
    results = [(student, data.final_result(data.marks_of(student.id), now)) for student in data.students]
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
