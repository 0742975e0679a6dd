"""Students, teachers, classes and courses as the API shows them."""

from __future__ import annotations

import strawberry

from models import Class as ClassModel
from models import Course as CourseModel
from models import StudentProfile
from models import User as UserModel
from resolvers.ids import encode_id
from schema.base import Info, Node
from schema.enums import StudentStatus


@strawberry.type
class Course(Node):
    code: str
    title: str
    credits: float

    @classmethod
    def from_model(cls, course: CourseModel) -> Course:
        return cls(
            id=strawberry.ID(encode_id("Course", course.id)),
            code=course.code,
            title=course.title,
            credits=float(course.credits),
        )


@strawberry.type
class Teacher(Node):
    name: str
    email: str

    @classmethod
    def from_model(cls, user: UserModel) -> Teacher:
        return cls(id=strawberry.ID(encode_id("Teacher", user.id)), name=user.name, email=user.email)


@strawberry.type
class Student(Node):
    name: str
    email: str
    student_number: str
    status: StudentStatus
    grade_level: int
    cohort_year: int

    @classmethod
    def from_model(cls, user: UserModel, profile: StudentProfile) -> Student:
        return cls(
            id=strawberry.ID(encode_id("Student", user.id)),
            name=user.name,
            email=user.email,
            student_number=profile.student_number,
            status=profile.status,
            grade_level=profile.grade_level,
            cohort_year=profile.cohort_year,
        )


@strawberry.type
class Class(Node):
    title: str
    room: str | None
    course_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: ClassModel) -> Class:
        return cls(
            id=strawberry.ID(encode_id("Class", row.id)),
            title=row.title,
            room=row.room,
            course_id=row.course_id,
        )

    @strawberry.field
    async def course(self, info: Info) -> Course:
        return Course.from_model(await info.context.loaders.course_by_id.load_existing(self.course_id))
