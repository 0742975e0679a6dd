"""Completing sessions and the earnings they produce, through the contract's operations."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import School, StudentRisk, TutoringSession
from models.enums import SessionStatus
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData, book_session

COMPLETE = contract_operation("CompleteSession")
EARNINGS = contract_operation("TeacherEarnings")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def book(
    session_factory: async_sessionmaker[AsyncSession], school: SchoolData, starts_at: datetime, **more: Any
) -> str:
    return encode_id("TutoringSession", await book_session(session_factory, school, starts_at, **more))


async def complete(client: GraphQLClient, session_id: str, **fields: Any) -> dict[str, Any]:
    variables = {"input": {"sessionId": session_id, "attended": True} | fields}
    payload: dict[str, Any] = (await client.data(COMPLETE, variables))["completeSession"]
    return payload


async def test_the_teacher_completes_a_session_once(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    session_id = await book(session_factory, north, datetime.now(UTC) - timedelta(hours=2))
    teacher = gql.as_user(factory.token(north.teacher))
    async with session_factory() as session:
        risk_before = await session.scalar(
            select(StudentRisk.computed_at).where(StudentRisk.student_id == north.student.id)
        )
    done = await complete(
        teacher, session_id, notes="  Fractions went well. ", topicsCovered=["fractions", " "]
    )
    assert done["userErrors"] == []
    assert done["session"]["status"] == "COMPLETED"
    assert (done["session"]["attended"], done["session"]["notes"]) == (True, "Fractions went well.")
    assert datetime.fromisoformat(done["session"]["completedAt"]) > datetime.now(UTC) - timedelta(minutes=1)
    async with session_factory() as session:
        stored = await session.scalar(select(TutoringSession.topics_covered))
        risk_after = await session.scalar(
            select(StudentRisk.computed_at).where(StudentRisk.student_id == north.student.id)
        )
    assert stored == ["fractions"]
    assert risk_before is not None
    assert risk_after is not None
    assert risk_after > risk_before
    again = await complete(teacher, session_id, attended=False)
    assert again["session"] is None
    assert again["userErrors"][0]["code"] == "ALREADY_COMPLETED"


async def test_someone_elses_session_is_refused(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    session_id = await book(session_factory, north, datetime.now(UTC) - timedelta(hours=2))
    for user in (north.other_teacher, north.admin, north.student, south.teacher):
        refused = await gql.as_user(factory.token(user)).execute(
            COMPLETE, {"input": {"sessionId": session_id, "attended": True}}
        )
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.email
    async with session_factory() as session:
        assert await session.scalar(select(TutoringSession.status)) == SessionStatus.SCHEDULED


async def test_no_shows_cancellations_and_future_sessions(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    now = datetime.now(UTC)
    teacher = gql.as_user(factory.token(north.teacher))
    missed = await complete(
        teacher, await book(session_factory, north, now - timedelta(days=1)), attended=False
    )
    assert (missed["session"]["status"], missed["session"]["attended"]) == ("NO_SHOW", False)
    cancelled = await book(session_factory, north, now - timedelta(days=2), status=SessionStatus.CANCELLED)
    assert (await complete(teacher, cancelled))["userErrors"][0]["code"] == "SESSION_CANCELLED"
    future = await book(session_factory, north, now + timedelta(days=1))
    assert (await complete(teacher, future))["userErrors"][0]["code"] == "NOT_STARTED"
    past = await book(session_factory, north, now - timedelta(days=3))
    too_long = await complete(teacher, past, notes="x" * 5001)
    assert too_long["userErrors"][0]["field"] == ["input", "notes"]


async def test_of_concurrent_completions_exactly_one_wins(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    session_id = await book(session_factory, north, datetime.now(UTC) - timedelta(hours=1))
    teacher = gql.as_user(factory.token(north.teacher))
    results = await asyncio.gather(*(complete(teacher, session_id) for _ in range(8)))
    assert sum(1 for r in results if r["session"]) == 1
    assert (
        sorted(r["userErrors"][0]["code"] for r in results if not r["session"]) == ["ALREADY_COMPLETED"] * 7
    )


async def test_earnings_by_month_in_the_schools_timezone(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory.begin() as session:
        await session.execute(update(School).values(timezone="America/New_York"))
    # 2026-10-31 23:30 in New York is November in UTC: it counts in October.
    await book(
        session_factory, north, datetime(2026, 11, 1, 3, 30, tzinfo=UTC), status=SessionStatus.COMPLETED
    )
    await book(session_factory, north, datetime(2026, 10, 5, 20, tzinfo=UTC), status=SessionStatus.COMPLETED,
               rate_cents=3333, paid=True)  # fmt: skip
    await book(session_factory, north, datetime(2026, 11, 10, 20, tzinfo=UTC), status=SessionStatus.COMPLETED)
    await book(session_factory, north, datetime(2026, 11, 12, 20, tzinfo=UTC), status=SessionStatus.NO_SHOW)
    await book(session_factory, north, datetime(2026, 11, 13, 20, tzinfo=UTC), status=SessionStatus.CANCELLED)
    window = {"from": "2026-09-01T00:00:00-04:00", "to": "2026-12-01T00:00:00-05:00"}
    report = (await gql.as_user(factory.token(north.teacher)).data(EARNINGS, window))["teacherEarnings"]
    assert (report["currency"], report["total"], report["sessionCount"]) == ("USD", "123.33", 3)
    assert report["byMonth"] == [
        {"month": "2026-09", "amount": "0.00", "sessionCount": 0},
        {"month": "2026-10", "amount": "78.33", "sessionCount": 2},
        {"month": "2026-11", "amount": "45.00", "sessionCount": 1},
    ]
    teacher_id = encode_id("Teacher", north.teacher.id)
    staff = await gql.as_user(factory.token(north.staff)).data(EARNINGS, window | {"teacherId": teacher_id})
    assert staff["teacherEarnings"]["total"] == "123.33"
    other = await gql.as_user(factory.token(north.other_teacher)).execute(
        EARNINGS, window | {"teacherId": teacher_id}
    )
    assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    backwards = await gql.as_user(factory.token(north.teacher)).execute(
        EARNINGS, {"from": window["to"], "to": window["from"]}
    )
    assert backwards["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
