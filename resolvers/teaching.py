"""The teacher dashboard: everything a teacher's home page shows, assembled in a fixed number of
queries into one JSON document, cached per teacher (resolvers/teaching_cache.py) and pushed to
subscribers when something that feeds it changes.

- classes: the teacher's current classes (co-taught ones too; a past term's class is left out
  once it has no active students) with their active students, average grade (the mean of the
  students' class percentages, resolvers/grade_math.py) and attendance rate (present or late
  over every meeting record, excused ones left out);
- sessions: the next scheduled ones, and the latest completed or missed ones;
- students needing attention: the teacher's students whose risk snapshot (resolvers/risk.py)
  is MEDIUM or HIGH, riskiest first, with the model's factors as the reasons;
- grading to do: assignments past due with students still ungraded, the oldest first;
- earnings: resolvers/sessions.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime
from statistics import mean
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from loaders.signals import category_weights
from models import (
    Assignment,
    AttendanceRecord,
    Class,
    ClassTeacher,
    Enrollment,
    Grade,
    School,
    StudentRisk,
    TeacherProfile,
    Term,
    TutoringSession,
    User,
)
from models.base import utcnow
from models.enums import AttendanceStatus, EnrollmentStatus, RiskLevel, SessionStatus
from resolvers import audit
from resolvers.grade_math import GradedWork, class_percentage
from resolvers.pagination import page_size
from resolvers.policy import require_teacher_visible
from resolvers.sessions import DEFAULT_CURRENCY, earnings_summary
from subscriptions.channels import teacher_dashboard_channel

if TYPE_CHECKING:
    from context import AppState, Context

# How many of each list the cached document keeps: the most a client may ask for.
MAX_SESSIONS = 20
MAX_ATTENTION = 50
MAX_PENDING_GRADING = 50
ATTENTION_LEVELS = (RiskLevel.MEDIUM, RiskLevel.HIGH)
_active = Enrollment.status == EnrollmentStatus.ACTIVE

Json = dict[str, Any]


async def dashboard(ctx: Context, teacher_global_id: str | None) -> Json:
    teacher_id = await require_teacher_visible(ctx, teacher_global_id)
    return await current_dashboard(ctx.app, teacher_id)


async def current_dashboard(app: AppState, teacher_id: int) -> Json:
    """The cached dashboard, or a newly assembled one (then cached)."""
    cached, generation = await app.teacher_dashboards.get(teacher_id)
    if cached is not None:
        return cached
    assembled = await assemble(app, teacher_id, utcnow())
    await app.teacher_dashboards.put(teacher_id, generation, assembled)
    return assembled


async def dashboard_updates(ctx: Context, teacher_global_id: str | None) -> AsyncIterator[Json]:
    """The new dashboard after each change that feeds it, from any server process."""
    teacher_id = await require_teacher_visible(ctx, teacher_global_id)
    async with ctx.bus.subscribe(teacher_dashboard_channel(teacher_id)) as events:
        async for _ in events:
            yield await current_dashboard(ctx.app, teacher_id)


def sessions_page(sessions: list[Json], first: int | None) -> list[Json]:
    return sessions[: page_size(first, MAX_SESSIONS, default=5)]


def attention_page(ctx: Context, students: list[Json], first: int | None) -> list[Json]:
    """The first students needing attention; each is a read of a student's record (audited)."""
    page = students[: page_size(first, MAX_ATTENTION, default=10)]
    for entry in page:
        audit.note_read(ctx, "Student", entry["student"]["id"])
    return page


async def assemble(app: AppState, teacher_id: int, now: datetime) -> Json:
    async with app.session_factory() as session:
        teacher, timezone, currency = (
            await session.execute(
                select(User, School.timezone, TeacherProfile.currency)
                .join(School, School.id == User.school_id)
                .outerjoin(TeacherProfile, TeacherProfile.user_id == User.id)
                .where(User.id == teacher_id)
            )
        ).one()
        classes = list(
            (
                await session.scalars(
                    select(Class)
                    .join(ClassTeacher, ClassTeacher.class_id == Class.id)
                    .join(Term, Term.id == Class.term_id)
                    .where(
                        ClassTeacher.teacher_id == teacher_id,
                        # Current classes: past terms' are left out once their students completed them.
                        or_(
                            Term.ends_on >= now.astimezone(ZoneInfo(timezone)).date(),
                            exists().where(Enrollment.class_id == Class.id, _active),
                        ),
                    )
                    .order_by(Class.title, Class.id)
                )
            ).all()
        )
        class_ids = [klass.id for klass in classes]
        summaries = await _class_summaries(session, class_ids)
        upcoming = await _sessions(
            session,
            TutoringSession.teacher_id == teacher_id,
            TutoringSession.status == SessionStatus.SCHEDULED,
            TutoringSession.starts_at >= now,
            order_by=(TutoringSession.starts_at, TutoringSession.id),
        )
        recent = await _sessions(
            session,
            TutoringSession.teacher_id == teacher_id,
            TutoringSession.completed_at.is_not(None),
            order_by=(TutoringSession.completed_at.desc(), TutoringSession.id.desc()),
        )
        attention = await _needing_attention(session, class_ids)
        grading = await _pending_grading(session, class_ids, now)
        earnings = await earnings_summary(
            session, teacher_id, currency or DEFAULT_CURRENCY, ZoneInfo(timezone), now
        )
    return {
        "teacher": {"id": teacher.id, "name": teacher.name, "email": teacher.email},
        "generatedAt": now.isoformat(),
        "classes": [
            {"id": k.id, "title": k.title, "room": k.room, "courseId": k.course_id} | summaries[k.id]
            for k in classes
        ],
        "upcomingSessions": upcoming,
        "recentSessions": recent,
        "studentsNeedingAttention": attention,
        "pendingGrading": grading,
        "earnings": {
            "currency": earnings.currency,
            "thisMonthCents": earnings.this_month_cents,
            "lastMonthCents": earnings.last_month_cents,
            "totalCents": earnings.total_cents,
            "pendingPayoutCents": earnings.pending_payout_cents,
        },
    }


