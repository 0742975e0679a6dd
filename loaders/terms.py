"""Batched reads about terms: terms by id, their grading periods, a page of each term's classes,
the enrollments a transcript lists, and the final grades frozen when a term closed.

`TermClassesLoader` answers `Term.classes(first, after)` for every term of a list at once: one
grouped count and one windowed page query per distinct page request, however many terms the
list holds (a list's terms ask the same `first`/`after`, so that is one pair per tick).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from loaders.base import RowByKeyLoader, RowsByKeyLoader, SessionLoader
from models import Class, Enrollment, FinalGrade, GradingPeriod, Term
from models.enums import EnrollmentStatus

ClassStudent = tuple[int, int]  # (class id, student id)
LISTED_ENROLLMENTS = (EnrollmentStatus.ACTIVE, EnrollmentStatus.COMPLETED)


class TermByIdLoader(RowByKeyLoader[int, Term]):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(session_factory, Term.id)


class GradingPeriodsByTermLoader(RowsByKeyLoader[int, GradingPeriod]):
    """A term's grading periods, first first."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(
            session_factory, GradingPeriod.term_id, order_by=[GradingPeriod.starts_on, GradingPeriod.id]
        )


class TranscriptEnrollmentsLoader(RowsByKeyLoader[int, Enrollment]):
    """A student's enrollments that a transcript shows: ACTIVE and COMPLETED (not DROPPED)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(
            session_factory,
            Enrollment.student_id,
            order_by=[Enrollment.class_id],
            where=[Enrollment.status.in_(LISTED_ENROLLMENTS)],
        )


@dataclass(frozen=True)
class TermClassesKey:
    """A page of a term's classes in id order: `first` of them after the class `after_id`.
    `student_ids` narrows the classes to those these students take or completed (what a student
    or guardian may list; a dropped class is not theirs); None: every class of the term."""

    term_id: int
    first: int
    after_id: int | None = None
    student_ids: frozenset[int] | None = None


@dataclass(frozen=True)
class ClassPage:
    rows: list[Class]
    total_count: int
    has_next_page: bool


class TermClassesLoader(SessionLoader[TermClassesKey, ClassPage]):
    async def batch_load_fn(self, keys: Sequence[TermClassesKey]) -> list[ClassPage]:
        requests: defaultdict[tuple[int, int | None, frozenset[int] | None], set[int]] = defaultdict(set)
        for key in keys:
            requests[(key.first, key.after_id, key.student_ids)].add(key.term_id)
        pages: dict[TermClassesKey, ClassPage] = {}
        async with self._session_factory() as session:
            for (first, after_id, student_ids), term_ids in requests.items():
                found = await _pages(session, sorted(term_ids), first, after_id, student_ids)
                for term_id, page in found.items():
                    pages[TermClassesKey(term_id, first, after_id, student_ids)] = page
        return [pages[key] for key in keys]


async def _pages(
    session: AsyncSession,
    term_ids: list[int],
    first: int,
    after_id: int | None,
    student_ids: frozenset[int] | None,
) -> dict[int, ClassPage]:
    scope: list[ColumnElement[bool]] = [Class.term_id.in_(term_ids)]
    if student_ids is not None:
        enrolled = select(Enrollment.class_id).where(
            Enrollment.student_id.in_(sorted(student_ids)), Enrollment.status.in_(LISTED_ENROLLMENTS)
        )
        scope.append(Class.id.in_(enrolled))
    counts = dict(
        (
            await session.execute(select(Class.term_id, func.count()).where(*scope).group_by(Class.term_id))
        ).all()
    )
    rows: defaultdict[int, list[Class]] = defaultdict(list)
    if first > 0 and counts:
        after = [Class.id > after_id] if after_id is not None else []
        position = func.row_number().over(partition_by=Class.term_id, order_by=Class.id).label("position")
        ranked = select(Class, position).where(*scope, *after).subquery()
        ranked_class = aliased(Class, ranked)
        query = (
            select(ranked_class).where(ranked.c.position <= first + 1).order_by(ranked.c.term_id, ranked.c.id)
        )
        for row in (await session.scalars(query)).all():
            rows[row.term_id].append(row)
    return {
        term_id: ClassPage(
            rows=rows[term_id][:first],
            total_count=counts.get(term_id, 0),
            has_next_page=len(rows[term_id]) > first,
        )
        for term_id in term_ids
    }


class FinalGradeLoader(SessionLoader[ClassStudent, FinalGrade | None]):
    """The final grade stored for a student in a class (by `closeTerm` or `calculateFinalGrades`)."""

    async def batch_load_fn(self, keys: Sequence[ClassStudent]) -> list[FinalGrade | None]:
        query = select(FinalGrade).where(tuple_(FinalGrade.class_id, FinalGrade.student_id).in_(list(keys)))
        async with self._session_factory() as session:
            rows = (await session.scalars(query)).all()
        found = {(row.class_id, row.student_id): row for row in rows}
        return [found.get(key) for key in keys]
