"""Schedule conflicts: two bookings at overlapping times of the same teacher, the same room or the
same student, in a window of at most MAX_WINDOW.

Bookings are the tutoring sessions that are not cancelled and the weekly class meetings of the
term (MeetingTime, local times of the school's timezone, on every date of the term; holidays
are not known here). A class meeting books its teachers, its room and, for the student
conflicts, its students who have a session in the window (a tutoring session during one of
their classes). Teachers see the conflicts that involve one of their own bookings; staff and
admins see the whole school's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import BadInput, Forbidden
from models import Class, ClassTeacher, Enrollment, MeetingTime, School, Term, TutoringSession, User
from models.enums import EnrollmentStatus, Role, SessionStatus
from resolvers.policy import SCHOOL_WIDE_ROLES, require_user

if TYPE_CHECKING:
    from context import Context

MAX_WINDOW = timedelta(days=92)
# The years a window may fall in: near year 1 or 9999 a time moved to the school's timezone
# (or to the next month) leaves datetime's range, an OverflowError answered as an internal error.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def check_window(start: datetime, end: datetime, longest: timedelta = MAX_WINDOW) -> None:
    """A window of times asked for (schedule conflicts, calendar events, earnings): zoned, in
    order, at most `longest` long, between EARLIEST and LATEST; else a BAD_USER_INPUT error."""
    if start.tzinfo is None or end.tzinfo is None:
        raise BadInput("Give `from` and `to` with a timezone.")
    if not start < end or end - start > longest:
        raise BadInput(f"`from` must be before `to`, at most {longest.days} days apart.")
    if start < EARLIEST or end > LATEST:
        raise BadInput(f"`from` and `to` must fall between {EARLIEST:%Y} and {LATEST:%Y}.")


@dataclass(frozen=True)
class Booking:
    starts_at: datetime
    ends_at: datetime
    label: str
    keys: frozenset[tuple[str, Hashable]]  # ("TEACHER", id), ("ROOM", name), ("STUDENT", id)
    mine: bool  # one of the caller's own bookings (for a teacher)


@dataclass(frozen=True)
class Conflict:
    kind: str  # TEACHER, ROOM or STUDENT
    starts_at: datetime
    ends_at: datetime
    description: str


async def conflicts(ctx: Context, start: datetime, end: datetime) -> list[Conflict]:
    user = require_user(ctx)
    if user.role not in (*SCHOOL_WIDE_ROLES, Role.TEACHER):
        raise Forbidden("Schedules are for teachers and school staff.")
    check_window(start, end)
    async with ctx.session_factory() as session:
        timezone = await session.scalar(select(School.timezone).where(School.id == user.school_id))
        names: dict[int, str] = {}
        sessions = await _sessions(session, user.school_id, start, end, user.id, names)
        tutees = {key[1] for booking in sessions for key in booking.keys if key[0] == "STUDENT"}
        zone = ZoneInfo(timezone or "UTC")
        meetings = await _meetings(session, user.school_id, start, end, zone, tutees, user.id, names)
    mine_only = user.role == Role.TEACHER
    found = [
        conflict
        for kind, key, first, second in _overlaps([*sessions, *meetings])
        if not mine_only or first.mine or second.mine
        for conflict in [_conflict(kind, key, first, second, names)]
    ]
    return sorted(found, key=lambda c: (c.starts_at, c.kind, c.description))


async def _sessions(
    session: AsyncSession,
    school_id: int,
    start: datetime,
    end: datetime,
    caller_id: int,
    names: dict[int, str],
) -> list[Booking]:
    rows = (
        (
            await session.execute(
                select(TutoringSession).where(
                    TutoringSession.school_id == school_id,
                    TutoringSession.status != SessionStatus.CANCELLED,
                    TutoringSession.starts_at < end,
                    TutoringSession.ends_at > start,
                )
            )
        )
        .scalars()
        .all()
    )
    people = {row.teacher_id for row in rows} | {row.student_id for row in rows}
    names.update((await session.execute(select(User.id, User.name).where(User.id.in_(people)))).all())
    bookings = []
    for row in rows:
        keys: set[tuple[str, Hashable]] = {("TEACHER", row.teacher_id), ("STUDENT", row.student_id)}
        if row.room:
            keys.add(("ROOM", row.room))
        place = f" in {row.room}" if row.room else ""
        label = f"tutoring of {names[row.student_id]} with {names[row.teacher_id]}{place}"
        bookings.append(
            Booking(row.starts_at, row.ends_at, label, frozenset(keys), row.teacher_id == caller_id)
        )
    return bookings


async def _meetings(
    session: AsyncSession,
    school_id: int,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    tutees: set[Hashable],
    caller_id: int,
    names: dict[int, str],
) -> list[Booking]:
    first_day, last_day = start.astimezone(zone).date(), end.astimezone(zone).date()
    rows = (
        await session.execute(
            select(MeetingTime, Class.title, Class.room, Term.starts_on, Term.ends_on)
            .join(Class, Class.id == MeetingTime.class_id)
            .join(Term, Term.id == Class.term_id)
            .where(Class.school_id == school_id, Term.starts_on <= last_day, Term.ends_on >= first_day)
        )
    ).all()
    class_ids = {meeting.class_id for meeting, *_ in rows}
    teachers: defaultdict[int, set[int]] = defaultdict(set)
    for class_id, teacher_id in await session.execute(
        select(ClassTeacher.class_id, ClassTeacher.teacher_id).where(ClassTeacher.class_id.in_(class_ids))
    ):
        teachers[class_id].add(teacher_id)
    students: defaultdict[int, set[int]] = defaultdict(set)
    for class_id, student_id in await session.execute(
        select(Enrollment.class_id, Enrollment.student_id).where(
            Enrollment.class_id.in_(class_ids),
            Enrollment.student_id.in_(tutees),
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    ):
        students[class_id].add(student_id)
    unnamed = {t for ids in teachers.values() for t in ids} - names.keys()
    names.update((await session.execute(select(User.id, User.name).where(User.id.in_(unnamed)))).all())
    bookings = []
    for meeting, title, room, term_starts, term_ends in rows:
        keys: set[tuple[str, Hashable]] = {("TEACHER", t) for t in teachers[meeting.class_id]}
        keys |= {("STUDENT", s) for s in students[meeting.class_id]}
        if room:
            keys.add(("ROOM", room))
        label = f"{title}{f' in {room}' if room else ''}"
        mine = caller_id in teachers[meeting.class_id]
        for day in weekly_dates(max(first_day, term_starts), min(last_day, term_ends), meeting.weekday):
            starts = datetime.combine(day, meeting.starts_at, tzinfo=zone)
            ends = datetime.combine(day, meeting.ends_at, tzinfo=zone)
            if starts < end and ends > start:
                bookings.append(Booking(starts, ends, f"{label} on {day:%a %d %b}", frozenset(keys), mine))
    return bookings


def weekly_dates(first: date, last: date, weekday: int) -> list[date]:
    """The dates from `first` to `last` (inclusive) that fall on `weekday` (0 = Monday)."""
    day = first + timedelta(days=(weekday - first.weekday()) % 7)
    found = []
    while day <= last:
        found.append(day)
        day += timedelta(days=7)
    return found


def _overlaps(bookings: list[Booking]) -> list[tuple[str, Hashable, Booking, Booking]]:
    """Every pair of bookings of one key whose times overlap (a sweep over each key's bookings)."""
    by_key: defaultdict[tuple[str, Hashable], list[Booking]] = defaultdict(list)
    for booking in bookings:
        for key in booking.keys:
            by_key[key].append(booking)
    pairs: list[tuple[str, Hashable, Booking, Booking]] = []
    for (kind, who), booked in by_key.items():
        booked.sort(key=lambda b: (b.starts_at, b.ends_at))
        running: list[Booking] = []
        for booking in booked:
            running = [other for other in running if other.ends_at > booking.starts_at]
            pairs.extend((kind, who, other, booking) for other in running)
            running.append(booking)
    return pairs


def _conflict(kind: str, key: Hashable, first: Booking, second: Booking, names: dict[int, str]) -> Conflict:
    who = f"Room {key}" if kind == "ROOM" else names.get(key, "Someone") if isinstance(key, int) else str(key)
    return Conflict(
        kind=kind,
        starts_at=max(first.starts_at, second.starts_at),
        ends_at=min(first.ends_at, second.ends_at),
        description=f"{who} is booked twice: {first.label}, and {second.label}.",
    )
