"""What a person's calendar holds: the weekly meetings of their classes, their tutoring sessions
and the due dates of their classes' assignments.

Their classes are the ones they teach (co-taught included, whatever their role: staff, admins and
mentors have none unless they teach) and the ones they, or for a guardian their wards, are ACTIVE
in, in the school's current and next terms (current: the terms running today; next: the terms
starting soonest after today). A class meeting is weekly, from the term's first to its last day,
at its MeetingTime's local times in the school's time zone (holidays are not known here).
Tutoring sessions (not cancelled, the person's as student or teacher) and assignment due dates
(published, not archived, of those classes) count inside `window`, which the callers keep within
90 days back and a year ahead.

`CalendarEventKind.LESSON_PLAN` is in the contract, but lesson plans do not exist yet (issue 20):
none are served.

Every read is one statement whatever the number of classes: six at most.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from models import (
    Assignment,
    Class,
    ClassTeacher,
    Enrollment,
    GuardianLink,
    MeetingTime,
    School,
    Term,
    TutoringSession,
    User,
)
from models.enums import EnrollmentStatus, SessionStatus
from resolvers.schedule import weekly_dates

PAST = timedelta(days=90)
AHEAD = timedelta(days=365)
UID_DOMAIN = "campusgraph"


class EventKind(enum.Enum):
    CLASS_MEETING = "CLASS_MEETING"
    TUTORING_SESSION = "TUTORING_SESSION"
    ASSIGNMENT_DUE = "ASSIGNMENT_DUE"
    LESSON_PLAN = "LESSON_PLAN"


@dataclass(frozen=True)
class Window:
    """[starts, ends): what counts of the dated events."""

    starts: datetime
    ends: datetime

    @classmethod
    def around(cls, now: datetime) -> Window:
        return cls(now - PAST, now + AHEAD)

    def within(self, starts: datetime, ends: datetime) -> Window | None:
        """The part of this window between `starts` and `ends`, or None when they do not meet."""
        first, last = max(self.starts, starts), min(self.ends, ends)
        return Window(first, last) if first < last else None


@dataclass(frozen=True)
class Meeting:
    """A weekly meeting of a class, on `weekday` (0 = Monday) from `first_day` to `last_day`."""

    id: int
    klass: Class
    weekday: int
    starts_at: time
    ends_at: time
    first_day: date
    last_day: date

    @property
    def uid(self) -> str:
        return f"class-meeting-{self.id}@{UID_DOMAIN}"

    def days(self, first: date | None = None, last: date | None = None) -> list[date]:
        """The meeting's dates (inside `first`..`last` too, when given)."""
        first = max(self.first_day, first) if first else self.first_day
        last = min(self.last_day, last) if last else self.last_day
        return weekly_dates(first, last, self.weekday)


@dataclass(frozen=True)
class DatedEvent:
    """One event at one time: an occurrence of a meeting, a tutoring session, a due date."""

    uid: str
    kind: EventKind
    title: str
    description: str | None
    location: str | None
    starts_at: datetime
    ends_at: datetime
    all_day: bool
    klass: Class | None


@dataclass(frozen=True)
class CalendarContent:
    zone: tzinfo
    meetings: list[Meeting]
    events: list[DatedEvent]  # tutoring sessions and due dates, by start

    def occurrences(self, window: Window) -> list[DatedEvent]:
        """Each meeting's occurrences that overlap `window`, with the dated events, by start."""
        first, last = window.starts.astimezone(self.zone).date(), window.ends.astimezone(self.zone).date()
        found = [event for event in self.events if _overlaps(event.starts_at, event.ends_at, window)]
        for meeting in self.meetings:
            for day in meeting.days(first, last):
                starts = datetime.combine(day, meeting.starts_at, tzinfo=self.zone)
                ends = datetime.combine(day, meeting.ends_at, tzinfo=self.zone)
                if _overlaps(starts, ends, window):
                    found.append(_occurrence(meeting, starts, ends))
        return sorted(found, key=lambda event: (event.starts_at, event.ends_at, event.uid))


def school_zone(name: str | None) -> tzinfo:
    """The school's zone; UTC as `datetime.UTC`, so that times in it are written with a Z."""
    return UTC if not name or name == "UTC" else ZoneInfo(name)


async def calendar_content(
    session: AsyncSession, user_id: int, school_id: int, now: datetime, window: Window | None
) -> CalendarContent:
    """The person's calendar; dated events inside `window` (None: none)."""
    zone = school_zone(await session.scalar(select(School.timezone).where(School.id == school_id)))
    terms = await _current_and_next_terms(session, school_id, now.astimezone(zone).date())
    classes = await _classes(session, user_id, school_id, terms)
    meetings = await _meetings(session, classes, terms)
    events: list[DatedEvent] = []
    if window is not None:
        events += await _tutoring(session, user_id, school_id, window)
        events += await _due_dates(session, classes, window)
    events.sort(key=lambda event: (event.starts_at, event.uid))
    return CalendarContent(zone, meetings, events)


