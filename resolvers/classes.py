"""Classes (sections of a course in a term): the list and one class, the pages of a course's
or a teacher's classes, the teachers list, and createClass/updateClass.

Staff, admins and teachers list the school's classes; students their own (active or
completed), guardians their wards'. One class is visible to every member of its school; its
roster is not (see `resolvers.enrollments`). Another school's class is answered like a
missing one. A class search forgives a typo in a word of five letters or more, closest first
(resolvers/text_search.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, time
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import BadInput, Forbidden, Problem, ProblemError
from loaders.roster import PageKey, PagesByOwnerLoader, Position, RowPage, keyset_page, text_order
from models import Class, ClassTeacher, Course, Enrollment, GuardianLink, MeetingTime, Term, User
from models.enums import EnrollmentStatus, Role
from resolvers import audit, text_search
from resolvers.after_commit import teacher_dashboards_changed
from resolvers.ids import decode_id_of
from resolvers.pagination import Page, cursor_key, decode_cursor, encode_cursor, page_size
from resolvers.policy import SCHOOL_WIDE_ROLES, require_same_school, require_user
from resolvers.roster_rules import decode_or_none, not_found, own_row, require_open, require_staff
from resolvers.text_search import Ranked
from subscriptions.channels import gradebook_channel
from subscriptions.events import ClassTeachersChanged

if TYPE_CHECKING:
    from auth.identity import CurrentUser
    from context import Context

R = TypeVar("R")
MAX_TEACHERS = 10
MAX_MEETINGS = 20
LISTING_ROLES = SCHOOL_WIDE_ROLES | {Role.TEACHER}
SEEN_ENROLLMENTS = (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED)


@dataclass(frozen=True)
class ClassListFilter:
    term_id: int | None = None
    course_id: int | None = None
    teacher_id: int | None = None
    text: str | None = None


@dataclass(frozen=True)
class ListOrder:
    field: str  # classes: TITLE | COURSE_CODE | TERM_START; courses: CODE | TITLE
    descending: bool = False


@dataclass(frozen=True)
class Meeting:
    weekday: int  # 0 = Monday
    starts_at: time
    ends_at: time


@dataclass(frozen=True)
class ClassFields:
    """What createClass sets, and updateClass where given (None: unchanged; `room_given` and
    `capacity_given`: a null room or capacity clears it, the latter meaning no limit)."""

    title: str | None = None
    room: str | None = None
    room_given: bool = False
    capacity: int | None = None
    capacity_given: bool = False
    teacher_ids: list[str] | None = None
    meetings: list[Meeting] | None = None


# ---------------------------------------------------------------- pages and search


def encode_position(position: Position) -> str:
    value, row_id = position
    return encode_cursor(json.dumps([value.isoformat() if isinstance(value, date) else value, row_id]))


def decode_position(after: str | None, *, dated: bool = False) -> Position | None:
    """The position in a cursor of ours; its value is text, or a date for `dated` orders
    (PostgreSQL compares a column only with a value of its type)."""
    if after is None:
        return None
    try:
        value, row_id = json.loads(decode_cursor(after))
        if dated:
            value = date.fromisoformat(value)
    except (ValueError, TypeError) as error:
        raise BadInput("Not a valid cursor.") from error
    if not isinstance(value, date if dated else str):
        raise BadInput("Not a valid cursor.")
    return value, cursor_key(row_id)


def page_of(found: RowPage[R]) -> Page[R]:
    cursors = [encode_position(position) for position in found.positions]
    return Page(found.rows, cursors, found.total_count, found.has_next_page)


def search_words(text: str | None) -> tuple[str, ...]:
    """The words of an exact search (teachers, courses): those of every search, text_search's."""
    return text_search.search_words(text)


