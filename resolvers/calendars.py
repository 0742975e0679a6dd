"""Personal calendar feeds: a signed iCalendar URL per user, the feed it serves, its rotation, and
the same events for the in-app calendar (what they are: resolvers/calendar_events.py).

The URL is `{PUBLIC_URL or the request's origin}/calendar/{token}.ics`. The token is the user's id
and their feed's `version`, signed with the app's secret (itsdangerous, a salt of its own): it
needs no bearer token, so anybody holding the URL reads the feed, which is why the user can
rotate it. Rotating bumps `version`; every older URL then stops matching, as a tampered or
unknown token does: the feed route answers 404 to all of them, and to a deactivated account's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from icalendar import Calendar, Event
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from errors import Problem
from models import CalendarFeed, User
from models.base import utcnow
from models.upsert import upsert_insert
from resolvers import audit
from resolvers.calendar_events import (
    CalendarContent,
    DatedEvent,
    EventKind,
    Meeting,
    Window,
    calendar_content,
)
from resolvers.policy import require_user
from resolvers.schedule import check_window

if TYPE_CHECKING:
    from context import Context

SALT = "campusgraph-calendar-feed"
PRODID = "-//CampusGraph//Calendar feed//EN"
MAX_REASON_LENGTH = 500


@dataclass(frozen=True)
class FeedToken:
    user_id: int
    version: int


def sign_token(settings: Settings, token: FeedToken) -> str:
    return URLSafeSerializer(settings.secret_key, salt=SALT).dumps([token.user_id, token.version])


def read_token(settings: Settings, token: str) -> FeedToken | None:
    """The token's user and version, or None when it is not one we signed."""
    try:
        value = URLSafeSerializer(settings.secret_key, salt=SALT).loads(token)
    except BadSignature:
        return None
    match value:
        case [int(user_id), int(version)] if not isinstance(user_id, bool) and not isinstance(version, bool):
            return FeedToken(user_id, version)
    return None


def feed_url(ctx: Context, token: FeedToken) -> str:
    origin = ctx.settings.public_url or (str(ctx.request.base_url) if ctx.request is not None else "")
    return f"{origin.rstrip('/')}/calendar/{sign_token(ctx.settings, token)}.ics"


async def calendar_feed_url(ctx: Context) -> str:
    """The caller's feed URL; the feed is made on the first ask (two first asks at once make one)."""
    user = require_user(ctx)
    async with ctx.session_factory() as session:
        version = await session.scalar(select(CalendarFeed.version).where(CalendarFeed.user_id == user.id))
    if version is None:
        async with ctx.writer.begin() as session:
            await session.execute(
                upsert_insert(session, CalendarFeed)
                .values(user_id=user.id, version=1, created_at=utcnow())
                .on_conflict_do_nothing(index_elements=[CalendarFeed.user_id])
            )
            version = await _version(session, user.id)
    return feed_url(ctx, FeedToken(user.id, version))


async def rotate_calendar_feed(ctx: Context, reason: str | None) -> str | list[Problem]:
    """A new URL for the caller; the old one answers 404 from now on. Audited, with the reason."""
    user = require_user(ctx)
    if reason is not None and len(reason) > MAX_REASON_LENGTH:
        return [Problem(f"At most {MAX_REASON_LENGTH} characters.", "INVALID", ("input", "reason"))]
    now = utcnow()
    async with ctx.writer.begin() as session:
        await session.execute(
            upsert_insert(session, CalendarFeed)
            .values(user_id=user.id, version=2, created_at=now, rotated_at=now)
            .on_conflict_do_update(
                index_elements=[CalendarFeed.user_id],
                set_={"version": CalendarFeed.version + 1, "rotated_at": now},
            )
        )
        version = await _version(session, user.id)
        audit.record(
            session,
            ctx,
            "calendar_feed.rotate",
            "CalendarFeed",
            user.id,
            detail={"version": version, "reason": reason},
        )
    return feed_url(ctx, FeedToken(user.id, version))