async def _class_summaries(session: AsyncSession, class_ids: list[int]) -> dict[int, Json]:
    """Student count, average grade and attendance rate of each class: four queries in all."""
    roster = (
        await session.execute(
            select(Enrollment.class_id, func.count())
            .where(Enrollment.class_id.in_(class_ids), _active)
            .group_by(Enrollment.class_id)
        )
    ).all()
    graded = (
        await session.execute(
            select(
                Assignment.class_id, Grade.student_id, Assignment.category, Grade.score, Assignment.max_score
            )
            .join(Grade, Grade.assignment_id == Assignment.id)
            .join(
                Enrollment,
                and_(Enrollment.class_id == Assignment.class_id, Enrollment.student_id == Grade.student_id),
            )
            .where(Assignment.class_id.in_(class_ids), Grade.score.is_not(None), _active)
        )
    ).all()
    weights = await category_weights(session, set(class_ids))
    attendance = (
        await session.execute(
            select(AttendanceRecord.class_id, AttendanceRecord.status, func.count())
            .join(
                Enrollment,
                and_(
                    Enrollment.class_id == AttendanceRecord.class_id,
                    Enrollment.student_id == AttendanceRecord.student_id,
                ),
            )
            .where(AttendanceRecord.class_id.in_(class_ids), _active)
            .group_by(AttendanceRecord.class_id, AttendanceRecord.status)
        )
    ).all()
    work: defaultdict[int, defaultdict[int, list[GradedWork]]] = defaultdict(lambda: defaultdict(list))
    for class_id, student_id, category, score, max_score in graded:
        if score is not None:
            work[class_id][student_id].append(GradedWork(category, score, max_score))
    attended: defaultdict[int, int] = defaultdict(int)
    counted: defaultdict[int, int] = defaultdict(int)
    for class_id, status, count in attendance:
        if status != AttendanceStatus.EXCUSED:
            counted[class_id] += count
        if status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE):
            attended[class_id] += count
    students = dict(roster)
    summaries = {}
    for class_id in class_ids:
        percentages = [
            p
            for p in (class_percentage(items, weights.get(class_id, {})) for items in work[class_id].values())
            if p is not None
        ]
        summaries[class_id] = {
            "studentCount": students.get(class_id, 0),
            "averageGrade": round(mean(percentages), 2) if percentages else None,
            "attendanceRate": round(attended[class_id] / counted[class_id], 4) if counted[class_id] else None,
        }
    return summaries


async def _sessions(session: AsyncSession, *where: Any, order_by: tuple[Any, ...]) -> list[Json]:
    rows = (
        await session.execute(
            select(TutoringSession, User.name)
            .join(User, User.id == TutoringSession.student_id)
            .where(*where)
            .order_by(*order_by)
            .limit(MAX_SESSIONS)
        )
    ).all()
    return [session_json(row, name) for row, name in rows]


def session_json(row: TutoringSession, student_name: str) -> Json:
    return {
        "id": row.id,
        "student": {"id": row.student_id, "name": student_name},
        "startsAt": row.starts_at.isoformat(),
        "endsAt": row.ends_at.isoformat(),
        "status": row.status.value,
        "attended": row.attended,
        "notes": row.notes,
        "topicsCovered": row.topics_covered,
        "room": row.room,
        "completedAt": row.completed_at.isoformat() if row.completed_at else None,
    }


async def _needing_attention(session: AsyncSession, class_ids: list[int]) -> list[Json]:
    taught = select(Enrollment.student_id).where(Enrollment.class_id.in_(class_ids), _active)
    rows = (
        await session.execute(
            select(StudentRisk, User.name)
            .join(User, User.id == StudentRisk.student_id)
            .where(StudentRisk.student_id.in_(taught), StudentRisk.risk_level.in_(ATTENTION_LEVELS))
            .order_by(StudentRisk.risk_score.desc(), StudentRisk.student_id)
            .limit(MAX_ATTENTION)
        )
    ).all()
    return [
        {
            "student": {"id": risk.student_id, "name": name},
            "riskLevel": risk.risk_level.value,
            "riskScore": risk.risk_score,
            "reasons": [factor["detail"] for factor in risk.factors],
        }
        for risk, name in rows
    ]


async def _pending_grading(session: AsyncSession, class_ids: list[int], now: datetime) -> list[Json]:
    """Past-due assignments and how many of the class's active students have no score yet."""
    enrolled, scored = func.count(Enrollment.id), func.count(Grade.score)
    rows = (
        await session.execute(
            select(Assignment, enrolled - scored)
            .join(Enrollment, and_(Enrollment.class_id == Assignment.class_id, _active))
            .outerjoin(
                Grade, and_(Grade.assignment_id == Assignment.id, Grade.student_id == Enrollment.student_id)
            )
            .where(Assignment.class_id.in_(class_ids), Assignment.due_at <= now)
            .group_by(Assignment.id)
            .having(enrolled > scored)
            .order_by(Assignment.due_at, Assignment.id)
            .limit(MAX_PENDING_GRADING)
        )
    ).all()
    return [
        {
            "assignment": {
                "id": a.id,
                "title": a.title,
                "category": a.category.value,
                "maxScore": a.max_score,
                "weight": a.weight,
                "dueAt": a.due_at.isoformat() if a.due_at else None,
            },
            "classId": a.class_id,
            "ungradedCount": ungraded,
        }
        for a, ungraded in rows
    ]
