"""The risk model on hand-built students whose answers are worked out by hand."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from loaders.signals import gather_signals
from models import Assignment, AttendanceRecord, CategoryWeight, Grade, StudentRisk, TutoringSession
from models.db import create_writer_session_factory
from models.enums import AssignmentCategory, AttendanceStatus, RiskLevel, SessionStatus
from models.grade_math import GradedWork, LetterGrade, class_percentage, letter_grade
from models.risk import Signals, assess
from resolvers.analytics import refresh_student_risk
from tests.factories import Factory


def test_no_data_is_no_risk_and_no_confidence() -> None:
    result = assess(Signals())
    assert (result.risk_score, result.risk_level, result.factors) == (0.0, RiskLevel.LOW, [])
    assert (result.success_probability, result.confidence) == (0.5, 0.0)
    assert "No attendance recorded yet." in result.key_factors


def test_every_factor_weighed_and_explained() -> None:
    signals = Signals(
        attended=80, absent=20, average_grade=72.5, trend_points=-7.5, missing_work=2,
        sessions_kept=1, sessions_missed=1, graded_count=20,
    )  # fmt: skip
    result = assess(signals)
    # 0.30*0.6 + 0.30*0.5 + 0.15*0.5 + 0.15*0.4 + 0.10*0.5
    assert result.risk_score == pytest.approx(0.515)
    assert result.risk_level == RiskLevel.HIGH
    assert [(f["factor"], f["weight"]) for f in result.factors] == [
        ("ATTENDANCE", 0.18),
        ("GRADES", 0.15),
        ("TREND", 0.075),
        ("MISSING_WORK", 0.06),
        ("ENGAGEMENT", 0.05),
    ]
    assert result.factors[0]["detail"] == "Attended 80% of 100 class meetings (20 unexcused absences)."
    assert result.recommendations[0].startswith("Talk with the student and their guardian")
    assert result.confidence == 1.0
    assert result.success_probability == pytest.approx(0.485)


@pytest.mark.parametrize(
    ("signals", "score", "level"),
    [
        (Signals(attended=95, absent=5, average_grade=85.0, trend_points=0.0), 0.0, RiskLevel.LOW),
        (Signals(attended=70, absent=30, average_grade=60.0), 0.6, RiskLevel.HIGH),
        (Signals(average_grade=60.0, missing_work=0), 0.3, RiskLevel.MEDIUM),
        (Signals(average_grade=65.0), 0.24, RiskLevel.LOW),
        (Signals(missing_work=9, trend_points=-30.0), 0.3, RiskLevel.MEDIUM),
    ],
)
def test_thresholds_and_caps(signals: Signals, score: float, level: RiskLevel) -> None:
    result = assess(signals)
    assert result.risk_score == pytest.approx(score)
    assert result.risk_level == level


def test_little_data_leans_the_prediction_to_even() -> None:
    strong = Signals(attended=3, absent=0, average_grade=95.0, graded_count=3)
    result = assess(strong)
    assert result.confidence == 0.1
    assert result.success_probability == pytest.approx(0.55)


def test_class_percentage_weighs_categories_and_skips_empty_ones() -> None:
    work = [
        GradedWork(AssignmentCategory.HOMEWORK, 8, 10),
        GradedWork(AssignmentCategory.HOMEWORK, 10, 10),
        GradedWork(AssignmentCategory.EXAM, 30, 50),
    ]
    weights = {
        AssignmentCategory.HOMEWORK: 20.0,
        AssignmentCategory.EXAM: 60.0,
        AssignmentCategory.PROJECT: 20.0,
    }
    # homework 90% at 20, exam 60% at 60; the project category has no graded work: 80 weighs 100.
    assert class_percentage(work, weights) == pytest.approx((0.2 * 90 + 0.6 * 60) / 0.8)
    assert class_percentage(work, {}) == pytest.approx(75.0)
    assert class_percentage([], weights) is None


@pytest.mark.parametrize(
    ("percentage", "letter", "points"), [(93, "A", 4.0), (92.99, "A-", 3.7), (59.9, "F", 0.0)]
)
def test_letter_grades_on_the_default_scale(percentage: float, letter: str, points: float) -> None:
    assert letter_grade(percentage) == LetterGrade(letter, points)


async def test_signals_from_the_database(
    factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    student, klass, teacher = north.student.id, north.klass.id, north.teacher.id
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    async with session_factory.begin() as session:
        session.add_all(
            [
                CategoryWeight(class_id=klass, category=AssignmentCategory.QUIZ, weight=50.0),
                CategoryWeight(class_id=klass, category=AssignmentCategory.EXAM, weight=50.0),
            ]
        )
        due = [now - timedelta(days=d) for d in (40, 35, 30, 25, 20, 15, 10, 3)]
        assignments = [
            Assignment(
                class_id=klass, title=f"A{n}", max_score=10.0, due_at=when,
                category=AssignmentCategory.EXAM if n == 0 else AssignmentCategory.QUIZ,
            )
            for n, when in enumerate(due)
        ]  # fmt: skip
        session.add_all(assignments)
        await session.flush()
        scores = [6.0, 9.0, 9.0, 9.0, 6.0, 6.0]  # the last two (10 and 3 days ago) are not handed in
        session.add_all(
            Grade(assignment_id=a.id, student_id=student, score=s)
            for a, s in zip(assignments, scores, strict=False)
        )
        statuses = [AttendanceStatus.PRESENT] * 3 + [AttendanceStatus.LATE, AttendanceStatus.ABSENT]
        statuses.append(AttendanceStatus.EXCUSED)
        session.add_all(
            AttendanceRecord(
                class_id=klass, student_id=student, date=(now - timedelta(days=d)).date(), status=s
            )
            for d, s in enumerate(statuses, start=1)
        )
        session.add_all(
            TutoringSession(
                school_id=north.school.id, teacher_id=teacher, student_id=student, status=status,
                starts_at=now - timedelta(days=days), ends_at=now - timedelta(days=days) + timedelta(hours=1),
            )
            for days, status in [
                (5, SessionStatus.COMPLETED), (6, SessionStatus.NO_SHOW), (100, SessionStatus.NO_SHOW)
            ]
        )  # fmt: skip
        signals = (await gather_signals(session, [student], now))[student]
    assert (signals.attended, signals.absent) == (4, 1)
    # exam 60% at 50, quizzes 39/50 = 78% at 50
    assert signals.average_grade == pytest.approx(69.0)
    # newest three (60, 60, 90) against the rest (60, 90, 90)
    assert signals.trend_points == pytest.approx(70.0 - 80.0)
    assert signals.missing_work == 1, "due 10 days ago counts; due 3 days ago does not yet"
    assert (signals.sessions_kept, signals.sessions_missed) == (1, 1)
    assert signals.graded_count == 6


async def test_two_writers_refreshing_one_student_both_commit(engine: AsyncEngine, factory: Factory) -> None:
    """Two teachers grading one student at once: the second refresh waits for the first and
    then overwrites it, instead of failing on the snapshot's primary key (PostgreSQL)."""
    north = await factory.school("north")
    writer = create_writer_session_factory(engine)
    first_refreshed = asyncio.Event()
    moments = [datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)]

    async def refresh(as_of: datetime, *, wait_for_other: bool) -> None:
        async with writer.begin() as session:
            await refresh_student_risk(session, [north.student.id], as_of)
            first_refreshed.set()
            if wait_for_other:
                await asyncio.sleep(0.3)  # the other writer now runs into this one's row

    first = asyncio.create_task(refresh(moments[0], wait_for_other=True))
    await first_refreshed.wait()
    await asyncio.gather(first, refresh(moments[1], wait_for_other=False))
    async with writer() as session:
        snapshots = (await session.scalars(select(StudentRisk.computed_at).where(
            StudentRisk.student_id == north.student.id
        ))).all()  # fmt: skip
    assert [moment.replace(tzinfo=UTC) for moment in snapshots] == [moments[1]]
