"""The course catalog: the list, one course, and createCourse/updateCourse.

Every signed-in member of a school reads its catalog; staff and admins write it. A code is
unique within the school (a concurrent duplicate is caught by the database's constraint);
prerequisites are courses of the same school and never form a cycle.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Problem, ProblemError
from loaders.roster import keyset_page, text_order
from models import Course, CoursePrerequisite, School
from resolvers import audit
from resolvers.classes import ListOrder, contains, decode_position, page_of, search_words
from resolvers.ids import decode_id_of
from resolvers.pagination import Page, page_size
from resolvers.policy import require_same_school, require_user
from resolvers.roster_rules import decode_or_none, flush_or_refuse, not_found, own_row, require_staff

if TYPE_CHECKING:
    from context import Context

MAX_CREDITS = 999.9  # Numeric(4, 1)
MAX_PREREQUISITES = 20


@dataclass(frozen=True)
class CourseFields:
    """What createCourse sets, and updateCourse where given (None: unchanged; a null
    description given, `description_given`, clears it; prerequisites replace the list)."""

    code: str | None = None
    title: str | None = None
    credits: float | None = None
    description: str | None = None
    description_given: bool = False
    prerequisite_ids: list[str] | None = None


async def courses(
    ctx: Context, text: str | None, order: ListOrder, first: int | None, after: str | None
) -> Page[Course]:
    user = require_user(ctx)
    query = select(Course).where(Course.school_id == user.school_id)
    for word in search_words(text):
        query = query.where(or_(contains(Course.code, word), contains(Course.title, word)))
    column = Course.title if order.field == "TITLE" else Course.code
    sort = text_order(column, postgres=not ctx.settings.is_sqlite)
    limit = page_size(first, ctx.settings.max_page_size)
    async with ctx.session_factory() as session:
        found = await keyset_page(
            session,
            query,
            sort,
            Course.id,
            first=limit,
            after=decode_position(after),
            descending=order.descending,
        )
    for row in found.rows:
        ctx.loaders.course_by_id.prime(row.id, row)
    return page_of(found)


async def get_course(ctx: Context, global_id: str) -> Course:
    user = require_user(ctx)
    course = await ctx.loaders.course_by_id.load(decode_id_of(global_id, "Course"))
    require_same_school(user, course.school_id if course else None)
    assert course is not None
    return course


async def create_course(ctx: Context, fields: CourseFields) -> Course | list[Problem]:
    user = require_staff(ctx)
    fields = _normalized(fields)
    problems = _field_problems(fields)
    try:
        async with ctx.writer.begin() as session:
            prerequisites = await _prerequisites(
                session, fields.prerequisite_ids or [], user.school_id, problems
            )
            assert fields.code is not None
            assert fields.title is not None
            assert fields.credits is not None
            if await _code_taken(session, user.school_id, fields.code, None):
                problems.append(_conflict())
            if problems:
                raise ProblemError(*problems)
            course = Course(
                school_id=user.school_id,
                code=fields.code,
                title=fields.title,
                credits=Decimal(str(fields.credits)),
                description=fields.description,
            )
            session.add(course)
            await flush_or_refuse(session, _conflict())
            await _replace_prerequisites(session, course.id, prerequisites)
            audit.record(
                session, ctx, "course.created", "Course", course.id, detail=_detail(fields, prerequisites)
            )
    except ProblemError as refused:
        return refused.problems
    return course


async def update_course(ctx: Context, course_global_id: str, fields: CourseFields) -> Course | list[Problem]:
    user = require_staff(ctx)
    fields = _normalized(fields)
    problems = _field_problems(fields)
    try:
        async with ctx.writer.begin() as session:
            course = await own_row(
                session, Course, course_global_id, "Course", user.school_id, ("input", "courseId")
            )
            prerequisites = None
            if fields.prerequisite_ids is not None:
                # One change of the school's prerequisite graph at a time, so that two changes
                # cannot each close half of a cycle (NO KEY UPDATE: rows referring to the school
                # are not blocked).
                await session.execute(
                    select(School.id).where(School.id == user.school_id).with_for_update(key_share=True)
                )
                prerequisites = await _prerequisites(
                    session, fields.prerequisite_ids, user.school_id, problems
                )
                if await _makes_cycle(session, user.school_id, course.id, prerequisites):
                    message = "These prerequisites would make a cycle: a course would come before itself."
                    problems.append(Problem(message, "INVALID", ("input", "prerequisiteIds")))
            if fields.code is not None and await _code_taken(session, user.school_id, fields.code, course.id):
                problems.append(_conflict())
            if problems:
                raise ProblemError(*problems)
            if fields.code is not None:
                course.code = fields.code
            if fields.title is not None:
                course.title = fields.title
            if fields.credits is not None:
                course.credits = Decimal(str(fields.credits))
            if fields.description_given:
                course.description = fields.description
            await flush_or_refuse(session, _conflict())
            if prerequisites is not None:
                await _replace_prerequisites(session, course.id, prerequisites)
            audit.record(
                session, ctx, "course.updated", "Course", course.id, detail=_detail(fields, prerequisites)
            )
    except ProblemError as refused:
        return refused.problems
    return course


def _normalized(fields: CourseFields) -> CourseFields:
    description = fields.description.strip() or None if fields.description is not None else None
    return CourseFields(
        code=fields.code.strip() if fields.code is not None else None,
        title=fields.title.strip() if fields.title is not None else None,
        credits=fields.credits,
        description=description,
        description_given=fields.description_given,
        prerequisite_ids=fields.prerequisite_ids,
    )


def _field_problems(fields: CourseFields) -> list[Problem]:
    problems = []
    if fields.code is not None and not 0 < len(fields.code) <= 32:
        problems.append(Problem("A code of 1 to 32 characters.", "INVALID", ("input", "code")))
    if fields.title is not None and not 0 < len(fields.title) <= 200:
        problems.append(Problem("A title of 1 to 200 characters.", "INVALID", ("input", "title")))
    if fields.credits is not None and not (
        math.isfinite(fields.credits) and 0 <= fields.credits <= MAX_CREDITS
    ):
        message = f"Credits from 0 to {MAX_CREDITS:g}."
        problems.append(Problem(message, "INVALID", ("input", "credits")))
    if fields.description is not None and len(fields.description) > 2000:
        problems.append(
            Problem("A description of at most 2000 characters.", "INVALID", ("input", "description"))
        )
    if fields.prerequisite_ids is not None and len(fields.prerequisite_ids) > MAX_PREREQUISITES:
        message = f"At most {MAX_PREREQUISITES} prerequisites."
        problems.append(Problem(message, "INVALID", ("input", "prerequisiteIds")))
    return problems


def _conflict() -> Problem:
    return Problem("This code is used by another course of the school.", "CONFLICT", ("input", "code"))


async def _code_taken(session: AsyncSession, school_id: int, code: str, course_id: int | None) -> bool:
    query = select(Course.id).where(Course.school_id == school_id, Course.code == code)
    if course_id is not None:
        query = query.where(Course.id != course_id)
    return await session.scalar(query.limit(1)) is not None


async def _prerequisites(
    session: AsyncSession, global_ids: list[str], school_id: int, problems: list[Problem]
) -> list[int]:
    """The courses' ids, once each; one unknown or of another school is NOT_FOUND at its index."""
    pks = [decode_or_none(global_id, "Course") for global_id in global_ids]
    wanted = [pk for pk in pks if pk is not None]
    found = set(
        await session.scalars(select(Course.id).where(Course.id.in_(wanted), Course.school_id == school_id))
    )
    for index, pk in enumerate(pks):
        if pk not in found:
            problems.append(not_found(("input", "prerequisiteIds", index), "course"))
    return list(dict.fromkeys(pk for pk in pks if pk in found))