def contains(column: Any, word: str) -> ColumnElement[bool]:
    """`word` (lower case) as a case-insensitive substring of `column`, the same on both databases."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    condition: ColumnElement[bool] = func.lower(column).like(f"%{escaped}%", escape="\\")
    return condition


# What a class search looks in (the query joins Course), exactly and, for long words, closely.
SEARCHED = (Class.title, Class.room, Course.code)


def class_search_condition(words: Sequence[str]) -> ColumnElement[bool] | None:
    """The classes a search may find: every word in the title, room or course code, or one typo
    away from a word of them. For words of 5+ letters it lets in near misses too, which
    `text_search.closeness` then decides on (see `_closest`)."""
    return text_search.candidates(words, exact=SEARCHED, fuzzy=SEARCHED) if words else None


def _visible_classes(user: CurrentUser) -> ColumnElement[bool] | None:
    """The school's classes the caller lists: None means all of them."""
    if user.role in LISTING_ROLES:
        return None
    if user.role == Role.STUDENT:
        return Class.id.in_(
            select(Enrollment.class_id).where(
                Enrollment.student_id == user.id, Enrollment.status.in_(SEEN_ENROLLMENTS)
            )
        )
    if user.role == Role.GUARDIAN:
        return Class.id.in_(
            select(Enrollment.class_id)
            .join(GuardianLink, GuardianLink.student_id == Enrollment.student_id)
            .where(GuardianLink.guardian_id == user.id, Enrollment.status.in_(SEEN_ENROLLMENTS))
        )
    raise Forbidden("Staff, teachers, students and guardians list classes.")


async def classes(
    ctx: Context, class_filter: ClassListFilter, order: ListOrder, first: int | None, after: str | None
) -> Page[Class]:
    user = require_user(ctx)
    limit = page_size(first, ctx.settings.max_page_size)
    query = (
        select(Class)
        .join(Course, Course.id == Class.course_id)
        .join(Term, Term.id == Class.term_id)
        .where(Class.school_id == user.school_id)
    )
    f = class_filter
    words = text_search.search_words(f.text)
    conditions = [_visible_classes(user), class_search_condition(words)]
    if f.term_id is not None:
        conditions.append(Class.term_id == f.term_id)
    if f.course_id is not None:
        conditions.append(Class.course_id == f.course_id)
    if f.teacher_id is not None:
        conditions.append(
            Class.id.in_(select(ClassTeacher.class_id).where(ClassTeacher.teacher_id == f.teacher_id))
        )
    query = query.where(*(condition for condition in conditions if condition is not None))
    if text_search.is_fuzzy(words):
        return await _closest(ctx, query, words, order, limit, after)
    postgres = not ctx.settings.is_sqlite
    sort: SQLColumnExpression[Any] = {
        "TITLE": text_order(Class.title, postgres=postgres),
        "COURSE_CODE": text_order(Course.code, postgres=postgres),
        "TERM_START": Term.starts_on,
    }[order.field]
    mark = decode_position(after, dated=order.field == "TERM_START")
    async with ctx.session_factory() as session:
        found = await keyset_page(
            session, query, sort, Class.id, first=limit, after=mark, descending=order.descending
        )
    for row in found.rows:
        ctx.loaders.class_by_id.prime(row.id, row)
    return page_of(found)