async def _version(session: AsyncSession, user_id: int) -> int:
    version = await session.scalar(select(CalendarFeed.version).where(CalendarFeed.user_id == user_id))
    assert version is not None
    return version


async def calendar_events(
    ctx: Context, start: datetime, end: datetime, kinds: list[EventKind] | None
) -> list[DatedEvent]:
    """What the caller's feed holds between `start` and `end`, each meeting's occurrences apart."""
    user = require_user(ctx)
    check_window(start, end)
    now = utcnow()
    asked = Window(start, end)
    async with ctx.session_factory() as session:
        content = await calendar_content(
            session, user.id, user.school_id, now, Window.around(now).within(asked.starts, asked.ends)
        )
    found = content.occurrences(asked)
    return [event for event in found if kinds is None or event.kind in kinds]


async def feed_document(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings, token: str
) -> bytes | None:
    """The iCalendar text of the feed `token` names, or None: not a current token of an active user."""
    claimed = read_token(settings, token)
    if claimed is None:
        return None
    async with session_factory() as session:
        row = (
            await session.execute(
                select(User, CalendarFeed.version)
                .join(CalendarFeed, CalendarFeed.user_id == User.id)
                .where(User.id == claimed.user_id)
            )
        ).first()
        if row is None or row.version != claimed.version or not row.User.is_active:
            return None
        user: User = row.User
        now = utcnow()
        content = await calendar_content(session, user.id, user.school_id, now, Window.around(now))
    return _icalendar(content, f"CampusGraph: {user.name}", now)


def _icalendar(content: CalendarContent, name: str, now: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("refresh-interval", timedelta(hours=6), parameters={"VALUE": "DURATION"})
    for meeting in content.meetings:
        calendar.add_component(_meeting_event(meeting, content, now))
    for dated in content.events:
        calendar.add_component(_dated_event(dated, now))
    if content.meetings:
        first = min(meeting.first_day for meeting in content.meetings)
        last = max(meeting.last_day for meeting in content.meetings)
        calendar.add_missing_timezones(
            first_date=first - timedelta(days=1), last_date=last + timedelta(days=1)
        )
    document: bytes = calendar.to_ical()
    return document


def _meeting_event(meeting: Meeting, content: CalendarContent, now: datetime) -> Event:
    """One VEVENT per weekly meeting: its first occurrence, repeated weekly to the term's last day
    (UNTIL in UTC, as RFC 5545 asks when DTSTART has a time zone)."""
    first = meeting.days()[0]
    event = Event()
    event.add("uid", meeting.uid)
    event.add("dtstamp", now)
    event.add("summary", meeting.klass.title)
    if meeting.klass.room:
        event.add("location", meeting.klass.room)
    event.add("dtstart", datetime.combine(first, meeting.starts_at, tzinfo=content.zone))
    event.add("dtend", datetime.combine(first, meeting.ends_at, tzinfo=content.zone))
    until = datetime.combine(meeting.last_day, time(23, 59, 59), tzinfo=content.zone).astimezone(UTC)
    event.add("rrule", {"freq": "weekly", "until": until})
    event.add("categories", [EventKind.CLASS_MEETING.value])
    return event


def _dated_event(dated: DatedEvent, now: datetime) -> Event:
    """A tutoring session or a due date, in UTC; a due date is an instant (no DTEND: RFC 5545
    wants DTEND after DTSTART, and an event without one ends when it starts)."""
    event = Event()
    event.add("uid", dated.uid)
    event.add("dtstamp", now)
    event.add("summary", dated.title)
    if dated.description:
        event.add("description", dated.description)
    if dated.location:
        event.add("location", dated.location)
    event.add("dtstart", dated.starts_at.astimezone(UTC))
    if dated.ends_at > dated.starts_at:
        event.add("dtend", dated.ends_at.astimezone(UTC))
    event.add("categories", [dated.kind.value])
    return event
