"""Teachers, classes and courses (with their prerequisite chains) as the API shows them."""

from __future__ import annotations

import strawberry

from models import Class as ClassModel
from models import Course as CourseModel
from models import User as UserModel
from resolvers.ids import encode_id
from schema.base import Info, Node


@strawberry.type
class Course(Node):
    code: str
    title: str
    credits: float
    course_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, course: CourseModel) -> Course:
        return cls(
            id=strawberry.ID(encode_id("Course", course.id)),
            code=course.code,
            title=course.title,
            credits=float(course.credits),
            course_id=course.id,
        )

    @strawberry.field(description="The courses to pass before this one (direct prerequisites).")
    async def prerequisites(self, info: Info) -> list[Course]:
        links = await info.context.loaders.prerequisites_by_course.load(self.course_id)
        courses = await info.context.loaders.course_by_id.load_many([link.prerequisite_id for link in links])
        return [Course.from_model(course) for course in courses if course is not None]

    @strawberry.field(
        description="Every course before this one, nearest first (prerequisites of prerequisites)."
    )
    async def prerequisite_chain(self, info: Info) -> list[Course]:
        loaders = info.context.loaders
        chain: list[Course] = []
        seen = {self.course_id}
        level = [self.course_id]
        while level:
            links = [
                link for links in await loaders.prerequisites_by_course.load_many(level) for link in links
            ]
            level = [link.prerequisite_id for link in links if link.prerequisite_id not in seen]
            seen.update(level)
            chain.extend(
                Course.from_model(c) for c in await loaders.course_by_id.load_many(level) if c is not None
            )
        return chain


@strawberry.type(description="A student as lists show them: enough to name and open them.")
class StudentSummary:
    id: strawberry.ID
    name: str

    @classmethod
    def of(cls, student_id: int, name: str) -> StudentSummary:
        return cls(id=strawberry.ID(encode_id("Student", student_id)), name=name)


@strawberry.type
class Teacher(Node):
    name: str
    email: str

    @classmethod
    def from_model(cls, user: UserModel) -> Teacher:
        return cls(id=strawberry.ID(encode_id("Teacher", user.id)), name=user.name, email=user.email)


@strawberry.type
class Class(Node):
    title: str
    room: str | None
    class_id: strawberry.Private[int]
    course_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: ClassModel) -> Class:
        return cls(
            id=strawberry.ID(encode_id("Class", row.id)),
            title=row.title,
            room=row.room,
            class_id=row.id,
            course_id=row.course_id,
        )

    @strawberry.field
    async def course(self, info: Info) -> Course:
        return Course.from_model(await info.context.loaders.course_by_id.load_existing(self.course_id))

    @strawberry.field(description="The primary teacher (the first of `teachers`).")
    async def teacher(self, info: Info) -> Teacher | None:
        teachers = await _teachers_of(info, self.class_id)
        return teachers[0] if teachers else None

    @strawberry.field(description="Everyone who teaches the class, primary teacher first (co-teaching).")
    async def teachers(self, info: Info) -> list[Teacher]:
        return await _teachers_of(info, self.class_id)


async def _teachers_of(info: Info, class_id: int) -> list[Teacher]:
    links = await info.context.loaders.teachers_by_class.load(class_id)
    users = await info.context.loaders.user_by_id.load_many([link.teacher_id for link in links])
    return [Teacher.from_model(user) for user in users if user is not None]
