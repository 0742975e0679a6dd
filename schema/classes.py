"""The roots of classes and teachers: `classes`, `class`, `teachers`, createClass and updateClass."""

from __future__ import annotations

from datetime import time

import strawberry

from errors import Problem
from models import Class as ClassModel
from resolvers import classes
from resolvers.classes import ClassFields, ClassListFilter, ListOrder, Meeting
from resolvers.ids import decode_id_of
from schema.academics import Class, Teacher
from schema.base import Connection, Info, UserError, connection_of, user_errors
from schema.enums import WEEKDAYS, ClassOrderField, OrderDirection, Weekday


@strawberry.input
class ClassFilter:
    term_id: strawberry.ID | None = None
    course_id: strawberry.ID | None = None
    teacher_id: strawberry.ID | None = strawberry.field(default=None, description="Co-teachers count.")
    query: str | None = strawberry.field(
        default=None, description="Words of the title, room or course code, all of them."
    )


@strawberry.input
class ClassOrder:
    field: ClassOrderField
    direction: OrderDirection


@strawberry.input
class TeacherFilter:
    query: str | None = strawberry.field(default=None, description="Words of the name or email, all of them.")
    term_id: strawberry.ID | None = strawberry.field(
        default=None, description="Teachers of a class of this term."
    )


@strawberry.input
class MeetingTimeInput:
    weekday: Weekday
    starts_at: time
    ends_at: time


@strawberry.input
class CreateClassInput:
    course_id: strawberry.ID
    term_id: strawberry.ID
    title: str
    room: str | None = None
    capacity: int | None = strawberry.field(default=None, description="Seats; null: no limit.")
    teacher_ids: list[strawberry.ID] = strawberry.field(description="The first is the primary teacher.")
    meeting_times: list[MeetingTimeInput] | None = None


@strawberry.input(
    description="Given fields change; teacherIds and meetingTimes replace the lists; a null room or "
    "capacity clears it (no limit)."
)
class UpdateClassInput:
    class_id: strawberry.ID
    title: str | None = None
    room: str | None = strawberry.UNSET
    capacity: int | None = strawberry.UNSET
    teacher_ids: list[strawberry.ID] | None = None
    meeting_times: list[MeetingTimeInput] | None = None


@strawberry.type
class ClassPayload:
    class_: Class | None = strawberry.field(name="class")
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: ClassModel | list[Problem]) -> ClassPayload:
        if isinstance(result, list):
            return cls(class_=None, user_errors=user_errors(result))
        return cls(class_=Class.from_model(result), user_errors=[])


def _meetings(given: list[MeetingTimeInput] | None) -> list[Meeting] | None:
    if given is None:
        return None
    return [Meeting(WEEKDAYS.index(m.weekday), m.starts_at, m.ends_at) for m in given]


def _id_of(global_id: strawberry.ID | None, type_name: str) -> int | None:
    return decode_id_of(str(global_id), type_name) if global_id is not None else None


@strawberry.type
class ClassQueries:
    @strawberry.field(
        description="Staff, admins and teachers: the school's classes; students and guardians: their "
        "own / their wards'. By title unless ordered; pages of at most 100."
    )
    async def classes(
        self,
        info: Info,
        filter: ClassFilter | None = None,
        order_by: ClassOrder | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Class]:
        given = filter or ClassFilter()
        class_filter = ClassListFilter(
            term_id=_id_of(given.term_id, "Term"),
            course_id=_id_of(given.course_id, "Course"),
            teacher_id=_id_of(given.teacher_id, "Teacher"),
            text=given.query,
        )
        order = ListOrder(
            field=order_by.field.value if order_by else ClassOrderField.TITLE.value,
            descending=bool(order_by and order_by.direction == OrderDirection.DESC),
        )
        page = await classes.classes(info.context, class_filter, order, first, after)
        return connection_of(page, Class.from_model)

    @strawberry.field(name="class", description="A class of the caller's school.")
    async def class_(self, info: Info, id: strawberry.ID) -> Class | None:
        return Class.from_model(await classes.get_class(info.context, str(id)))

    @strawberry.field(description="Staff, admins and teachers: the school's teachers by name.")
    async def teachers(
        self,
        info: Info,
        filter: TeacherFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Teacher]:
        given = filter or TeacherFilter()
        term_id = str(given.term_id) if given.term_id is not None else None
        page = await classes.teachers(info.context, given.query, term_id, first, after)
        return connection_of(page, Teacher.from_model)


@strawberry.type
class ClassMutations:
    @strawberry.mutation(
        description="Staff and admins: a class (section) of a course in an open term; the first teacher "
        "is primary, the others co-teach."
    )
    async def create_class(self, info: Info, input: CreateClassInput) -> ClassPayload:
        fields = ClassFields(
            title=input.title,
            room=input.room,
            room_given=True,
            capacity=input.capacity,
            capacity_given=True,
            teacher_ids=[str(teacher_id) for teacher_id in input.teacher_ids],
            meetings=_meetings(input.meeting_times) or [],
        )
        result = await classes.create_class(info.context, str(input.course_id), str(input.term_id), fields)
        return ClassPayload.of(result)

    @strawberry.mutation(
        description="Staff and admins. A teacher taken off the class loses its gradebook at once."
    )
    async def update_class(self, info: Info, input: UpdateClassInput) -> ClassPayload:
        room_given = input.room is not strawberry.UNSET
        capacity_given = input.capacity is not strawberry.UNSET
        fields = ClassFields(
            title=input.title,
            room=input.room if room_given else None,
            room_given=room_given,
            capacity=input.capacity if capacity_given else None,
            capacity_given=capacity_given,
            teacher_ids=None if input.teacher_ids is None else [str(t) for t in input.teacher_ids],
            meetings=_meetings(input.meeting_times),
        )
        return ClassPayload.of(await classes.update_class(info.context, str(input.class_id), fields))
