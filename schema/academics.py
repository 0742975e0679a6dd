"""Teachers, classes and courses (with their prerequisite chains) as the API shows them.

Class.students/enrollments show types of modules that import this one (schema.students,
schema.enrollments): they are named lazily, and built from imports inside the fields (which
cannot make an import circle).
"""

from __future__ import annotations

from datetime import time
from typing import TYPE_CHECKING, Annotated

import strawberry

from models import Class as ClassModel
from models import Course as CourseModel
from models import MeetingTime as MeetingTimeModel
from models import User as UserModel
from models.enums import EnrollmentStatus
from resolvers import classes as class_reads
from resolvers import enrollments as rosters
from resolvers.ids import decode_id_of, encode_id
from schema.base import Connection, Info, Node, connection_from_page, connection_of
from schema.class_grading import ClassGradingFields
from schema.enums import WEEKDAYS, Weekday
from schema.terms import Term

if TYPE_CHECKING:
    from schema.enrollments import Enrollment
    from schema.students import Student


@strawberry.type
class Course(Node):
    code: str
    title: str
    credits: float
    description: str | None
    sourced_id: str | None
    course_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, course: CourseModel) -> Course:
        return cls(
            id=strawberry.ID(encode_id("Course", course.id)),
            code=course.code,
            title=course.title,
            credits=float(course.credits),
            description=course.description,
            sourced_id=course.sourced_id,
            course_id=course.id,
        )

    @strawberry.field(description="The courses to pass before this one (direct prerequisites).")
    async def prerequisites(self, info: Info) -> list[Course]:
        links = await info.context.loaders.prerequisites_by_course.load(self.course_id)
        courses = await info.context.loaders.course_by_id.load_many([link.prerequisite_id for link in links])
        return [Course.from_model(course) for course in courses if course is not None]

    @strawberry.field(
        description="Every course before this one, nearest first (prerequisites of prerequisites), each once."
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
            level = []
            for link in links:  # two courses of a level may share a prerequisite: it comes once
                if link.prerequisite_id not in seen:
                    seen.add(link.prerequisite_id)
                    level.append(link.prerequisite_id)
            chain.extend(
                Course.from_model(c) for c in await loaders.course_by_id.load_many(level) if c is not None
            )
        return chain

    @strawberry.field(description="The course's classes (sections) by title, of one term if given.")
    async def classes(
        self,
        info: Info,
        term_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Class]:
        loader = info.context.loaders.roster.class_pages_by_course
        page = await class_reads.class_page(info.context, loader, self.course_id, term_id, first, after)
        return connection_of(page, Class.from_model)


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

    @strawberry.field
    async def department(self, info: Info) -> str | None:
        profile = await info.context.loaders.teacher_profile_by_user_id.load(decode_id_of(self.id, "Teacher"))
        return profile.department if profile else None

    @strawberry.field(
        description="The classes the teacher teaches (co-teaching too), by title; of one term if given."
    )
    async def classes(
        self,
        info: Info,
        term_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Class]:
        loader = info.context.loaders.roster.class_pages_by_teacher
        teacher_id = decode_id_of(self.id, "Teacher")
        page = await class_reads.class_page(info.context, loader, teacher_id, term_id, first, after)
        return connection_of(page, Class.from_model)


@strawberry.type(description="A weekly meeting of a class, in the school's local time.")
class MeetingTime:
    weekday: Weekday
    starts_at: time
    ends_at: time

    @classmethod
    def from_model(cls, row: MeetingTimeModel) -> MeetingTime:
        return cls(weekday=WEEKDAYS[row.weekday], starts_at=row.starts_at, ends_at=row.ends_at)


@strawberry.type
class Class(ClassGradingFields, Node):
    title: str
    room: str | None
    class_id: strawberry.Private[int]
    course_id: strawberry.Private[int]
    # The row, when the parent had it; else it is loaded for the fields that need it.
    row: strawberry.Private[ClassModel | None] = None

    @classmethod
    def from_model(cls, row: ClassModel) -> Class:
        return cls(
            id=strawberry.ID(encode_id("Class", row.id)),
            title=row.title,
            room=row.room,
            class_id=row.id,
            course_id=row.course_id,
            row=row,
        )

    async def _row(self, info: Info) -> ClassModel:
        if self.row is None:
            self.row = await info.context.loaders.class_by_id.load_existing(self.class_id)
        return self.row

    @strawberry.field(description="Seats; null: no limit.")
    async def capacity(self, info: Info) -> int | None:
        return (await self._row(info)).capacity

    @strawberry.field(description="The id of the class in a OneRoster exchange.")
    async def sourced_id(self, info: Info) -> str | None:
        return (await self._row(info)).sourced_id

    @strawberry.field(description="Students actively enrolled.")
    async def enrolled_count(self, info: Info) -> int:
        return await info.context.loaders.roster.enrolled_count_by_class.load(self.class_id)

    @strawberry.field
    async def course(self, info: Info) -> Course:
        return Course.from_model(await info.context.loaders.course_by_id.load_existing(self.course_id))

    @strawberry.field
    async def term(self, info: Info) -> Term:
        term_id = (await self._row(info)).term_id
        return Term.from_model(await info.context.loaders.term_by_id.load_existing(term_id))

    @strawberry.field(description="The primary teacher (the first of `teachers`).")
    async def teacher(self, info: Info) -> Teacher | None:
        teachers = await _teachers_of(info, self.class_id)
        return teachers[0] if teachers else None

    @strawberry.field(description="Everyone who teaches the class, primary teacher first (co-teaching).")
    async def teachers(self, info: Info) -> list[Teacher]:
        return await _teachers_of(info, self.class_id)

    @strawberry.field(description="When the class meets each week, Monday first.")
    async def meeting_times(self, info: Info) -> list[MeetingTime]:
        rows = await info.context.loaders.roster.meeting_times_by_class.load(self.class_id)
        return [MeetingTime.from_model(row) for row in rows]

    @strawberry.field(
        description="The students actively enrolled, by name: the class's teachers and the school's "
        "staff (FORBIDDEN for others)."
    )
    async def students(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Annotated[Student, strawberry.lazy("schema.students")]] | None:
        from schema.students import Student  # noqa: PLC0415 - schema.students imports this module

        school_id = (await self._row(info)).school_id
        active = [EnrollmentStatus.ACTIVE]
        page = await rosters.enrollment_page(info.context, self.class_id, school_id, active, first, after)
        loaders = info.context.loaders
        student_ids = [row.student_id for row in page.items]
        users = await loaders.user_by_id.load_many(student_ids)
        profiles = await loaders.student_profile_by_user_id.load_many(student_ids)
        students = []
        for user, profile in zip(users, profiles, strict=True):
            assert user is not None
            assert profile is not None
            students.append(Student.from_model(user, profile))
        rosters.note_roster_read(info.context, student_ids)
        return connection_from_page(
            students, page.cursors, total_count=page.total_count, has_next_page=page.has_next_page
        )

    @strawberry.field(
        description="Enrollments of some statuses (all if none given) with their history, by "
        "student name: the class's teachers and the school's staff (FORBIDDEN for others)."
    )
    async def enrollments(
        self,
        info: Info,
        status: list[EnrollmentStatus] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Annotated[Enrollment, strawberry.lazy("schema.enrollments")]] | None:
        from schema.enrollments import Enrollment  # noqa: PLC0415 - schema.enrollments imports this module

        school_id = (await self._row(info)).school_id
        page = await rosters.enrollment_page(info.context, self.class_id, school_id, status, first, after)
        rosters.note_roster_read(info.context, [row.student_id for row in page.items])
        return connection_of(page, lambda row: Enrollment.from_model(row, school_id))


async def _teachers_of(info: Info, class_id: int) -> list[Teacher]:
    links = await info.context.loaders.teachers_by_class.load(class_id)
    users = await info.context.loaders.user_by_id.load_many([link.teacher_id for link in links])
    return [Teacher.from_model(user) for user in users if user is not None]