async def _closest(
    ctx: Context, query: Select[Class], words: Sequence[str], order: ListOrder, limit: int, after: str | None
) -> Page[Class]:
    """A search that forgives typos, in two statements however many classes match: the database
    narrows to candidates (`class_search_condition`; at most the classes the caller lists, five
    columns of each), text_search scores, ranks and pages them in Python, so that both databases
    give the same pages, and the page's classes are read by id."""
    candidates = query.with_only_columns(Class.id, Class.title, Class.room, Course.code, Term.starts_on)
    async with ctx.session_factory() as session:
        ranked = []
        for class_id, title, room, code, starts_on in (await session.execute(candidates)).all():
            fields = (title, room or "", code)
            close = text_search.closeness(words, fields, fields)
            if close is not None:
                by = {
                    "TITLE": title.lower(),
                    "COURSE_CODE": code.lower(),
                    "TERM_START": starts_on.isoformat(),
                }
                ranked.append(Ranked(class_id, close, by[order.field], class_id))
        page = text_search.rank_page(ranked, descending=order.descending, first=limit, after=after)
        ids = [entry.id for entry in page.entries]
        rows = {row.id: row for row in await session.scalars(select(Class).where(Class.id.in_(ids)))}
    shown = [
        (rows[entry.id], cursor)
        for entry, cursor in zip(page.entries, page.cursors, strict=True)
        if entry.id in rows  # not deleted in between
    ]
    for row, _ in shown:
        ctx.loaders.class_by_id.prime(row.id, row)
    return Page([row for row, _ in shown], [cursor for _, cursor in shown], len(ranked), page.has_next_page)


async def get_class(ctx: Context, global_id: str) -> Class:
    user = require_user(ctx)
    klass = await ctx.loaders.class_by_id.load(decode_id_of(global_id, "Class"))
    require_same_school(user, klass.school_id if klass else None)
    assert klass is not None
    return klass


async def class_page(
    ctx: Context,
    loader: PagesByOwnerLoader[Class],
    owner: int,
    term_global_id: str | None,
    first: int | None,
    after: str | None,
) -> Page[Class]:
    """One page of a course's or a teacher's classes (by `loader`), by title; of one term when
    `term_global_id` is given."""
    term_id = decode_id_of(term_global_id, "Term") if term_global_id else None
    limit = page_size(first, ctx.settings.max_page_size)
    return page_of(await loader.load(PageKey(owner, limit, decode_position(after), term_id)))


async def teachers(
    ctx: Context, text: str | None, term_global_id: str | None, first: int | None, after: str | None
) -> Page[User]:
    """The school's teachers by name (words of the name or email); with a term, those who
    teach in it (co-teaching too). Staff, admins and teachers."""
    user = require_user(ctx)
    if user.role not in LISTING_ROLES:
        raise Forbidden("Staff, admins and teachers list the school's teachers.")
    query = select(User).where(User.school_id == user.school_id, User.role == Role.TEACHER)
    for word in search_words(text):
        query = query.where(or_(contains(User.name, word), contains(User.email, word)))
    if term_global_id:
        taught = (
            select(ClassTeacher.teacher_id)
            .join(Class, Class.id == ClassTeacher.class_id)
            .where(Class.term_id == decode_id_of(term_global_id, "Term"))
        )
        query = query.where(User.id.in_(taught))
    sort = text_order(User.name, postgres=not ctx.settings.is_sqlite)
    limit = page_size(first, ctx.settings.max_page_size)
    async with ctx.session_factory() as session:
        found = await keyset_page(session, query, sort, User.id, first=limit, after=decode_position(after))
    for row in found.rows:
        ctx.loaders.user_by_id.prime(row.id, row)
    return page_of(found)


# ---------------------------------------------------------------- writes


async def locked_class(
    session: AsyncSession, global_id: str, school_id: int, field: tuple[str, ...]
) -> Class:
    """The class an input names, locked until the transaction ends: its roster writes and
    capacity changes take turns (PostgreSQL; SQLite's writers take turns anyway). NO KEY
    UPDATE leaves rows that only refer to the class (attendance, grades) unblocked."""
    pk = decode_or_none(global_id, "Class")
    query = select(Class).where(Class.id == pk).with_for_update(key_share=True)
    klass = await session.scalar(query) if pk is not None else None
    if klass is None or klass.school_id != school_id:
        raise ProblemError(not_found(field, "class"))
    return klass


