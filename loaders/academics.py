"""Batched reads behind student profiles and class pages: assignments, category weights, a
student's grades in a class, current grades, attendance rates, academic records.

Archived assignments are out of every read here (they have left the gradebook; their grades
are kept)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loaders.base import RowByKeyLoader, RowsByKeyLoader, SessionLoader
from loaders.signals import category_weights
from models import (
    Assignment,
    AttendanceRecord,
    CategoryWeight,
    Class,
    Course,
    Enrollment,
    FinalGrade,
    Grade,
)
from models.enums import AttendanceStatus, EnrollmentStatus
from models.grade_math import Column, Mark, current_percentage

ClassStudent = tuple[int, int]  # (class id, student id)
# A class's assignments in the gradebook's column order, the same on every database
# (PostgreSQL sorts NULL last, SQLite first): due date, undated ones last, then id.
ASSIGNMENT_ORDER = (Assignment.due_at.is_(None), Assignment.due_at, Assignment.id)
IN_GRADEBOOK = Assignment.archived_at.is_(None)


class AssignmentByIdLoader(RowByKeyLoader[int, Assignment]):
    """Any assignment, archived ones too (an event or a grade may name one)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(session_factory, Assignment.id)


class AssignmentsByClassLoader(RowsByKeyLoader[int, Assignment]):
    """A class's assignments in the gradebook (not archived), in column order."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(
            session_factory, Assignment.class_id, order_by=ASSIGNMENT_ORDER, where=[IN_GRADEBOOK]
        )


class CategoryWeightsByClassLoader(RowsByKeyLoader[int, CategoryWeight]):
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(session_factory, CategoryWeight.class_id, order_by=[CategoryWeight.category])


class GradesByClassStudentLoader(SessionLoader[ClassStudent, list[Grade]]):
    """A student's grades in a class, of the assignments in its gradebook."""

    async def batch_load_fn(self, keys: Sequence[ClassStudent]) -> list[list[Grade]]:
        query = (
            select(Assignment.class_id, Grade)
            .join(Grade, Grade.assignment_id == Assignment.id)
            .where(tuple_(Assignment.class_id, Grade.student_id).in_(list(keys)), IN_GRADEBOOK)
            .order_by(Grade.id)
        )
        async with self._session_factory() as session:
            rows = (await session.execute(query)).all()
        grades: defaultdict[ClassStudent, list[Grade]] = defaultdict(list)
        for class_id, grade in rows:
            grades[(class_id, grade.student_id)].append(grade)
        return [grades.get(key, []) for key in keys]


class CurrentPercentageLoader(SessionLoader[ClassStudent, float | None]):
    """A student's current weighted percentage in a class: graded work so far, by its status
    (models/grade_math.py `current_percentage`)."""

    async def batch_load_fn(self, keys: Sequence[ClassStudent]) -> list[float | None]:
        query = (
            select(
                Assignment.class_id, Grade.student_id, Assignment.category, Assignment.max_score,
                Grade.score, Grade.status, Grade.late_penalty,
            )
            .join(Grade, Grade.assignment_id == Assignment.id)
            .where(tuple_(Assignment.class_id, Grade.student_id).in_(list(keys)), IN_GRADEBOOK)
        )  # fmt: skip
        async with self._session_factory() as session:
            rows = (await session.execute(query)).all()
            weights = await category_weights(session, {class_id for class_id, _ in keys})
        cells: defaultdict[ClassStudent, list[tuple[Column, Mark]]] = defaultdict(list)
        for class_id, student_id, category, max_score, score, status, penalty in rows:
            cells[(class_id, student_id)].append(
                (Column(category, max_score, None), Mark(score, status, penalty))
            )
        return [current_percentage(cells.get(key, []), weights.get(key[0], {})) for key in keys]


class AttendanceRateLoader(SessionLoader[ClassStudent, float | None]):
    """Share of a student's class meetings attended (present or late); excused ones don't count."""

    async def batch_load_fn(self, keys: Sequence[ClassStudent]) -> list[float | None]:
        query = (
            select(
                AttendanceRecord.class_id, AttendanceRecord.student_id, AttendanceRecord.status, func.count()
            )
            .where(tuple_(AttendanceRecord.class_id, AttendanceRecord.student_id).in_(list(keys)))
            .group_by(AttendanceRecord.class_id, AttendanceRecord.student_id, AttendanceRecord.status)
        )
        async with self._session_factory() as session:
            rows = (await session.execute(query)).all()
        attended: defaultdict[ClassStudent, int] = defaultdict(int)
        counted: defaultdict[ClassStudent, int] = defaultdict(int)
        for class_id, student_id, status, count in rows:
            if status != AttendanceStatus.EXCUSED:
                counted[(class_id, student_id)] += count
            if status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE):
                attended[(class_id, student_id)] += count
        return [round(attended[key] / counted[key], 4) if counted.get(key) else None for key in keys]


@dataclass(frozen=True)
class AcademicRecord:
    """Completed classes with final grades: grade points weighted by course credits."""

    quality_points: float
    attempted_credits: float
    earned_credits: float

    @property
    def gpa(self) -> float | None:
        return round(self.quality_points / self.attempted_credits, 2) if self.attempted_credits else None


class AcademicRecordLoader(SessionLoader[int, AcademicRecord]):
    async def batch_load_fn(self, keys: Sequence[int]) -> list[AcademicRecord]:
        async with self._session_factory() as session:
            records = await academic_records(session, keys)
        return [records.get(key, EMPTY_RECORD) for key in keys]


async def academic_records(session: AsyncSession, student_ids: Sequence[int]) -> dict[int, AcademicRecord]:
    """The records of the students who have completed graded classes."""
    query = (
        select(FinalGrade.student_id, FinalGrade.grade_points, Course.credits)
        .join(Class, Class.id == FinalGrade.class_id)
        .join(Course, Course.id == Class.course_id)
        .join(
            Enrollment,
            and_(Enrollment.class_id == FinalGrade.class_id, Enrollment.student_id == FinalGrade.student_id),
        )
        .where(
            FinalGrade.student_id.in_(student_ids),
            FinalGrade.grade_points.is_not(None),
            Enrollment.status == EnrollmentStatus.COMPLETED,
        )
    )
    graded: defaultdict[int, list[tuple[float, Decimal]]] = defaultdict(list)
    for student_id, points, credits in (await session.execute(query)).all():
        if points is not None:
            graded[student_id].append((points, credits))
    return {student_id: _record(classes) for student_id, classes in graded.items()}


def _record(graded: list[tuple[float, Decimal]]) -> AcademicRecord:
    attempted = sum(float(credits) for _, credits in graded)
    earned = sum(float(credits) for points, credits in graded if points > 0)
    quality = sum(points * float(credits) for points, credits in graded)
    return AcademicRecord(quality_points=quality, attempted_credits=attempted, earned_credits=earned)


EMPTY_RECORD = AcademicRecord(quality_points=0.0, attempted_credits=0.0, earned_credits=0.0)
