"""Tutoring and lesson sessions: completing them, and the money they earn their teacher.

A session is SCHEDULED until its teacher completes it, once: COMPLETED when the student came,
NO_SHOW when not (CANCELLED ones are never completed). Only COMPLETED sessions earn: each
earns its own `rate_cents` (the rate when it was booked), in its own currency; no-shows and
cancellations earn nothing. A completed session is paid out when `paid_out_at` is set;
until then it is pending. Money is integer cents here and `Decimal` in the API, never a
float. A session counts in the month (of the school's timezone) in which it started.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, func, select, update

from errors import Forbidden, Problem
from models import School, TeacherProfile, TutoringSession
from models.base import utcnow
from models.enums import SessionStatus
from resolvers import audit
from resolvers.after_commit import teacher_dashboards_changed
from resolvers.analytics import refresh_student_risk
from resolvers.ids import decode_id_of
from resolvers.policy import NOT_VISIBLE, require_teacher_visible, require_user
from resolvers.schedule import check_window

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from context import Context

MAX_NOTES_LENGTH = 5000
MAX_TOPICS, MAX_TOPIC_LENGTH = 30, 120
MAX_EARNINGS_WINDOW = timedelta(days=731)
DEFAULT_CURRENCY = "USD"


@dataclass
class Completion:
    session_id: str
    attended: bool
    notes: str | None
    topics: list[str]


async def complete_session(ctx: Context, completion: Completion) -> TutoringSession | list[Problem]:
    """Only the session's teacher, once, and not before it has started."""
    user = require_user(ctx)
    session_id = decode_id_of(completion.session_id, "TutoringSession")
    invalid = _completion_problems(completion)
    if invalid:
        return invalid
    topics = [topic.strip() for topic in completion.topics if topic.strip()]
    now = utcnow()
    async with ctx.writer.begin() as session:
        booked = await session.get(TutoringSession, session_id)
        if booked is None or booked.school_id != user.school_id:
            raise Forbidden(NOT_VISIBLE)
        if booked.teacher_id != user.id:
            raise Forbidden("Only the session's teacher completes it.")
        if booked.status != SessionStatus.SCHEDULED:
            return [_not_scheduled(booked.status)]
        if booked.starts_at > now:
            return [Problem("The session has not started yet.", "NOT_STARTED", ("input", "sessionId"))]
        # Of two concurrent completions exactly one finds the session still SCHEDULED.
        done = await session.execute(
            update(TutoringSession)
            .where(TutoringSession.id == session_id, TutoringSession.status == SessionStatus.SCHEDULED)
            .values(
                status=SessionStatus.COMPLETED if completion.attended else SessionStatus.NO_SHOW,
                attended=completion.attended,
                notes=completion.notes.strip() if completion.notes else None,
                topics_covered=topics,
                completed_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            return [_not_scheduled(SessionStatus.COMPLETED)]
        await session.refresh(booked)
        await refresh_student_risk(session, [booked.student_id], now)
        audit.record(
            session, ctx, "session.completed", "Student", booked.student_id,
            detail={"sessionId": booked.id, "status": booked.status.value},
        )  # fmt: skip
    await teacher_dashboards_changed(
        ctx.app, teacher_ids=[booked.teacher_id], student_ids=[booked.student_id]
    )
    return booked


def _completion_problems(completion: Completion) -> list[Problem]:
    problems = []
    if completion.notes and len(completion.notes) > MAX_NOTES_LENGTH:
        message = f"Notes are limited to {MAX_NOTES_LENGTH} characters."
        problems.append(Problem(message, "INVALID", ("input", "notes")))
    if len(completion.topics) > MAX_TOPICS or any(len(t) > MAX_TOPIC_LENGTH for t in completion.topics):
        message = f"At most {MAX_TOPICS} topics of at most {MAX_TOPIC_LENGTH} characters each."
        problems.append(Problem(message, "INVALID", ("input", "topicsCovered")))
    return problems


def _not_scheduled(status: SessionStatus) -> Problem:
    if status == SessionStatus.CANCELLED:
        return Problem("The session was cancelled.", "SESSION_CANCELLED", ("input", "sessionId"))
    return Problem("The session is already completed.", "ALREADY_COMPLETED", ("input", "sessionId"))


def month_start(day: date) -> date:
    return day.replace(day=1)


def next_month(day: date) -> date:
    year, month = divmod(day.month, 12)
    return date(day.year + year, month + 1, 1)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=zone)


@dataclass(frozen=True)
class EarningsSummary:
    currency: str
    this_month_cents: int
    last_month_cents: int
    total_cents: int
    pending_payout_cents: int


async def earnings_summary(
    session: AsyncSession, teacher_id: int, currency: str, zone: ZoneInfo, now: datetime
) -> EarningsSummary:
    """This and last month (of the school's timezone), all time, and not yet paid out: one query."""
    this_month = month_start(now.astimezone(zone).date())
    last_start = local_midnight(month_start(this_month - timedelta(days=1)), zone)
    this_start = local_midnight(this_month, zone)
    next_start = local_midnight(next_month(this_month), zone)
    starts, cents = TutoringSession.starts_at, TutoringSession.rate_cents
    query = select(
        func.sum(case(((starts >= this_start) & (starts < next_start), cents), else_=0)),
        func.sum(case(((starts >= last_start) & (starts < this_start), cents), else_=0)),
        func.sum(cents),
        func.sum(case((TutoringSession.paid_out_at.is_(None), cents), else_=0)),
    ).where(*_earning(teacher_id, currency))
    this, last, total, pending = (await session.execute(query)).one()
    return EarningsSummary(currency, int(this or 0), int(last or 0), int(total or 0), int(pending or 0))


def _earning(teacher_id: int, currency: str) -> tuple[ColumnElement[bool], ...]:
    return (
        TutoringSession.teacher_id == teacher_id,
        TutoringSession.status == SessionStatus.COMPLETED,
        TutoringSession.currency == currency,
    )


async def _currency(session: AsyncSession, teacher_id: int) -> str:
    """The teacher's currency (their profile's). Sessions booked in another one are not converted
    and not counted."""
    found = await session.scalar(select(TeacherProfile.currency).where(TeacherProfile.user_id == teacher_id))
    return found or DEFAULT_CURRENCY


@dataclass(frozen=True)
class MonthEarnings:
    month: str  # YYYY-MM
    amount_cents: int
    session_count: int


@dataclass(frozen=True)
class EarningsReport:
    currency: str
    total_cents: int
    session_count: int
    by_month: list[MonthEarnings]


async def teacher_earnings(
    ctx: Context, teacher_global_id: str | None, start: datetime, end: datetime
) -> EarningsReport:
    """Completed sessions that started in [start, end), by month; every month of the window is
    listed, those without sessions at zero."""
    teacher_id = await require_teacher_visible(ctx, teacher_global_id)
    check_window(start, end, MAX_EARNINGS_WINDOW)
    async with ctx.session_factory() as session:
        timezone = await session.scalar(
            select(School.timezone).where(School.id == require_user(ctx).school_id)
        )
        zone = ZoneInfo(timezone or "UTC")
        currency = await _currency(session, teacher_id)
        query = select(TutoringSession.starts_at, TutoringSession.rate_cents).where(
            *_earning(teacher_id, currency),
            TutoringSession.starts_at >= start,
            TutoringSession.starts_at < end,
        )
        rows = (await session.execute(query)).all()
    amounts: defaultdict[str, int] = defaultdict(int)
    counts: defaultdict[str, int] = defaultdict(int)
    for starts_at, cents in rows:
        month = f"{starts_at.astimezone(zone):%Y-%m}"
        amounts[month] += cents
        counts[month] += 1
    months = []
    day, last = (
        month_start(start.astimezone(zone).date()),
        (end - timedelta(microseconds=1)).astimezone(zone).date(),
    )
    while day <= last:
        months.append(f"{day:%Y-%m}")
        day = next_month(day)
    return EarningsReport(
        currency=currency,
        total_cents=sum(amounts.values()),
        session_count=len(rows),
        by_month=[MonthEarnings(month, amounts[month], counts[month]) for month in months],
    )