async def create_class(
    ctx: Context, course_global_id: str, term_global_id: str, fields: ClassFields
) -> Class | list[Problem]:
    user = require_staff(ctx)
    fields = _normalized(fields)
    problems = _field_problems(fields)
    try:
        async with ctx.writer.begin() as session:
            course = await _own_or_none(session, Course, course_global_id, user.school_id, problems)
            term = await _own_or_none(session, Term, term_global_id, user.school_id, problems)
            if term is not None:
                require_open(term, ("input", "termId"))
            teacher_ids = await _teachers(session, fields.teacher_ids or [], user.school_id, problems)
            if problems:
                raise ProblemError(*problems)
            assert course is not None
            assert term is not None
            assert fields.title is not None
            klass = Class(
                school_id=user.school_id,
                course_id=course.id,
                term_id=term.id,
                title=fields.title,
                room=fields.room,
                capacity=fields.capacity,
            )
            session.add(klass)
            await session.flush()
            await _replace_teachers(session, klass.id, teacher_ids)
            await _replace_meetings(session, klass.id, fields.meetings or [])
            audit.record(
                session, ctx, "class.created", "Class", klass.id, detail=_detail(fields, teacher_ids)
            )
    except ProblemError as refused:
        return refused.problems
    await teacher_dashboards_changed(ctx.app, teacher_ids=teacher_ids)
    return klass


async def update_class(ctx: Context, class_global_id: str, fields: ClassFields) -> Class | list[Problem]:
    """Given fields change; teachers and meeting times, when given, replace the lists. A
    teacher taken off the class loses its gradebook with the commit: gradebook access reads
    the class's teachers per request, and open gradebook subscriptions learn of the change
    (ClassTeachersChanged) and end for them."""
    user = require_staff(ctx)
    fields = _normalized(fields)
    problems = _field_problems(fields)
    try:
        async with ctx.writer.begin() as session:
            klass = await locked_class(session, class_global_id, user.school_id, ("input", "classId"))
            term = await session.get(Term, klass.term_id)
            assert term is not None
            require_open(term)
            teacher_ids = None
            if fields.teacher_ids is not None:
                teacher_ids = await _teachers(session, fields.teacher_ids, user.school_id, problems)
            if fields.capacity is not None:
                enrolled = await session.scalar(
                    select(func.count()).where(
                        Enrollment.class_id == klass.id, Enrollment.status == EnrollmentStatus.ACTIVE
                    )
                )
                if fields.capacity < (enrolled or 0):
                    message = f"{enrolled} students are enrolled: the capacity cannot be below that."
                    problems.append(Problem(message, "INVALID", ("input", "capacity")))
            if problems:
                raise ProblemError(*problems)
            former = set(
                await session.scalars(
                    select(ClassTeacher.teacher_id).where(ClassTeacher.class_id == klass.id)
                )
            )
            if fields.title is not None:
                klass.title = fields.title
            if fields.room_given:
                klass.room = fields.room
            if fields.capacity_given:
                klass.capacity = fields.capacity
            if teacher_ids is not None:
                await _replace_teachers(session, klass.id, teacher_ids)
            if fields.meetings is not None:
                await _replace_meetings(session, klass.id, fields.meetings)
            audit.record(
                session, ctx, "class.updated", "Class", klass.id, detail=_detail(fields, teacher_ids)
            )
    except ProblemError as refused:
        return refused.problems
    if teacher_ids is not None and set(teacher_ids) != former:
        # Their open gradebooks, on every process, end for those taken off (resolvers.live_grading).
        changed = ClassTeachersChanged(class_id=klass.id, teacher_ids=tuple(teacher_ids))
        await ctx.bus.publish(gradebook_channel(klass.id), changed)
    await teacher_dashboards_changed(ctx.app, teacher_ids=former | set(teacher_ids or ()))
    return klass


def _normalized(fields: ClassFields) -> ClassFields:
    title = fields.title.strip() if fields.title is not None else None
    room = (fields.room.strip() or None) if fields.room is not None else None
    return replace(fields, title=title, room=room)


