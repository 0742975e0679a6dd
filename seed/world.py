"""The plan of one school, made in Python before anything is written: its people (`Member`, with
their student or teacher side, `Pupil` or `Teacher`), its sections of this term and last, and
`World`, the school as planned, which carries what the later writing steps need from the earlier
ones (ids are filled in as the rows are inserted) and collects their notifications; `local_day`
names a moment's day at the school.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from models.enums import Role, StudentStatus, Tier
from seed.calendar import Calendar, TermSpec
from seed.catalog import SCRIPTED_QUIZ, CourseSpec, Department
from seed.schools import SchoolSpec
from seed.writer import Row


@dataclass(eq=False)
class Member:
    email: str
    name: str
    role: Role
    joined: datetime
    tier: Tier = Tier.FREE
    key: str | None = None  # the account key of a demo account
    active: bool = True
    id: int = 0

    @property
    def first_name(self) -> str:
        return self.name.split()[0]


@dataclass(eq=False)
class Pupil:
    member: Member
    number: str
    grade_level: int
    cohort_year: int  # the year they started at the school
    status: StudentStatus
    ability: float  # expected share of the points, at the start of the term
    trend: float  # change of ability per week
    absence_rate: float


@dataclass(eq=False)
class Teacher:
    member: Member
    department: Department
    room: str
    rate_cents: int
    busy: set[int] = field(default_factory=set)  # the periods of a generated teacher's classes


@dataclass(eq=False)
class Section:
    course: CourseSpec
    department: Department
    term: TermSpec
    period: int
    number: int
    teacher: Teacher
    co_teacher: Teacher | None
    students: list[Pupil]
    id: int = 0

    @property
    def title(self) -> str:
        return f"{self.course.title}, section {self.number}"


@dataclass(eq=False)
class World:
    """One school as planned, and what its later steps need from the earlier ones."""

    spec: SchoolSpec
    scale: int
    rng: random.Random
    zone: ZoneInfo
    calendar: Calendar
    members: list[Member] = field(default_factory=list)
    accounts: dict[str, Member] = field(default_factory=dict)
    teachers: list[Teacher] = field(default_factory=list)
    students: list[Pupil] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)  # this term
    past_sections: list[Section] = field(default_factory=list)  # last term
    guardian_links: list[tuple[Member, Pupil]] = field(default_factory=list)
    mentor_links: list[tuple[Member, Pupil]] = field(default_factory=list)
    notifications: list[Row] = field(default_factory=list)
    school_id: int = 0
    term_ids: dict[str, int] = field(default_factory=dict)
    course_ids: dict[str, int] = field(default_factory=dict)

    def local(self, day: date, at: time) -> datetime:
        """A wall-clock time at the school, in UTC."""
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)

    def account_teacher(self, key: str) -> Teacher:
        return next(teacher for teacher in self.teachers if teacher.member.key == key)

    def scripted(self, text: str) -> str:
        """A line of the specs' scripts with the dates it names as they fall."""
        quiz_day = self.calendar.day(SCRIPTED_QUIZ)
        return text.format(quiz_day=f"{quiz_day:%B} {quiz_day.day}")

    def notify(
        self, member: Member, kind: str, title: str, body: str, at: datetime, *, unread: bool = False
    ) -> None:
        """Notifications go to the demo accounts only; unless `unread`, those older than three days
        have been read."""
        if member.key is None:
            return
        recent = at >= self.calendar.now - timedelta(days=3)
        read_at = None if unread or recent else at + timedelta(hours=3)
        self.notifications.append(
            {
                "user_id": member.id,
                "kind": kind,
                "title": title,
                "body": body,
                "created_at": at,
                "read_at": read_at,
            }
        )


def local_day(world: World, moment: datetime) -> str:
    day = moment.astimezone(world.zone)
    return f"{day:%A, %B} {day.day}"