async def _makes_cycle(
    session: AsyncSession, school_id: int, course_id: int, prerequisites: list[int]
) -> bool:
    """Whether the course would come before itself: it is reachable from a new prerequisite
    through the school's other prerequisite links (its own are being replaced)."""
    links = await session.execute(
        select(CoursePrerequisite.course_id, CoursePrerequisite.prerequisite_id)
        .join(Course, Course.id == CoursePrerequisite.course_id)
        .where(Course.school_id == school_id, CoursePrerequisite.course_id != course_id)
    )
    before: defaultdict[int, list[int]] = defaultdict(list)
    for course, prerequisite in links:
        before[course].append(prerequisite)
    seen: set[int] = set()
    stack = list(prerequisites)
    while stack:
        current = stack.pop()
        if current == course_id:
            return True
        if current not in seen:
            seen.add(current)
            stack.extend(before[current])
    return False


async def _replace_prerequisites(session: AsyncSession, course_id: int, prerequisites: list[int]) -> None:
    await session.execute(delete(CoursePrerequisite).where(CoursePrerequisite.course_id == course_id))
    if prerequisites:
        await session.execute(
            insert(CoursePrerequisite),
            [{"course_id": course_id, "prerequisite_id": prerequisite} for prerequisite in prerequisites],
        )


def _detail(fields: CourseFields, prerequisites: list[int] | None) -> dict[str, Any]:
    detail: dict[str, Any] = {
        name: value
        for name, value in (("code", fields.code), ("title", fields.title), ("credits", fields.credits))
        if value is not None
    }
    if fields.description_given:
        detail["description"] = fields.description
    if prerequisites is not None:
        detail["prerequisiteIds"] = prerequisites
    return detail
