"""A student's grades in one class (`Student.grades`), as the student, their
guardians, the class's teachers and the school's staff see them; and the final grade's type,
which the gradebook shows too.

A base class of the type it extends, so that it is written apart from that type's module, which
it must not import at import time (strawberry.lazy for the way back).
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from models import Class as ClassModel
from models.enums import EnrollmentStatus, GradeStatus  # GraphQL enums: registered by schema.enums
from resolvers import student_grades
from resolvers.grading import FinalResult
from resolvers.student_grades import GradeItem
from schema.assignments import Assignment, LazyClass, class_of
from schema.base import Info

FINAL_GRADE_RULE = (
    "By category weights: EXCUSED work left out, MISSING as zero, LATE less its penalty, work past due "
    "and ungraded as zero, work not yet due left out."
)


@strawberry.type
class FinalGrade:
    percentage: float | None
    letter: str | None
    grade_points: float | None

    @classmethod
    def of(cls, result: FinalResult) -> FinalGrade:
        return cls(percentage=result.percentage, letter=result.letter, grade_points=result.grade_points)


@strawberry.type(description="The grade of the work graded so far (EXCUSED left out, MISSING as zero).")
class CurrentGrade:
    percentage: float | None
    letter: str | None


@strawberry.type(description="One assignment of the class with the student's cell.")
class StudentGradeItem:
    assignment: Assignment
    score: float | None
    adjusted_score: float | None = strawberry.field(
        description="What the score counts for: LATE less its penalty, MISSING 0, EXCUSED null."
    )
    letter: str | None = strawberry.field(description="The adjusted score's letter.")
    status: GradeStatus
    late_penalty: float | None = strawberry.field(
        description="LATE only: the percent of the score taken off."
    )
    comment: str | None
    graded_at: datetime | None

    @classmethod
    def of(cls, item: GradeItem) -> StudentGradeItem:
        return cls(
            assignment=Assignment.from_model(item.assignment),
            score=item.mark.score,
            adjusted_score=item.adjusted_score,
            letter=item.letter,
            status=item.mark.status,
            late_penalty=item.mark.late_penalty,
            comment=item.comment,
            graded_at=item.graded_at,
        )


@strawberry.type
class StudentClassGrades:
    enrollment_status: EnrollmentStatus
    items: list[StudentGradeItem]
    current_grade: CurrentGrade
    final_grade: FinalGrade = strawberry.field(
        description=f"Frozen when the term closed; until then as the gradebook has it. {FINAL_GRADE_RULE}"
    )
    class_row: strawberry.Private[ClassModel]

    @strawberry.field(name="class")
    def class_(self) -> LazyClass:
        return class_of(self.class_row)


@strawberry.type
class StudentGradeFields:
    student_id: strawberry.Private[int]
    school_id: strawberry.Private[int]

    @strawberry.field(
        description="The student's grades in one class (the student, their guardians, the class's "
        "teachers and the school's staff). A class they were never in: null with FORBIDDEN."
    )
    async def grades(self, info: Info, class_id: strawberry.ID) -> StudentClassGrades | None:
        found = await student_grades.class_grades(
            info.context, self.student_id, self.school_id, str(class_id)
        )
        return StudentClassGrades(
            enrollment_status=found.enrollment_status,
            items=[StudentGradeItem.of(item) for item in found.items],
            current_grade=CurrentGrade(percentage=found.current.percentage, letter=found.current.letter),
            final_grade=FinalGrade.of(found.final),
            class_row=found.klass,
        )