def _field_problems(fields: ClassFields) -> list[Problem]:
    problems = []
    if fields.title is not None and not 0 < len(fields.title) <= 200:
        problems.append(Problem("A title of 1 to 200 characters.", "INVALID", ("input", "title")))
    if fields.room is not None and len(fields.room) > 40:
        problems.append(Problem("A room of at most 40 characters.", "INVALID", ("input", "room")))
    if fields.capacity is not None and fields.capacity < 1:
        problems.append(
            Problem("A capacity of at least 1 (null: no limit).", "INVALID", ("input", "capacity"))
        )
    if fields.teacher_ids is not None and not 0 < len(fields.teacher_ids) <= MAX_TEACHERS:
        message = f"A class has 1 to {MAX_TEACHERS} teachers."
        problems.append(Problem(message, "INVALID", ("input", "teacherIds")))
    meetings = fields.meetings or []
    if len(meetings) > MAX_MEETINGS:
        message = f"At most {MAX_MEETINGS} meeting times."
        problems.append(Problem(message, "INVALID", ("input", "meetingTimes")))
    for index, meeting in enumerate(meetings):
        if meeting.ends_at <= meeting.starts_at:
            field = ("input", "meetingTimes", str(index))
            problems.append(Problem("A meeting ends after it starts.", "INVALID", field))
    return problems


async def _own_or_none(
    session: AsyncSession,
    model: type[Course] | type[Term],
    global_id: str,
    school_id: int,
    problems: list[Problem],
) -> Any:
    """own_row, its NOT_FOUND added to `problems` (so that every problem is reported at once)."""
    type_name = model.__name__
    try:
        return await own_row(
            session, model, global_id, type_name, school_id, ("input", f"{type_name.lower()}Id")
        )
    except ProblemError as missing:
        problems.extend(missing.problems)
        return None


async def _teachers(
    session: AsyncSession, global_ids: list[str], school_id: int, problems: list[Problem]
) -> list[int]:
    """The teachers' user ids, in order, once each (the first is the primary teacher); one not a
    teacher of the school is NOT_FOUND at its index."""
    pks = [decode_or_none(global_id, "Teacher") for global_id in global_ids]
    found = set(
        await session.scalars(
            select(User.id).where(
                User.id.in_([pk for pk in pks if pk is not None]),
                User.school_id == school_id,
                User.role == Role.TEACHER,
            )
        )
    )
    for index, pk in enumerate(pks):
        if pk not in found:
            problems.append(not_found(("input", "teacherIds", index), "teacher"))
    return list(dict.fromkeys(pk for pk in pks if pk in found))


async def _replace_teachers(session: AsyncSession, class_id: int, teacher_ids: list[int]) -> None:
    await session.execute(delete(ClassTeacher).where(ClassTeacher.class_id == class_id))
    await session.execute(
        insert(ClassTeacher),
        [
            {"class_id": class_id, "teacher_id": teacher_id, "is_primary": index == 0}
            for index, teacher_id in enumerate(teacher_ids)
        ],
    )


async def _replace_meetings(session: AsyncSession, class_id: int, meetings: list[Meeting]) -> None:
    await session.execute(delete(MeetingTime).where(MeetingTime.class_id == class_id))
    if meetings:
        await session.execute(
            insert(MeetingTime),
            [
                {"class_id": class_id, "weekday": m.weekday, "starts_at": m.starts_at, "ends_at": m.ends_at}
                for m in meetings
            ],
        )


def _detail(fields: ClassFields, teacher_ids: list[int] | None) -> dict[str, Any]:
    detail: dict[str, Any] = {}
    if fields.title is not None:
        detail["title"] = fields.title
    if fields.room_given:
        detail["room"] = fields.room
    if fields.capacity_given:
        detail["capacity"] = fields.capacity
    if teacher_ids is not None:
        detail["teacherIds"] = teacher_ids
    if fields.meetings is not None:
        detail["meetingTimes"] = [
            [m.weekday, m.starts_at.isoformat(), m.ends_at.isoformat()] for m in fields.meetings
        ]
    return detail
