"""The teacher dashboard: everything a teacher's home page shows, assembled in a fixed number of
queries into one `TeacherDashboardDocument`, cached per teacher (stores/teacher_dashboard_cache.py)
and pushed to subscribers when something that feeds it changes.

- classes: the teacher's current classes (co-taught ones too; a past term's class is left out
  once it has no active students) with their active students, average grade (the mean of the
  students' class percentages, models/grade_math.py) and attendance rate (present or late
  over every meeting record, excused ones left out);
- sessions: the next scheduled ones, and the latest completed or missed ones;
- students needing attention: the teacher's students whose risk snapshot (models/risk.py)
  is MEDIUM or HIGH, riskiest first, with the model's factors as the reasons;
- grading to do: assignments past due with students still ungraded (no score, and not marked
  EXCUSED or MISSING), the oldest first;
Archived assignments are left out of all of it; grades count by their status (grade_math).
- earnings: resolvers/tutoring.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from statistics import mean
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from sqlalchemy import and_, case, exists, func, or_, select
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
from models.enums import (
    AssignmentCategory,
    AttendanceStatus,
    EnrollmentStatus,
    GradeStatus,
    RiskLevel,
    SessionStatus,
)
from models.grade_math import Column, GradedWork, Mark, class_percentage, counted_work
from resolvers import audit
from resolvers.pagination import page_size
from resolvers.policy import require_teacher_visible
from resolvers.tutoring import DEFAULT_CURRENCY, earnings_summary
from subscriptions.channels import teacher_dashboard_channel
from subscriptions.events import TeacherDashboardChanged

if TYPE_CHECKING:
    from context import AppState, Context

# How many of each list the cached document keeps: the most a client may ask for.
MAX_SESSIONS = 20
MAX_ATTENTION = 50
MAX_PENDING_GRADING = 50
ATTENTION_LEVELS = (RiskLevel.MEDIUM, RiskLevel.HIGH)
_active = Enrollment.status == EnrollmentStatus.ACTIVE


class DocumentPart(BaseModel):
    """A part of the cached document: immutable (one cached copy serves every request), and in
    JSON named in camelCase like the API's fields."""

    model_config = ConfigDict(
        frozen=True, alias_generator=to_camel, validate_by_name=True, serialize_by_alias=True
    )


class PersonRef(DocumentPart):
    id: int
    name: str


class DashboardTeacher(DocumentPart):
    id: int
    name: str
    email: str


class ClassEntry(DocumentPart):
    id: int
    title: str
    room: str | None
    course_id: int
    student_count: int
    average_grade: float | None
    attendance_rate: float | None


class SessionEntry(DocumentPart):
    id: int
    student: PersonRef
    starts_at: datetime
    ends_at: datetime
    status: SessionStatus
    attended: bool | None
    notes: str | None
    topics_covered: tuple[str, ...]
    room: str | None
    completed_at: datetime | None


class AttentionEntry(DocumentPart):
    student: PersonRef
    risk_level: RiskLevel
    risk_score: float
    reasons: tuple[str, ...]


class AssignmentEntry(DocumentPart):
    id: int
    class_id: int
    title: str
    category: AssignmentCategory
    max_score: float
    weight: float
    due_at: datetime | None
    published: bool
    description: str | None
    created_at: datetime
    grading_period_id: int | None


class PendingGradingEntry(DocumentPart):
    assignment: AssignmentEntry
    class_id: int
    ungraded_count: int


class EarningsEntry(DocumentPart):
    currency: str
    this_month_cents: int
    last_month_cents: int
    total_cents: int
    pending_payout_cents: int


class TeacherDashboardDocument(DocumentPart):
    teacher: DashboardTeacher
    generated_at: datetime
    classes: tuple[ClassEntry, ...]
    upcoming_sessions: tuple[SessionEntry, ...]
    recent_sessions: tuple[SessionEntry, ...]
    students_needing_attention: tuple[AttentionEntry, ...]
    pending_grading: tuple[PendingGradingEntry, ...]
    earnings: EarningsEntry


async def dashboard(ctx: Context, teacher_global_id: str | None) -> TeacherDashboardDocument:
    teacher_id = await require_teacher_visible(ctx, teacher_global_id)
    return await current_dashboard(ctx.app, teacher_id)


async def current_dashboard(app: AppState, teacher_id: int) -> TeacherDashboardDocument:
    """The cached dashboard, or a newly assembled one (then cached)."""
    cached, generation = await app.teacher_dashboards.get(teacher_id, TeacherDashboardDocument)
    if cached is not None:
        return cached
    assembled = await assemble(app, teacher_id, utcnow())
    await app.teacher_dashboards.put(teacher_id, generation, assembled)
    return assembled


async def dashboard_updates(
    ctx: Context, teacher_global_id: str | None
) -> AsyncIterator[TeacherDashboardDocument]:
    """The new dashboard after each change that feeds it, from any server process."""
    teacher_id = await require_teacher_visible(ctx, teacher_global_id)
    channel = teacher_dashboard_channel(teacher_id)
    async with ctx.bus.subscribe(channel, TeacherDashboardChanged) as events:
        async for _ in events:
            yield await current_dashboard(ctx.app, teacher_id)


def sessions_page(sessions: Sequence[SessionEntry], first: int | None) -> Sequence[SessionEntry]:
    return sessions[: page_size(first, MAX_SESSIONS, default=5)]


def attention_page(
    ctx: Context, students: Sequence[AttentionEntry], first: int | None
) -> Sequence[AttentionEntry]:
    """The first students needing attention; each is a read of a student's record (audited)."""
    page = students[: page_size(first, MAX_ATTENTION, default=10)]
    for entry in page:
        audit.note_read(ctx, "Student", entry.student.id)
    return page


