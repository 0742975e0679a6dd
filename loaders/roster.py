"""Roster reads: keyset pages of classes and enrollments for many owners at once (a course's
or a teacher's classes; a class's enrollments), enrolled counts, meeting times and
enrollment history, and the keyset page of one list that the root queries share.

Pages are in keyset order (sort value, id): a row inserted between two pages is neither
repeated nor skipped. Text is ordered case-folded and by code point on both databases, so
SQLite and PostgreSQL answer with the same pages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, func, literal, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute, aliased

from loaders.base import RowsByKeyLoader, SessionLoader
from models import Class, ClassTeacher, Enrollment, EnrollmentChange, MeetingTime, User
from models.base import Base
from models.enums import EnrollmentStatus

M = TypeVar("M", bound=Base)
T = TypeVar("T")
AnySelect = Select[*tuple[Any, ...]]
Position = tuple[Any, int]  # (sort value, row id): where a row stands in its list's order
# The rows of some owners in one scope, as select(Entity, owner.label("owner"), sort.label("sort")).
OwnedRows = Callable[[Sequence[int], Any, bool], AnySelect]


@dataclass(frozen=True)
class RowPage(Generic[T]):
    rows: list[T]
    positions: list[Position]
    total_count: int
    has_next_page: bool


@dataclass(frozen=True)
class PageKey:
    """One owner's page: `first` rows after `after` (the position of the page before's last
    row), of the rows in `scope` (the loader's filter: a term id, a tuple of statuses)."""

    owner: int
    first: int
    after: Position | None = None
    scope: Hashable = None


def text_order(column: SQLColumnExpression[str], *, postgres: bool) -> ColumnElement[str]:
    """Case-folded text in code point order: PostgreSQL's default collation would sort by
    locale, SQLite's sorts by code point."""
    folded = func.lower(column)
    return folded.collate("C") if postgres else folded


def _after(position: ColumnElement[Any], mark: Position, *, descending: bool) -> ColumnElement[bool]:
    marked = tuple_(literal(mark[0]), literal(mark[1]))
    return position < marked if descending else position > marked


async def keyset_page(
    session: AsyncSession,
    query: AnySelect,
    sort: SQLColumnExpression[Any],
    row_id: SQLColumnExpression[int],
    *,
    first: int,
    after: Position | None,
    descending: bool = False,
) -> RowPage[Any]:
    """One page of `query`'s rows (one entity each) and the count of them all: two statements."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    paged = query.add_columns(sort.label("sort_value"), row_id.label("row_id"))
    if after is not None:
        paged = paged.where(_after(tuple_(sort, row_id), after, descending=descending))
    order = [sort.desc(), row_id.desc()] if descending else [sort.asc(), row_id.asc()]
    found = (await session.execute(paged.order_by(*order).limit(first + 1))).all()
    return RowPage(
        rows=[row[0] for row in found[:first]],
        positions=[(row.sort_value, row.row_id) for row in found[:first]],
        total_count=total or 0,
        has_next_page=len(found) > first,
    )


class PagesByOwnerLoader(SessionLoader[PageKey, RowPage[M]], Generic[M]):
    """Pages of many owners' rows: per scope, one statement counts every owner's rows and one
    reads every owner's page (a window function numbers each owner's rows), however many owners
    a tick asks for. An owner asked for twice in a tick with different cursors or page sizes
    (aliases) takes another statement."""

    def __init__(
        self, session_factory: async_sessionmaker[AsyncSession], entity: type[M], rows: OwnedRows
    ) -> None:
        super().__init__(session_factory)
        self._entity = entity
        self._rows = rows

    async def batch_load_fn(self, keys: Sequence[PageKey]) -> list[RowPage[M]]:
        by_scope: defaultdict[Hashable, list[PageKey]] = defaultdict(list)
        for key in keys:
            by_scope[key.scope].append(key)
        pages: dict[PageKey, RowPage[M]] = {}
        async with self._session_factory() as session:
            assert session.bind is not None
            postgres = session.bind.dialect.name == "postgresql"
            for scope, scoped in by_scope.items():
                source = self._rows(sorted({key.owner for key in scoped}), scope, postgres).subquery()
                counted = select(source.c.owner, func.count()).group_by(source.c.owner)
                counts: dict[int, int] = dict((await session.execute(counted)).all())
                for batch in _batches(scoped):
                    pages |= await self._pages(session, source, batch, counts)
        return [pages[key] for key in keys]

    async def _pages(
        self, session: AsyncSession, source: Any, batch: list[PageKey], counts: dict[int, int]
    ) -> dict[PageKey, RowPage[M]]:
        position = tuple_(source.c.sort, source.c.id)
        plain = [key.owner for key in batch if key.after is None]
        wanted = [source.c.owner.in_(plain)] if plain else []
        wanted += [
            and_(source.c.owner == key.owner, _after(position, key.after, descending=False))
            for key in batch
            if key.after is not None
        ]
        number = func.row_number().over(partition_by=source.c.owner, order_by=(source.c.sort, source.c.id))
        ranked = select(source, number.label("rn")).where(or_(*wanted)).subquery()
        first = batch[0].first
        query = (
            select(aliased(self._entity, ranked), ranked.c.owner, ranked.c.sort, ranked.c.id)
            .where(ranked.c.rn <= first + 1)
            .order_by(ranked.c.owner, ranked.c.rn)
        )
        found: defaultdict[int, list[Any]] = defaultdict(list)
        for row in (await session.execute(query)).all():
            found[row.owner].append(row)
        return {
            key: RowPage(
                rows=[row[0] for row in found[key.owner][:first]],
                positions=[(row.sort, row.id) for row in found[key.owner][:first]],
                total_count=counts.get(key.owner, 0),
                has_next_page=len(found[key.owner]) > first,
            )
            for key in batch
        }


def _batches(keys: list[PageKey]) -> list[list[PageKey]]:
    """Keys with one page size and each owner once: one window query each."""
    batches: list[list[PageKey]] = []
    for key in keys:
        for batch in batches:
            if batch[0].first == key.first and all(other.owner != key.owner for other in batch):
                batch.append(key)
                break
        else:
            batches.append([key])
    return batches


def _classes(owner: InstrumentedAttribute[int], *, taught: bool = False) -> OwnedRows:
    """Classes by title of each owner (a teacher's when `taught`: co-taught too), of one term
    when the scope is a term id."""

    def rows(owners: Sequence[int], term_id: Any, postgres: bool) -> AnySelect:
        query = select(Class, owner.label("owner"), text_order(Class.title, postgres=postgres).label("sort"))
        if taught:
            query = query.join(ClassTeacher, ClassTeacher.class_id == Class.id)
        query = query.where(owner.in_(owners))
        return query.where(Class.term_id == term_id) if term_id is not None else query

    return rows


def _enrollments(owners: Sequence[int], statuses: Any, postgres: bool) -> AnySelect:
    """A class's enrollments by the student's name, of some statuses when the scope names them."""
    query = (
        select(
            Enrollment,
            Enrollment.class_id.label("owner"),
            text_order(User.name, postgres=postgres).label("sort"),
        )
        .join(User, User.id == Enrollment.student_id)
        .where(Enrollment.class_id.in_(owners))
    )
    return query.where(Enrollment.status.in_(statuses)) if statuses else query


class EnrolledCountLoader(SessionLoader[int, int]):
    """A class's ACTIVE enrollments."""

    async def batch_load_fn(self, keys: Sequence[int]) -> list[int]:
        query = (
            select(Enrollment.class_id, func.count())
            .where(Enrollment.class_id.in_(keys), Enrollment.status == EnrollmentStatus.ACTIVE)
            .group_by(Enrollment.class_id)
        )
        async with self._session_factory() as session:
            counts = dict((await session.execute(query)).all())
        return [counts.get(key, 0) for key in keys]


class EnrollmentByClassStudentLoader(SessionLoader[tuple[int, int], Enrollment | None]):
    """The enrollment of a student (second) in a class (first), whatever its status."""

    async def batch_load_fn(self, keys: Sequence[tuple[int, int]]) -> list[Enrollment | None]:
        query = select(Enrollment).where(tuple_(Enrollment.class_id, Enrollment.student_id).in_(list(keys)))
        async with self._session_factory() as session:
            rows = (await session.scalars(query)).all()
        found = {(row.class_id, row.student_id): row for row in rows}
        return [found.get(key) for key in keys]


class RosterLoaders:
    """The catalog's loaders (`ctx.loaders.roster`)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.class_pages_by_course = PagesByOwnerLoader(session_factory, Class, _classes(Class.course_id))
        self.class_pages_by_teacher = PagesByOwnerLoader(
            session_factory, Class, _classes(ClassTeacher.teacher_id, taught=True)
        )
        self.enrollment_pages_by_class = PagesByOwnerLoader(session_factory, Enrollment, _enrollments)
        self.enrolled_count_by_class = EnrolledCountLoader(session_factory)
        self.enrollment_by_class_student = EnrollmentByClassStudentLoader(session_factory)
        self.meeting_times_by_class: RowsByKeyLoader[int, MeetingTime] = RowsByKeyLoader(
            session_factory,
            MeetingTime.class_id,
            order_by=[MeetingTime.weekday, MeetingTime.starts_at, MeetingTime.id],
        )
        self.history_by_enrollment: RowsByKeyLoader[int, EnrollmentChange] = RowsByKeyLoader(
            session_factory,
            EnrollmentChange.enrollment_id,
            order_by=[EnrollmentChange.changed_at, EnrollmentChange.id],
        )
