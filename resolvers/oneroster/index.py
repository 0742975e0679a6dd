"""What an import matches lines against: the school's terms, grading periods, courses, classes
and users by sourcedId, loaded once per run and kept up to date as lines are applied.

A row without a sourcedId of its own answers to the one an export gives it, `cg-<kind>-<id>`
(`generated_id`), so a school's own export imports back into it as unchanged. Enrollments are
not here: there are many of them, so each batch of enrollment lines looks its own up.

A dry run writes nothing: what it would create gets a negative id (`fake_id`), so the lines
after it see it as the real run would, and no database lookup ever matches it.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Class, Course, GradingPeriod, School, Term, User
from models.enums import Role, TermStatus


def generated_id(kind: str, *pks: int) -> str:
    """The sourcedId an export gives a row that has none: stable, derived from its key."""
    return "-".join(["cg", kind, *(str(pk) for pk in pks)])


@dataclass(slots=True)
class TermEntry:
    id: int
    name: str
    starts_on: date
    ends_on: date
    closed: bool


@dataclass(slots=True)
class PeriodEntry:
    id: int
    term_id: int
    name: str
    starts_on: date
    ends_on: date


@dataclass(slots=True)
class CourseEntry:
    id: int
    code: str
    title: str
    credits: Decimal


@dataclass(slots=True)
class ClassEntry:
    id: int
    course_id: int
    term_id: int
    title: str
    room: str | None
    capacity: int | None


@dataclass(slots=True)
class UserEntry:
    id: int
    role: Role


@dataclass
class OrgScope:
    """Which org sourcedIds are the caller's school (orgs.csv's school row), which are other
    schools (FOREIGN_ORG), and which are other orgs (a district: accepted). Without orgs.csv
    (`known` False) org references are not checked: everything imports into the caller's school."""

    known: bool = False
    ours: set[str] = field(default_factory=set)
    foreign: set[str] = field(default_factory=set)
    others: set[str] = field(default_factory=set)


@dataclass
class SchoolIndex:
    school_id: int
    slug: str
    name: str
    orgs: OrgScope = field(default_factory=OrgScope)
    terms: dict[str, TermEntry] = field(default_factory=dict)
    term_names: dict[str, str] = field(default_factory=dict)  # name → key
    periods: dict[str, PeriodEntry] = field(default_factory=dict)
    courses: dict[str, CourseEntry] = field(default_factory=dict)
    course_codes: dict[str, str] = field(default_factory=dict)  # code → key
    classes: dict[str, ClassEntry] = field(default_factory=dict)
    users: dict[str, UserEntry] = field(default_factory=dict)
    # The start of the earliest term or semester of academicSessions.csv (cohort years count from it).
    first_session_start: date | None = None
    _fake_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(-1, -1))

    def fake_id(self) -> int:
        return next(self._fake_ids)

    def closed_term_ids(self) -> set[int]:
        return {entry.id for entry in self.terms.values() if entry.closed}

    def periods_of(self, term_id: int) -> list[tuple[str, PeriodEntry]]:
        return [(key, entry) for key, entry in self.periods.items() if entry.term_id == term_id]


def _key(sourced: str | None, kind: str, pk: int) -> str:
    return sourced or generated_id(kind, pk)


async def load_index(session: AsyncSession, school_id: int) -> SchoolIndex:
    """The school's rows by key, a handful of statements. Keys of rows with a sourcedId of their
    own are set last, so they win over a generated key that happens to read the same."""
    school = await session.get(School, school_id)
    if school is None:
        raise LookupError(f"school {school_id} does not exist")
    index = SchoolIndex(school_id=school_id, slug=school.slug, name=school.name)
    terms = (await session.scalars(select(Term).where(Term.school_id == school_id))).all()
    for term in sorted(terms, key=lambda row: row.sourced_id is not None):
        key = _key(term.sourced_id, "term", term.id)
        index.terms[key] = TermEntry(
            term.id, term.name, term.starts_on, term.ends_on, term.status == TermStatus.CLOSED
        )
        index.term_names[term.name] = key
    periods = (await session.scalars(select(GradingPeriod).where(GradingPeriod.school_id == school_id))).all()
    for period in sorted(periods, key=lambda row: row.sourced_id is not None):
        index.periods[_key(period.sourced_id, "gradingPeriod", period.id)] = PeriodEntry(
            period.id, period.term_id, period.name, period.starts_on, period.ends_on
        )
    courses = (await session.scalars(select(Course).where(Course.school_id == school_id))).all()
    for course in sorted(courses, key=lambda row: row.sourced_id is not None):
        key = _key(course.sourced_id, "course", course.id)
        index.courses[key] = CourseEntry(course.id, course.code, course.title, course.credits)
        index.course_codes[course.code] = key
    classes = (await session.scalars(select(Class).where(Class.school_id == school_id))).all()
    for klass in sorted(classes, key=lambda row: row.sourced_id is not None):
        index.classes[_key(klass.sourced_id, "class", klass.id)] = ClassEntry(
            klass.id, klass.course_id, klass.term_id, klass.title, klass.room, klass.capacity
        )
    users = await session.execute(
        select(User.id, User.role, User.sourced_id)
        .where(User.school_id == school_id)
        .order_by(User.sourced_id.is_not(None), User.id)
    )
    for user_id, role, sourced in users:
        index.users[_key(sourced, "user", user_id)] = UserEntry(user_id, role)
    return index
