"""Schedule conflicts through the contract's operation: teacher, room and student double bookings."""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import MeetingTime, User
from models.enums import SessionStatus
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData, book_session

CONFLICTS = contract_operation("ScheduleConflicts")
DAY = datetime(2026, 12, 10, tzinfo=UTC)  # a Thursday, in the factory's Fall term
WINDOW = {"from": "2026-12-07T00:00:00Z", "to": "2026-12-14T00:00:00Z"}


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def book(
    session_factory: async_sessionmaker[AsyncSession],
    school: SchoolData,
    teacher: User,
    student: User,
    starts: time,
    **more: Any,
) -> None:
    starts_at = datetime.combine(DAY.date(), starts, tzinfo=UTC)
    await book_session(session_factory, school, starts_at, teacher=teacher, student=student, **more)


async def conflicts(client: GraphQLClient, window: dict[str, str] = WINDOW) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = (await client.data(CONFLICTS, window))["scheduleConflicts"]
    return found


async def test_double_bookings_of_a_student_a_teacher_and_a_room(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    await book(session_factory, north, north.teacher, north.student, time(15, 30), room="101")
    await book(session_factory, north, north.other_teacher, north.student, time(16, 0), room="202")
    await book(session_factory, north, north.other_teacher, north.other_student, time(16, 45), room="202")
    await book(session_factory, north, north.teacher, north.other_student, time(18), room="303")
    await book(session_factory, north, north.other_teacher, north.other_student, time(18), room="404",
               status=SessionStatus.CANCELLED)  # fmt: skip
    await book(session_factory, south, south.teacher, south.student, time(15, 30), room="101")
    staff = await conflicts(gql.as_user(factory.token(north.staff)))
    assert [(c["kind"], c["startsAt"], c["endsAt"]) for c in staff] == [
        ("STUDENT", "2026-12-10T16:00:00+00:00", "2026-12-10T16:30:00+00:00"),
        ("ROOM", "2026-12-10T16:45:00+00:00", "2026-12-10T17:00:00+00:00"),
        ("TEACHER", "2026-12-10T16:45:00+00:00", "2026-12-10T17:00:00+00:00"),
    ]
    assert north.student.name in staff[0]["description"]
    assert north.teacher.name in staff[0]["description"]
    assert north.other_teacher.name in staff[0]["description"]
    assert staff[1]["description"].startswith("Room 202 is booked twice")
    # A teacher sees the conflicts that involve one of their own bookings.
    mine = await conflicts(gql.as_user(factory.token(north.teacher)))
    assert [c["kind"] for c in mine] == ["STUDENT"]
    assert len(await conflicts(gql.as_user(factory.token(north.other_teacher)))) == 3
    assert await conflicts(gql.as_user(factory.token(south.admin))) == []


async def test_a_session_during_a_class_meeting(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory.begin() as session:
        session.add(
            MeetingTime(class_id=north.klass.id, weekday=DAY.weekday(), starts_at=time(9), ends_at=time(10))
        )
    await book(session_factory, north, north.other_teacher, north.student, time(9, 30), room="B2")
    found = await conflicts(gql.as_user(factory.token(north.teacher)))
    assert [(c["kind"], c["startsAt"]) for c in found] == [("STUDENT", "2026-12-10T09:30:00+00:00")]
    assert "Algebra A in 101" in found[0]["description"]


async def test_the_window_and_who_may_ask(gql: GraphQLClient, factory: Factory, north: SchoolData) -> None:
    staff = gql.as_user(factory.token(north.staff))
    for window in (
        {"from": WINDOW["to"], "to": WINDOW["from"]},
        {"from": "2026-09-01T00:00:00Z", "to": "2026-12-03T00:00:00Z"},
    ):
        refused = await staff.execute(CONFLICTS, window)
        assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    for user in (north.student, north.mentor, north.guardian):
        refused = await gql.as_user(factory.token(user)).execute(CONFLICTS, WINDOW)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
