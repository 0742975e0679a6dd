"""Running the seed: `seed_demo` first looks for the demo data (`seeded_demo`: the day it is as of
and its scale) and then only sums it up, or refuses another scale (SeedRefused); otherwise it plans
and writes both schools step by step in one transaction (`seed_school`), ending with their
notifications, risk scores and the audit entry that records the day and scale, and sums up what it
wrote.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, make_url, select
from sqlalchemy.ext.asyncio import AsyncConnection
from tqdm import tqdm  # type: ignore[import-untyped]

from auth.passwords import hash_password
from config import Settings
from models import AuditEntry, Class, Course, Notification, School, Term
from models.db import create_engine
from resolvers.analytics import refresh_school_risk
from seed.academics import create_catalog, create_classes, create_enrollments, create_school
from seed.ai import create_ai_activity
from seed.assessments import create_assessments
from seed.attendance import create_attendance
from seed.calendar import TEMPLATE_TODAY, Calendar
from seed.chat import create_conversations
from seed.grades import create_gradebook
from seed.people import create_links, create_people
from seed.planning import plan_school
from seed.schools import NORTHSIDE, SCHOOLS
from seed.tutoring import create_tutoring_sessions
from seed.world import World
from seed.writer import Writer

DEMO_PASSWORD = "campus-demo"  # noqa: S105 - the documented password of the demo accounts
LEGACY_AS_OF = TEMPLATE_TODAY  # seeds that did not record their day were all as of it
SEEDED_ACTION = "demo.seeded"  # the audit entry that records a seed's day and scale
PROGRESS_FROM_SCALE = 5


class SeedRefused(SystemExit):
    """A seed request the database cannot honour as asked; the message says what to do instead.
    A SystemExit, so that `server.py seed` ends with that one line and a non-zero status."""


@dataclass(frozen=True)
class Seeded:
    """The demo data a database holds: the day it is as of, and its scale."""

    as_of: date
    scale: int


async def seed_demo(
    settings: Settings, *, scale: int | None = None, progress: bool = False, today: date | None = None
) -> str:
    """Writes the demo schools as of `today` (the current UTC date) unless they are there;
    returns a one-line summary of what happened. `scale=None` is the scale already there, or 1.

    Demo data already there is never rewritten, on a later day either: the database may hold
    work done through the API since (grades, sessions, messages, uploads), which a rebuild would
    lose, so a later run only says which day the data is as of and how to seed it afresh. For
    the same reason another `scale` than the one there is not rebuilt in place: it is refused
    (SeedRefused) with the exact steps, rather than answered with "nothing written".
    """
    if scale is not None and scale < 1:
        raise SeedRefused("seed: --scale must be at least 1")
    calendar = Calendar.on(today or datetime.now(UTC).date())
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            seeded = await seeded_demo(connection)
            if seeded is not None:
                return already_seeded(seeded, settings, calendar.today, scale)
            return await write_demo(connection, calendar, scale or 1, progress)
    finally:
        await engine.dispose()


async def write_demo(connection: AsyncConnection, calendar: Calendar, scale: int, progress: bool) -> str:
    password_hash = hash_password(DEMO_PASSWORD)
    show = progress and scale >= PROGRESS_FROM_SCALE
    with tqdm(desc="seeding demo data", unit=" rows", disable=not show) as bar:
        writer = Writer(connection, bar)
        for spec in SCHOOLS:
            await seed_school(writer, plan_school(spec, scale, calendar), password_hash)
    return f"seeded the demo data as of {calendar.today} (scale {scale}): {summarize(writer.counts)}"


async def seeded_demo(connection: AsyncConnection) -> Seeded | None:
    """The demo data in the database, or None when Northside is not there."""
    school_id = await connection.scalar(select(School.id).where(School.slug == NORTHSIDE.slug))
    if school_id is None:
        return None
    detail = await connection.scalar(
        select(AuditEntry.detail)
        .where(AuditEntry.school_id == school_id, AuditEntry.action == SEEDED_ACTION)
        .order_by(AuditEntry.id)
        .limit(1)
    )
    as_of = date.fromisoformat(detail["asOf"]) if detail else LEGACY_AS_OF
    return Seeded(as_of, await seeded_scale(connection, school_id))


async def seeded_scale(connection: AsyncConnection, school_id: int) -> int:
    """The sections of the school's first course in its newest term: its scale (the API adds no
    classes)."""
    newest = (
        select(Term.id)
        .where(Term.school_id == school_id)
        .order_by(Term.starts_on.desc())
        .limit(1)
        .scalar_subquery()
    )
    first_course = NORTHSIDE.departments[0].courses[0].code
    sections = await connection.scalar(
        select(func.count(Class.id))
        .join(Course, Course.id == Class.course_id)
        .where(Class.term_id == newest, Course.code == first_course)
    )
    return int(sections or 0)


def already_seeded(seeded: Seeded, settings: Settings, today: date, scale: int | None) -> str:
    """The summary of a run that finds the demo data there; SeedRefused when it is not as asked."""
    if scale is not None and scale != seeded.scale:
        raise SeedRefused(
            f"seed: the database already holds the demo data at scale {seeded.scale}, not {scale}, "
            f"and it is not rebuilt in place (that would lose what was done in it since). "
            f"For scale {scale}, {fresh_start(settings, scale)}"
        )
    present = f"demo data already present (as of {seeded.as_of}, scale {seeded.scale})"
    age = (today - seeded.as_of).days
    if age == 0:
        return f"{present}; nothing written"
    when = f"{_days(age)} ago" if age > 0 else f"{_days(-age)} ahead of today"
    return (
        f"{present}; nothing written. Its dates are relative to {seeded.as_of}, {when}: what was "
        f"upcoming then may be past now. For data as of today, {fresh_start(settings, seeded.scale)}"
    )


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def fresh_start(settings: Settings, scale: int) -> str:
    """How to seed an empty database instead (without DATABASE_URL, which may hold a password)."""
    command = "server.py seed --demo" + (f" --scale {scale}" if scale != 1 else "")
    if settings.is_sqlite:
        path = make_url(settings.database_url).database
        return f"delete {path} and run `{command}` again (it creates the database)."
    return f"point DATABASE_URL at an empty database, run `server.py migrate`, then `{command}`."


def summarize(counts: Counter[str]) -> str:
    return (
        f"{counts['schools']} schools, {counts['student_profiles']:,} students, "
        f"{counts['teacher_profiles']:,} teachers, {counts['classes']:,} classes, "
        f"{counts['enrollments']:,} enrollments, {counts['assignments']:,} assignments, "
        f"{counts['grades']:,} grades, {counts['attendance_records']:,} attendance records, "
        f"{counts['tutoring_sessions']:,} tutoring sessions ({counts.total():,} rows); "
        f"every demo account's password is {DEMO_PASSWORD}"
    )


async def seed_school(db: Writer, world: World, password_hash: str) -> None:
    await create_school(db, world)
    await create_catalog(db, world)
    await create_people(db, world, password_hash)
    await create_links(db, world)
    await create_classes(db, world)
    await create_enrollments(db, world)
    await create_gradebook(db, world)
    await create_attendance(db, world)
    await create_tutoring_sessions(db, world)
    await create_assessments(db, world)
    await create_conversations(db, world)
    await create_ai_activity(db, world)
    await create_notifications(db, world)
    await refresh_school_risk(db.connection, world.school_id, world.calendar.now)
    await record_seed(db, world)


async def record_seed(db: Writer, world: World) -> None:
    """The audit entry that tells a later run (and the school's admins) the day and scale."""
    entry = {
        "school_id": world.school_id,
        "actor_id": None,
        "action": SEEDED_ACTION,
        "subject_type": "School",
        "subject_id": world.school_id,
        "ip": None,
        "at": world.calendar.now,
        "detail": {"asOf": world.calendar.today.isoformat(), "scale": world.scale},
    }
    await db.insert(AuditEntry, [entry])


async def create_notifications(db: Writer, world: World) -> None:
    """What the earlier steps told the demo accounts, oldest first (so ids grow with time)."""
    rows = sorted(world.notifications, key=lambda row: (row["created_at"], row["user_id"]))
    await db.insert(Notification, rows)