async def _current_and_next_terms(session: AsyncSession, school_id: int, today: date) -> dict[int, Term]:
    terms = (
        await session.scalars(select(Term).where(Term.school_id == school_id, Term.ends_on >= today))
    ).all()
    upcoming = [term.starts_on for term in terms if term.starts_on > today]
    next_start = min(upcoming, default=None)
    return {term.id: term for term in terms if term.starts_on <= today or term.starts_on == next_start}


async def _classes(
    session: AsyncSession, user_id: int, school_id: int, terms: dict[int, Term]
) -> dict[int, Class]:
    if not terms:
        return {}
    wards = select(GuardianLink.student_id).where(GuardianLink.guardian_id == user_id)
    mine = union(
        select(ClassTeacher.class_id).where(ClassTeacher.teacher_id == user_id),
        select(Enrollment.class_id).where(
            Enrollment.status == EnrollmentStatus.ACTIVE,
            (Enrollment.student_id == user_id) | Enrollment.student_id.in_(wards),
        ),
    )
    rows = await session.scalars(
        select(Class).where(Class.id.in_(mine), Class.school_id == school_id, Class.term_id.in_(list(terms)))
    )
    return {klass.id: klass for klass in rows}


async def _meetings(
    session: AsyncSession, classes: dict[int, Class], terms: dict[int, Term]
) -> list[Meeting]:
    if not classes:
        return []
    rows = await session.scalars(
        select(MeetingTime).where(MeetingTime.class_id.in_(list(classes))).order_by(MeetingTime.id)
    )
    meetings = []
    for row in rows:
        klass = classes[row.class_id]
        term = terms[klass.term_id]
        meeting = Meeting(
            row.id, klass, row.weekday, row.starts_at, row.ends_at, term.starts_on, term.ends_on
        )
        if meeting.days():
            meetings.append(meeting)
    return meetings


async def _tutoring(session: AsyncSession, user_id: int, school_id: int, window: Window) -> list[DatedEvent]:
    teacher, student = aliased(User), aliased(User)
    rows = await session.execute(
        select(TutoringSession, teacher.name, student.name)
        .join(teacher, teacher.id == TutoringSession.teacher_id)
        .join(student, student.id == TutoringSession.student_id)
        .where(
            TutoringSession.school_id == school_id,
            (TutoringSession.teacher_id == user_id) | (TutoringSession.student_id == user_id),
            TutoringSession.status != SessionStatus.CANCELLED,
            TutoringSession.starts_at < window.ends,
            TutoringSession.ends_at > window.starts,
        )
    )
    events = []
    for row, teacher_name, student_name in rows:
        title = (
            f"Tutoring of {student_name}" if row.teacher_id == user_id else f"Tutoring with {teacher_name}"
        )
        events.append(
            DatedEvent(
                uid=f"tutoring-session-{row.id}@{UID_DOMAIN}",
                kind=EventKind.TUTORING_SESSION,
                title=title,
                description=row.notes,
                location=row.room,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                all_day=False,
                klass=None,
            )
        )
    return events


async def _due_dates(session: AsyncSession, classes: dict[int, Class], window: Window) -> list[DatedEvent]:
    """A due date is an instant: it starts and ends at `due_at`."""
    if not classes:
        return []
    rows = await session.scalars(
        select(Assignment).where(
            Assignment.class_id.in_(list(classes)),
            Assignment.published.is_(True),
            Assignment.archived_at.is_(None),
            Assignment.due_at >= window.starts,
            Assignment.due_at < window.ends,
        )
    )
    events = []
    for row in rows:
        assert row.due_at is not None
        klass = classes[row.class_id]
        events.append(
            DatedEvent(
                uid=f"assignment-due-{row.id}@{UID_DOMAIN}",
                kind=EventKind.ASSIGNMENT_DUE,
                title=f"Due: {row.title} ({klass.title})",
                description=row.description,
                location=None,
                starts_at=row.due_at,
                ends_at=row.due_at,
                all_day=False,
                klass=klass,
            )
        )
    return events


def _overlaps(starts: datetime, ends: datetime, window: Window) -> bool:
    """Meets the window; an instant (a due date) counts at the window's start too."""
    return starts < window.ends and (ends > window.starts or starts >= window.starts)


def _occurrence(meeting: Meeting, starts: datetime, ends: datetime) -> DatedEvent:
    """An occurrence has its meeting's UID, as in the feed (where it is one VEVENT)."""
    return DatedEvent(
        uid=meeting.uid,
        kind=EventKind.CLASS_MEETING,
        title=meeting.klass.title,
        description=None,
        location=meeting.klass.room,
        starts_at=starts.astimezone(UTC),
        ends_at=ends.astimezone(UTC),
        all_day=False,
        klass=meeting.klass,
    )
