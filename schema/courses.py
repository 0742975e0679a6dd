"""The course catalog's roots: `courses`, `course`, createCourse and updateCourse."""

from __future__ import annotations

import strawberry

from errors import Problem
from models import Course as CourseModel
from resolvers import courses
from resolvers.classes import ListOrder
from resolvers.courses import CourseFields
from schema.academics import Course
from schema.base import Connection, Info, UserError, connection_of, user_errors
from schema.enums import CourseOrderField, OrderDirection


@strawberry.input
class CourseFilter:
    query: str | None = strawberry.field(default=None, description="Words of the code or title, all of them.")


@strawberry.input
class CourseOrder:
    field: CourseOrderField
    direction: OrderDirection


@strawberry.input
class CreateCourseInput:
    code: str
    title: str
    credits: float
    description: str | None = None
    prerequisite_ids: list[strawberry.ID] | None = None


@strawberry.input(
    description="Given fields change; prerequisiteIds replaces the list; a null description clears it."
)
class UpdateCourseInput:
    course_id: strawberry.ID
    code: str | None = None
    title: str | None = None
    credits: float | None = None
    description: str | None = strawberry.UNSET
    prerequisite_ids: list[strawberry.ID] | None = None


@strawberry.type
class CoursePayload:
    course: Course | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: CourseModel | list[Problem]) -> CoursePayload:
        if isinstance(result, list):
            return cls(course=None, user_errors=user_errors(result))
        return cls(course=Course.from_model(result), user_errors=[])


def _ids(global_ids: list[strawberry.ID] | None) -> list[str] | None:
    return None if global_ids is None else [str(global_id) for global_id in global_ids]


@strawberry.type
class CourseQueries:
    @strawberry.field(
        description="The school's course catalog (every signed-in member), by code unless ordered."
    )
    async def courses(
        self,
        info: Info,
        filter: CourseFilter | None = None,
        order_by: CourseOrder | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Course]:
        order = ListOrder(
            field=order_by.field.value if order_by else CourseOrderField.CODE.value,
            descending=bool(order_by and order_by.direction == OrderDirection.DESC),
        )
        page = await courses.courses(info.context, filter.query if filter else None, order, first, after)
        return connection_of(page, Course.from_model)

    @strawberry.field(description="A course of the caller's school.")
    async def course(self, info: Info, id: strawberry.ID) -> Course | None:
        return Course.from_model(await courses.get_course(info.context, str(id)))


@strawberry.type
class CourseMutations:
    @strawberry.mutation(
        description="Staff and admins: a course of the school's catalog (its code unique there)."
    )
    async def create_course(self, info: Info, input: CreateCourseInput) -> CoursePayload:
        fields = CourseFields(
            code=input.code,
            title=input.title,
            credits=input.credits,
            description=input.description,
            prerequisite_ids=_ids(input.prerequisite_ids),
        )
        return CoursePayload.of(await courses.create_course(info.context, fields))

    @strawberry.mutation(description="Staff and admins; prerequisites that would make a cycle are INVALID.")
    async def update_course(self, info: Info, input: UpdateCourseInput) -> CoursePayload:
        given = input.description is not strawberry.UNSET
        fields = CourseFields(
            code=input.code,
            title=input.title,
            credits=input.credits,
            description=input.description if given else None,
            description_given=given,
            prerequisite_ids=_ids(input.prerequisite_ids),
        )
        return CoursePayload.of(await courses.update_course(info.context, str(input.course_id), fields))
