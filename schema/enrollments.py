"""Enrollments as the API shows them (a student in a class: status, history, current grade,
attendance), and enrollStudents/dropEnrollment."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from models import Enrollment as EnrollmentModel
from models import EnrollmentChange as EnrollmentChangeModel
from models.enums import EnrollmentStatus
from models.grade_math import letter_grade
from resolvers import enrollments
from resolvers.ids import encode_id
from schema.academics import Class
from schema.base import Info, UserError, user_errors
from schema.users import User

if TYPE_CHECKING:
    from schema.students import Student


@strawberry.type
class GradeSummary:
    percentage: float | None
    letter: str | None


@strawberry.type(description="A change of an enrollment's status: from when, by whom and why.")
class EnrollmentChange:
    status: EnrollmentStatus
    effective_date: date
    changed_at: datetime
    reason: str | None
    changed_by_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row: EnrollmentChangeModel) -> EnrollmentChange:
        return cls(
            status=row.status,
            effective_date=row.effective_date,
            changed_at=row.changed_at,
            reason=row.reason,
            changed_by_id=row.changed_by_id,
        )

    @strawberry.field
    async def changed_by(self, info: Info) -> User | None:
        return await User.by_id(info, self.changed_by_id)


@strawberry.type(description="A student in a class; kept, DROPPED, when they leave it.")
class Enrollment:
    class_id: strawberry.Private[int]
    student_id: strawberry.Private[int]
    school_id: strawberry.Private[int]
    # The row, when the parent had it; else it is loaded (by class and student) when a field needs it.
    row: strawberry.Private[EnrollmentModel | None] = None

    @classmethod
    def from_model(cls, row: EnrollmentModel, school_id: int) -> Enrollment:
        return cls(class_id=row.class_id, student_id=row.student_id, school_id=school_id, row=row)

    async def _row(self, info: Info) -> EnrollmentModel:
        if self.row is None:
            key = (self.class_id, self.student_id)
            row = await info.context.loaders.roster.enrollment_by_class_student.load(key)
            if row is None:
                raise LookupError(f"no enrollment of student {self.student_id} in class {self.class_id}")
            self.row = row
        return self.row

    @strawberry.field
    async def id(self, info: Info) -> strawberry.ID:
        return strawberry.ID(encode_id("Enrollment", (await self._row(info)).id))

    @strawberry.field
    async def status(self, info: Info) -> EnrollmentStatus:
        return (await self._row(info)).status

    @strawberry.field
    async def enrolled_at(self, info: Info) -> datetime:
        return (await self._row(info)).enrolled_at

    @strawberry.field(description="The day the student left the class; null unless DROPPED.")
    async def dropped_on(self, info: Info) -> date | None:
        return (await self._row(info)).dropped_on

    @strawberry.field
    async def student(self, info: Info) -> Annotated[Student, strawberry.lazy("schema.students")]:
        from schema.students import Student  # noqa: PLC0415 - schema.students imports this module

        loaders = info.context.loaders
        user = await loaders.user_by_id.load_existing(self.student_id)
        return Student.from_model(
            user, await loaders.student_profile_by_user_id.load_existing(self.student_id)
        )

    @strawberry.field(name="class")
    async def class_(self, info: Info) -> Class:
        return Class.from_model(await info.context.loaders.class_by_id.load_existing(self.class_id))

    @strawberry.field(description="Each status the enrollment took, oldest first.")
    async def history(self, info: Info) -> list[EnrollmentChange]:
        row = await self._row(info)
        changes = await info.context.loaders.roster.history_by_enrollment.load(row.id)
        return [EnrollmentChange.from_model(change) for change in changes]

    @strawberry.field(description="The weighted percentage of the graded work so far, and its letter.")
    async def current_grade(self, info: Info) -> GradeSummary:
        loaders = info.context.loaders
        percentage = await loaders.current_percentage.load((self.class_id, self.student_id))
        if percentage is None:
            return GradeSummary(percentage=None, letter=None)
        school = await loaders.school_by_id.load_existing(self.school_id)
        return GradeSummary(percentage=percentage, letter=letter_of(percentage, school.grading_scale))

    @strawberry.field(
        description="Share of class meetings attended (present or late); excused ones don't count."
    )
    async def attendance_rate(self, info: Info) -> float | None:
        return await info.context.loaders.attendance_rate.load((self.class_id, self.student_id))


def letter_of(percentage: float, scale: list[dict[str, Any]]) -> str:
    return letter_grade(percentage, scale).letter


@strawberry.input
class EnrollStudentsInput:
    class_id: strawberry.ID
    student_ids: list[strawberry.ID]


@strawberry.input
class DropEnrollmentInput:
    enrollment_id: strawberry.ID
    effective_date: date
    reason: str | None = None


@strawberry.type
class EnrollStudentsPayload:
    class_: Class | None = strawberry.field(name="class")
    enrollments: list[Enrollment]
    user_errors: list[UserError]


@strawberry.type
class DropEnrollmentPayload:
    enrollment: Enrollment | None
    user_errors: list[UserError]


@strawberry.type
class EnrollmentMutations:
    @strawberry.mutation(
        description="Staff and admins enroll students of their school, all or nothing (a dropped "
        "student comes back ACTIVE with their grades)."
    )
    async def enroll_students(self, info: Info, input: EnrollStudentsInput) -> EnrollStudentsPayload:
        result = await enrollments.enroll_students(
            info.context, str(input.class_id), [str(student_id) for student_id in input.student_ids]
        )
        if isinstance(result, list):
            return EnrollStudentsPayload(class_=None, enrollments=[], user_errors=user_errors(result))
        school_id = result.klass.school_id
        return EnrollStudentsPayload(
            class_=Class.from_model(result.klass),
            enrollments=[Enrollment.from_model(row, school_id) for row in result.enrollments],
            user_errors=[],
        )

    @strawberry.mutation(
        description="Staff and admins drop an enrollment from a day of its term: it stays, DROPPED, "
        "with its history and grades."
    )
    async def drop_enrollment(self, info: Info, input: DropEnrollmentInput) -> DropEnrollmentPayload:
        result = await enrollments.drop_enrollment(
            info.context, str(input.enrollment_id), input.effective_date, input.reason
        )
        if isinstance(result, list):
            return DropEnrollmentPayload(enrollment=None, user_errors=user_errors(result))
        klass = await info.context.loaders.class_by_id.load_existing(result.class_id)
        return DropEnrollmentPayload(
            enrollment=Enrollment.from_model(result, klass.school_id), user_errors=[]
        )
