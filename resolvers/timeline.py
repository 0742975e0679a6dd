"""A student's timeline: grades, attendance, sessions, assessments and messages, newest first.

One UNION query finds the page (keyset on occurred-at, kind, id); one query per kind on the
page then writes the summaries, so a page costs the same few statements however long it is.
Messages show only to the student and to participants of the conversation, and never their text.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, literal, select, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from errors import BadInput
from models import (
    Assessment,
    Assignment,
    AttendanceRecord,
    Class,
    Conversation,
    ConversationParticipant,
    Grade,
    GradeChange,
    Message,
    TutoringSession,
)
from models.base import UTCDateTime, utcnow
from models.enums import SessionStatus
from resolvers.pagination import cursor_key, cursor_time, decode_cursor, encode_cursor, page_size

if TYPE_CHECKING:
    from context import Context

KINDS = ("GRADE", "ATTENDANCE", "SESSION", "ASSESSMENT", "MESSAGE")


@dataclass
class TimelineEvent:
    kind: str
    occurred_at: datetime
    summary: str
    actor_id: int | None
    cursor: str


def _sources(student_id: int, viewer_id: int, kinds: set[str]) -> list[Select[Any]]:
    def row(kind: str, at: Any, source_id: Any, actor_id: Any) -> Select[Any]:
        return select(
            literal(kind).label("kind"),
            at.label("occurred_at"),
            source_id.label("source_id"),
            actor_id.label("actor_id"),
        )

    now = utcnow()
    sources = {
        "GRADE": row("GRADE", GradeChange.changed_at, GradeChange.id, GradeChange.changed_by_id)
        .join(Grade, Grade.id == GradeChange.grade_id)
        .where(Grade.student_id == student_id),
        "ATTENDANCE": row(
            "ATTENDANCE", AttendanceRecord.recorded_at, AttendanceRecord.id, AttendanceRecord.recorded_by_id
        ).where(AttendanceRecord.student_id == student_id),
        "SESSION": row(
            "SESSION", TutoringSession.starts_at, TutoringSession.id, TutoringSession.teacher_id
        ).where(TutoringSession.student_id == student_id, TutoringSession.starts_at <= now),
        "ASSESSMENT": row("ASSESSMENT", Assessment.assessed_at, Assessment.id, Assessment.assessor_id).where(
            Assessment.student_id == student_id
        ),
        "MESSAGE": row("MESSAGE", Message.sent_at, Message.id, Message.author_id).where(
            Message.author_id == student_id,
            Message.conversation_id.in_(
                select(ConversationParticipant.conversation_id).where(
                    ConversationParticipant.user_id == viewer_id
                )
            ),
        ),
    }
    return [query for kind, query in sources.items() if kind in kinds]


async def timeline(
    ctx: Context, student_id: int, *, first: int | None, after: str | None, kinds: Sequence[str] | None
) -> tuple[list[TimelineEvent], bool]:
    """Events of a student the caller may see (the caller checks), newest first."""
    assert ctx.user is not None
    limit = page_size(first, ctx.settings.max_page_size)
    wanted = set(kinds) if kinds else set(KINDS)
    events = union_all(*_sources(student_id, ctx.user.id, wanted)).subquery()
    query = select(events)
    if after is not None:
        at, kind, source_id = _decode(after)
        mark = tuple_(literal(at, UTCDateTime()), literal(kind), literal(source_id))
        query = query.where(tuple_(events.c.occurred_at, events.c.kind, events.c.source_id) < mark)
    query = query.order_by(events.c.occurred_at.desc(), events.c.kind.desc(), events.c.source_id.desc())
    async with ctx.session_factory() as session:
        found = (await session.execute(query.limit(limit + 1))).all()
        page = found[:limit]
        summaries = await _summaries(session, page)
    return [
        TimelineEvent(
            kind=kind,
            occurred_at=at,
            summary=summaries.get((kind, source_id), ""),
            actor_id=actor_id,
            cursor=encode_cursor(json.dumps([at.isoformat(), kind, source_id])),
        )
        for kind, at, source_id, actor_id in page
    ], len(found) > limit


def _decode(cursor: str) -> tuple[datetime, str, int]:
    try:
        at, kind, source_id = json.loads(decode_cursor(cursor))
        return cursor_time(at), str(kind), cursor_key(int(source_id))
    except (ValueError, TypeError) as error:
        raise BadInput("Not a valid cursor.") from error


async def _summaries(session: AsyncSession, page: Sequence[Any]) -> dict[tuple[str, int], str]:
    ids: dict[str, list[int]] = {kind: [] for kind in KINDS}
    for kind, _, source_id, _ in page:
        ids[kind].append(source_id)
    found: dict[tuple[str, int], str] = {}
    for kind, describe in SUMMARIES.items():
        if ids[kind]:
            found.update(
                ((kind, source_id), text) for source_id, text in (await describe(session, ids[kind])).items()
            )
    return found


async def _grades(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    query = (
        select(
            GradeChange.id,
            GradeChange.old_score,
            GradeChange.new_score,
            Assignment.title,
            Assignment.max_score,
        )
        .join(Grade, Grade.id == GradeChange.grade_id)
        .join(Assignment, Assignment.id == Grade.assignment_id)
        .where(GradeChange.id.in_(ids))
    )
    return {
        source_id: f"{'Graded' if old is None else 'Regraded'} {title}: {_score(new)}/{_score(max_score)}"
        for source_id, old, new, title, max_score in (await session.execute(query)).all()
    }


async def _attendance(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    query = (
        select(AttendanceRecord.id, AttendanceRecord.status, AttendanceRecord.date, Class.title)
        .join(Class, Class.id == AttendanceRecord.class_id)
        .where(AttendanceRecord.id.in_(ids))
    )
    return {
        source_id: f"{status.value.capitalize()} in {title} on {day.isoformat()}"
        for source_id, status, day, title in (await session.execute(query)).all()
    }


async def _sessions(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    query = select(TutoringSession.id, TutoringSession.status, TutoringSession.topics_covered).where(
        TutoringSession.id.in_(ids)
    )
    found = {}
    for source_id, status, topics in (await session.execute(query)).all():
        about = f" ({', '.join(topics)})" if topics and status == SessionStatus.COMPLETED else ""
        found[source_id] = f"Tutoring session {status.value.lower().replace('_', ' ')}{about}"
    return found


async def _assessments(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    query = select(
        Assessment.id, Assessment.skill, Assessment.score, Assessment.max_score, Assessment.level
    ).where(Assessment.id.in_(ids))
    return {
        source_id: f"{skill} assessed: {_score(score)}/{_score(max_score)} (level {level})"
        for source_id, skill, score, max_score, level in (await session.execute(query)).all()
    }


async def _messages(session: AsyncSession, ids: list[int]) -> dict[int, str]:
    query = (
        select(Message.id, Conversation.title)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.id.in_(ids))
    )
    return {
        source_id: f"Sent a message in {title or 'a conversation'}"
        for source_id, title in (await session.execute(query)).all()
    }


SUMMARIES: dict[str, Callable[[AsyncSession, list[int]], Awaitable[dict[int, str]]]] = {
    "GRADE": _grades,
    "ATTENDANCE": _attendance,
    "SESSION": _sessions,
    "ASSESSMENT": _assessments,
    "MESSAGE": _messages,
}


def _score(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"
