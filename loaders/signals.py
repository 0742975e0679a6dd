"""The risk model's inputs for many students at once: a fixed number of grouped queries.

Grades count as the gradebook's rule has them (models/grade_math.py: EXCUSED work left out,
MISSING as zero, LATE less its penalty); archived assignments are left out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from statistics import mean

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from models import Assignment, AttendanceRecord, CategoryWeight, Enrollment, Grade, TutoringSession
from models.enums import AssignmentCategory, AttendanceStatus, EnrollmentStatus, GradeStatus, SessionStatus
from models.grade_math import Column, GradedWork, Mark, class_percentage, counted_work
from models.risk import Signals

MISSING_AFTER = timedelta(days=7)
SESSION_WINDOW = timedelta(days=90)
TREND_RECENT = 3  # the newest graded assignments, against all before them

Executor = AsyncSession | AsyncConnection
_active = Enrollment.status == EnrollmentStatus.ACTIVE
_in_gradebook = Assignment.archived_at.is_(None)


async def gather_signals(db: Executor, student_ids: Sequence[int], as_of: datetime) -> dict[int, Signals]:
    signals = {student_id: Signals() for student_id in student_ids}
    if not student_ids:
        return signals
    await _attendance(db, student_ids, signals)
    await _grades(db, student_ids, signals)
    await _missing_work(db, student_ids, as_of, signals)
    await _sessions(db, student_ids, as_of, signals)
    return signals


async def _attendance(db: Executor, ids: Sequence[int], signals: dict[int, Signals]) -> None:
    query = (
        select(AttendanceRecord.student_id, AttendanceRecord.status, func.count())
        .join(
            Enrollment,
            and_(
                Enrollment.class_id == AttendanceRecord.class_id,
                Enrollment.student_id == AttendanceRecord.student_id,
            ),
        )
        .where(AttendanceRecord.student_id.in_(ids), _active)
        .group_by(AttendanceRecord.student_id, AttendanceRecord.status)
    )
    for student_id, status, count in (await db.execute(query)).all():
        if status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE):
            signals[student_id].attended += count
        elif status == AttendanceStatus.ABSENT:
            signals[student_id].absent += count


async def _grades(db: Executor, ids: Sequence[int], signals: dict[int, Signals]) -> None:
    query = (
        select(
            Grade.student_id,
            Assignment.class_id,
            Assignment.category,
            Grade.score,
            Grade.status,
            Grade.late_penalty,
            Assignment.max_score,
            Assignment.due_at,
            Assignment.id,
        )
        .join(Assignment, Assignment.id == Grade.assignment_id)
        .join(
            Enrollment,
            and_(Enrollment.class_id == Assignment.class_id, Enrollment.student_id == Grade.student_id),
        )
        .where(
            Grade.student_id.in_(ids),
            or_(Grade.score.is_not(None), Grade.status == GradeStatus.MISSING),
            _active,
            _in_gradebook,
        )
    )
    rows = (await db.execute(query)).all()
    class_ids = {row.class_id for row in rows}
    weights = await category_weights(db, class_ids)
    work: defaultdict[tuple[int, int], list[GradedWork]] = defaultdict(list)
    timeline: defaultdict[int, list[tuple[datetime | None, int, float]]] = defaultdict(list)
    for row in rows:
        mark = Mark(row.score, row.status, row.late_penalty)
        counted = counted_work(Column(row.category, row.max_score, row.due_at), mark, ungraded_as_zero=False)
        if counted is None:
            continue
        work[(row.student_id, row.class_id)].append(counted)
        if row.max_score > 0:
            timeline[row.student_id].append((row.due_at, row.id, 100 * counted.score / row.max_score))
    per_student: defaultdict[int, list[float]] = defaultdict(list)
    for (student_id, class_id), items in work.items():
        percentage = class_percentage(items, weights.get(class_id, {}))
        if percentage is not None:
            per_student[student_id].append(percentage)
    for student_id, percentages in per_student.items():
        signals[student_id].average_grade = round(mean(percentages), 2)
    for student_id, graded in timeline.items():
        signals[student_id].graded_count = len(graded)
        ordered = [share for _, _, share in sorted(graded, key=lambda g: (g[0] is None, g[0], g[1]))]
        if len(ordered) >= 2 * TREND_RECENT:
            recent, earlier = ordered[-TREND_RECENT:], ordered[:-TREND_RECENT]
            signals[student_id].trend_points = round(mean(recent) - mean(earlier), 2)


async def category_weights(db: Executor, class_ids: set[int]) -> dict[int, dict[AssignmentCategory, float]]:
    weights: defaultdict[int, dict[AssignmentCategory, float]] = defaultdict(dict)
    if class_ids:
        query = select(CategoryWeight.class_id, CategoryWeight.category, CategoryWeight.weight).where(
            CategoryWeight.class_id.in_(class_ids)
        )
        for class_id, category, weight in (await db.execute(query)).all():
            weights[class_id][category] = weight
    return dict(weights)


async def _missing_work(
    db: Executor, ids: Sequence[int], as_of: datetime, signals: dict[int, Signals]
) -> None:
    query = (
        select(Enrollment.student_id, func.count())
        .join(Assignment, Assignment.class_id == Enrollment.class_id)
        .outerjoin(
            Grade, and_(Grade.assignment_id == Assignment.id, Grade.student_id == Enrollment.student_id)
        )
        .where(
            Enrollment.student_id.in_(ids),
            _active,
            _in_gradebook,
            Assignment.due_at < as_of - MISSING_AFTER,
            Grade.score.is_(None),
            or_(Grade.status.is_(None), Grade.status != GradeStatus.EXCUSED),
        )
        .group_by(Enrollment.student_id)
    )
    for student_id, count in (await db.execute(query)).all():
        signals[student_id].missing_work = count


async def _sessions(db: Executor, ids: Sequence[int], as_of: datetime, signals: dict[int, Signals]) -> None:
    query = (
        select(TutoringSession.student_id, TutoringSession.status, func.count())
        .where(
            TutoringSession.student_id.in_(ids),
            TutoringSession.starts_at >= as_of - SESSION_WINDOW,
            TutoringSession.starts_at <= as_of,
            TutoringSession.status.in_([SessionStatus.COMPLETED, SessionStatus.NO_SHOW]),
        )
        .group_by(TutoringSession.student_id, TutoringSession.status)
    )
    for student_id, status, count in (await db.execute(query)).all():
        if status == SessionStatus.COMPLETED:
            signals[student_id].sessions_kept += count
        else:
            signals[student_id].sessions_missed += count