async def assemble(app: AppState, teacher_id: int, now: datetime) -> TeacherDashboardDocument:
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
        class_entries = await _class_entries(session, classes)
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
    return TeacherDashboardDocument(
        teacher=DashboardTeacher(id=teacher.id, name=teacher.name, email=teacher.email),
        generated_at=now,
        classes=class_entries,
        upcoming_sessions=upcoming,
        recent_sessions=recent,
        students_needing_attention=attention,
        pending_grading=grading,
        earnings=EarningsEntry(
            currency=earnings.currency,
            this_month_cents=earnings.this_month_cents,
            last_month_cents=earnings.last_month_cents,
            total_cents=earnings.total_cents,
            pending_payout_cents=earnings.pending_payout_cents,
        ),
    )


async def _class_entries(session: AsyncSession, classes: list[Class]) -> tuple[ClassEntry, ...]:
    """Each class with its student count, average grade and attendance rate: four queries in all."""
    class_ids = [klass.id for klass in classes]
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
                Assignment.class_id, Grade.student_id, Assignment.category, Assignment.max_score,
                Grade.score, Grade.status, Grade.late_penalty,
            )
            .join(Grade, Grade.assignment_id == Assignment.id)
            .join(
                Enrollment,
                and_(Enrollment.class_id == Assignment.class_id, Enrollment.student_id == Grade.student_id),
            )
            .where(Assignment.class_id.in_(class_ids), Assignment.archived_at.is_(None), _active)
        )
    ).all()  # fmt: skip
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
    for class_id, student_id, category, max_score, score, grade_status, penalty in graded:
        item = counted_work(
            Column(category, max_score, None), Mark(score, grade_status, penalty), ungraded_as_zero=False
        )
        if item is not None:
            work[class_id][student_id].append(item)
    attended: defaultdict[int, int] = defaultdict(int)
    counted: defaultdict[int, int] = defaultdict(int)
    for class_id, status, count in attendance:
        if status != AttendanceStatus.EXCUSED:
            counted[class_id] += count
        if status in (AttendanceStatus.PRESENT, AttendanceStatus.LATE):
            attended[class_id] += count
    students = dict(roster)
    entries = []
    for klass in classes:
        percentages = [
            p
            for p in (class_percentage(items, weights.get(klass.id, {})) for items in work[klass.id].values())
            if p is not None
        ]
        entries.append(
            ClassEntry(
                id=klass.id,
                title=klass.title,
                room=klass.room,
                course_id=klass.course_id,
                student_count=students.get(klass.id, 0),
                average_grade=round(mean(percentages), 2) if percentages else None,
                attendance_rate=round(attended[klass.id] / counted[klass.id], 4)
                if counted[klass.id]
                else None,
            )
        )
    return tuple(entries)


async def _sessions(
    session: AsyncSession, *where: Any, order_by: tuple[Any, ...]
) -> tuple[SessionEntry, ...]:
    rows = (
        await session.execute(
            select(TutoringSession, User.name)
            .join(User, User.id == TutoringSession.student_id)
            .where(*where)
            .order_by(*order_by)
            .limit(MAX_SESSIONS)
        )
    ).all()
    return tuple(
        SessionEntry(
            id=row.id,
            student=PersonRef(id=row.student_id, name=name),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            status=row.status,
            attended=row.attended,
            notes=row.notes,
            topics_covered=tuple(row.topics_covered),
            room=row.room,
            completed_at=row.completed_at,
        )
        for row, name in rows
    )


async def _needing_attention(session: AsyncSession, class_ids: list[int]) -> tuple[AttentionEntry, ...]:
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
    return tuple(
        AttentionEntry(
            student=PersonRef(id=risk.student_id, name=name),
            risk_level=risk.risk_level,
            risk_score=risk.risk_score,
            reasons=tuple(factor["detail"] for factor in risk.factors),
        )
        for risk, name in rows
    )


async def _pending_grading(
    session: AsyncSession, class_ids: list[int], now: datetime
) -> tuple[PendingGradingEntry, ...]:
    """Past-due assignments and how many of the class's active students have no grade yet (no
    score, and not marked EXCUSED or MISSING)."""
    decided = or_(Grade.score.is_not(None), Grade.status.in_([GradeStatus.EXCUSED, GradeStatus.MISSING]))
    enrolled, scored = func.count(Enrollment.id), func.count(case((decided, 1)))
    rows = (
        await session.execute(
            select(Assignment, enrolled - scored)
            .join(Enrollment, and_(Enrollment.class_id == Assignment.class_id, _active))
            .outerjoin(
                Grade, and_(Grade.assignment_id == Assignment.id, Grade.student_id == Enrollment.student_id)
            )
            .where(
                Assignment.class_id.in_(class_ids), Assignment.due_at <= now, Assignment.archived_at.is_(None)
            )
            .group_by(Assignment.id)
            .having(enrolled > scored)
            .order_by(Assignment.due_at, Assignment.id)
            .limit(MAX_PENDING_GRADING)
        )
    ).all()
    return tuple(
        PendingGradingEntry(
            assignment=AssignmentEntry(
                id=a.id,
                class_id=a.class_id,
                title=a.title,
                category=a.category,
                max_score=a.max_score,
                weight=a.weight,
                due_at=a.due_at,
                published=a.published,
                description=a.description,
                created_at=a.created_at,
                grading_period_id=a.grading_period_id,
            ),
            class_id=a.class_id,
            ungraded_count=ungraded,
        )
        for a, ungraded in rows
    )
