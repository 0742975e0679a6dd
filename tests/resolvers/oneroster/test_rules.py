"""The roster's rules hold for imported lines too: seats, closed terms, the school's own rows
(matched by the sourcedId an export gives them), deletions that are not applied, and open
gradebooks told of enrollments."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Class, Enrollment, Term, User
from models.enums import EnrollmentStatus, TermStatus
from server import create_app
from subscriptions.channels import gradebook_channel
from subscriptions.events import GRADEBOOK_EVENTS, ClassTeachersChanged, StudentEnrolled
from tests.factories import Factory, SchoolData
from tests.resolvers.oneroster.builder import RosterSet, counts_of, school_set, upload
from tests.resolvers.oneroster.test_import import imported


def into_factory_class(north: SchoolData, students: list[str]) -> RosterSet:
    """Enrollments of new students into the factory's class, which has no sourcedId: the set
    names it (and the factory's term) by the ids an export would give them."""
    roster = school_set(students=len(students), teachers=1, classes=1, guardians=0)
    for key in students:
        roster.add_enrollment(f"x-{key}", f"cg-class-{north.klass.id}", key, "student")
    return roster


async def test_a_full_class_takes_no_more_students(
    http: httpx.AsyncClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    async with session_factory.begin() as session:  # two seats, one taken by the factory's student
        await session.execute(update(Class).where(Class.id == north.klass.id).values(capacity=2))
    result = imported(
        await upload(
            http, factory.token(north.staff), into_factory_class(north, ["stu-0", "stu-1", "stu-2"]).files()
        )
    )
    refused = [p for p in result["problems"]["nodes"] if p["code"] == "CAPACITY_EXCEEDED"]
    assert [p["sourcedId"] for p in refused] == ["x-stu-1", "x-stu-2"]
    async with session_factory() as session:
        seats = await session.scalar(
            select(func.count())
            .select_from(Enrollment)
            .where(Enrollment.class_id == north.klass.id, Enrollment.status == EnrollmentStatus.ACTIVE)
        )
    assert seats == 2


async def test_a_closed_term_is_frozen_for_imports(
    http: httpx.AsyncClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    async with session_factory.begin() as session:
        await session.execute(
            update(Term).where(Term.id == north.klass.term_id).values(status=TermStatus.CLOSED)
        )
    roster = into_factory_class(north, ["stu-0"])
    roster.add_enrollment("x-kept", f"cg-class-{north.klass.id}", f"cg-user-{north.student.id}", "student")
    result = imported(await upload(http, factory.token(north.staff), roster.files()))
    problems = {p["sourcedId"]: p["code"] for p in result["problems"]["nodes"]}
    assert problems == {"x-stu-0": "TERM_CLOSED"}, "the enrolled student's unchanged line is no write"
    assert counts_of(result)["enrollments"]["unchanged"] == 1


async def test_deleting_people_or_terms_by_file_is_not_applied(
    http: httpx.AsyncClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    token = factory.token(north.staff)
    roster = school_set(students=2, teachers=1, classes=1, guardians=0)
    imported(await upload(http, token, roster.files()))
    for file in ("users.csv", "academicSessions.csv"):
        for row in roster.rows[file]:
            if row["sourcedId"] in ("stu-0", "term-1"):
                row["status"] = "tobedeleted"
    result = imported(await upload(http, token, roster.files()))
    problems = {(p["file"], p["sourcedId"]): (p["field"], p["code"]) for p in result["problems"]["nodes"]}
    assert problems == {
        ("users.csv", "stu-0"): ("status", "UNSUPPORTED_STATUS"),
        ("academicSessions.csv", "term-1"): ("status", "UNSUPPORTED_STATUS"),
    }
    async with session_factory() as session:
        assert await session.scalar(select(User.id).where(User.sourced_id == "stu-0")) is not None
        assert await session.scalar(select(Term.id).where(Term.sourced_id == "term-1")) is not None


async def test_open_gradebooks_hear_of_imported_students(factory: Factory, settings: Settings) -> None:
    north = await factory.school("north")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        bus = app.state.campus.bus
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://campus.test") as http,
            bus.subscribe(gradebook_channel(north.klass.id), GRADEBOOK_EVENTS) as events,
        ):
            imported(
                await upload(
                    http, factory.token(north.staff), into_factory_class(north, ["stu-0", "stu-1"]).files()
                )
            )
            heard = [await asyncio.wait_for(anext(events), 5) for _ in range(2)]
    assert all(isinstance(event, StudentEnrolled) for event in heard)
    assert sorted(event.student.name for event in heard if isinstance(event, StudentEnrolled)) == [
        "Stu-0 Tester",
        "Stu-1 Tester",
    ]


async def test_a_teacher_taken_off_by_an_import_loses_the_open_gradebook(
    factory: Factory, settings: Settings
) -> None:
    """A `tobedeleted` teacher line takes the teacher off the class; open gradebooks hear the
    class's remaining teachers (ClassTeachersChanged), which ends that teacher's subscription."""
    north = await factory.school("north")
    roster = school_set(students=0, teachers=0, classes=0, guardians=0)
    teacher = f"cg-user-{north.teacher.id}"
    roster.add_enrollment("x-t", f"cg-class-{north.klass.id}", teacher, "teacher", status="tobedeleted")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        bus = app.state.campus.bus
        async with (
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://campus.test") as http,
            bus.subscribe(gradebook_channel(north.klass.id), GRADEBOOK_EVENTS) as events,
        ):
            imported(await upload(http, factory.token(north.staff), roster.files()))
            heard = await asyncio.wait_for(anext(events), 5)
    assert heard == ClassTeachersChanged(class_id=north.klass.id, teacher_ids=())
