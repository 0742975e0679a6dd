"""A student's grades in one class (`Student.grades`): each assignment's cell, the current grade
and the final grade, by the gradebook's rule (models/grade_math.py).

Who: the student, their guardians, the class's teachers and the school's staff and admins
(others FORBIDDEN). Students and guardians see the published assignments only. A dropped class
keeps its grades; a class the student was never enrolled in is answered like a missing one.
Everything comes through loaders, so a list of students costs the same few statements.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from errors import Forbidden
from models import Assignment, Class, FinalGrade, Grade
from models.base import utcnow
from models.enums import EnrollmentStatus, GradeStatus, Role, TermStatus
from models.grade_math import (
    UNMARKED,
    GradingScale,
    Mark,
    adjusted_score,
    current_percentage,
    final_percentage,
)
from resolvers.grading import FinalResult, column_of, result_of
from resolvers.ids import decode_id_of
from resolvers.policy import NOT_VISIBLE, Relation, relation_to_student, require_user

if TYPE_CHECKING:
    from context import Context

SEE_PUBLISHED_ONLY = frozenset({Relation.SELF, Relation.GUARDIAN})
WHO = "Only the student, their guardians, the class's teachers and the school's staff see these grades."


@dataclass(frozen=True)
class GradeItem:
    assignment: Assignment
    mark: Mark
    adjusted_score: float | None
    letter: str | None
    comment: str | None
    graded_at: datetime | None


@dataclass(frozen=True)
class ClassGrades:
    klass: Class
    enrollment_status: EnrollmentStatus
    items: list[GradeItem]
    current: FinalResult
    final: FinalResult


async def class_grades(ctx: Context, student_id: int, school_id: int, class_global_id: str) -> ClassGrades:
    class_id = decode_id_of(class_global_id, "Class")
    loaders = ctx.loaders
    klass, relation = await _require_reader(ctx, student_id, school_id, class_id)
    enrollment = await loaders.roster.enrollment_by_class_student.load((class_id, student_id))
    if enrollment is None:
        raise Forbidden(NOT_VISIBLE)
    assignments, grades, weights, school, term, frozen = await asyncio.gather(
        loaders.assignments_by_class.load(class_id),
        loaders.grades_by_class_student.load((class_id, student_id)),
        loaders.category_weights_by_class.load(class_id),
        loaders.school_by_id.load_existing(school_id),
        loaders.term_by_id.load_existing(klass.term_id),
        loaders.final_grade.load((class_id, student_id)),
    )
    scale = GradingScale(school.grading_scale)
    by_assignment = {grade.assignment_id: grade for grade in grades}
    marks = {a.id: _mark(by_assignment.get(a.id)) for a in assignments}
    cells = [(column_of(a), marks[a.id]) for a in assignments]
    category_weights = {row.category: row.weight for row in weights}
    shown = [a for a in assignments if a.published or relation not in SEE_PUBLISHED_ONLY]
    return ClassGrades(
        klass=klass,
        enrollment_status=enrollment.status,
        items=[_item(a, marks[a.id], by_assignment.get(a.id), scale) for a in shown],
        current=result_of(scale, current_percentage(cells, category_weights)),
        final=(
            _frozen(frozen)
            if term.status == TermStatus.CLOSED and frozen is not None
            else result_of(scale, final_percentage(cells, category_weights, utcnow()))
        ),
    )


async def _require_reader(
    ctx: Context, student_id: int, school_id: int, class_id: int
) -> tuple[Class, Relation]:
    user = require_user(ctx)
    klass = await ctx.loaders.class_by_id.load(class_id)
    relation = await relation_to_student(ctx, student_id, school_id)
    if klass is None or klass.school_id != school_id or relation is None:
        raise Forbidden(NOT_VISIBLE)
    if relation in (Relation.SELF, Relation.GUARDIAN, Relation.SCHOOL):
        return klass, relation
    if user.role == Role.TEACHER and class_id in await ctx.loaders.class_ids_by_teacher.load(user.id):
        return klass, Relation.TEACHER
    raise Forbidden(WHO)


def _mark(grade: Grade | None) -> Mark:
    return Mark(grade.score, grade.status, grade.late_penalty) if grade else UNMARKED


def _item(assignment: Assignment, mark: Mark, grade: Grade | None, scale: GradingScale) -> GradeItem:
    adjusted = adjusted_score(mark)
    graded = grade is not None and (grade.score is not None or grade.status != GradeStatus.NONE)
    return GradeItem(
        assignment=assignment,
        mark=mark,
        adjusted_score=adjusted,
        letter=scale.letter_of(adjusted, assignment.max_score),
        comment=grade.comment if grade else None,
        graded_at=grade.updated_at if grade and graded else None,
    )


def _frozen(row: FinalGrade) -> FinalResult:
    """The final grade `closeTerm` stored."""
    return FinalResult(row.percentage, row.letter, row.grade_points)
