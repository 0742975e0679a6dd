"""Live collaborative grading across two real server processes (sharing the database, and Redis
when REDIS_URL is set; without Redis both "processes" are one, as the embedded default is)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Assignment, ClassTeacher
from models.enums import AssignmentCategory
from resolvers.ids import encode_id
from tests.clients import TransportWSClient, next_gradebook_event, post_graphql
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

EVENTS = contract_operation("GradebookEvents")
UPDATE = contract_operation("UpdateGrade")
LOCK = contract_operation("LockGradeCell")


async def graphql(server: Any, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    return await post_graphql(server.base_url, token, query, variables)


async def prepare(session_factory: async_sessionmaker[AsyncSession], school: SchoolData) -> str:
    async with session_factory.begin() as session:
        quiz = Assignment(
            class_id=school.klass.id, title="Quiz", category=AssignmentCategory.QUIZ, max_score=10.0,
            due_at=datetime.now(UTC) - timedelta(days=1),
        )  # fmt: skip
        session.add(quiz)
        session.add(
            ClassTeacher(class_id=school.klass.id, teacher_id=school.other_teacher.id, is_primary=False)
        )
    return encode_id("Assignment", quiz.id)


async def test_grades_locks_and_presence_cross_processes(
    start_server: Any, factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    quiz = await prepare(session_factory, north)
    server_a = start_server()
    server_b = start_server() if settings.redis_url else server_a
    holder_token, writer_token = factory.token(north.teacher), factory.token(north.other_teacher)
    cell = {"studentId": encode_id("Student", north.student.id), "assignmentId": quiz}
    class_id = encode_id("Class", north.klass.id)

    watcher = await TransportWSClient.connect(server_b.ws_url, {"accessToken": holder_token})
    await watcher.subscribe(EVENTS, {"classId": class_id})
    joined = await next_gradebook_event(watcher, "EditorsChanged")
    assert [e["user"]["name"] for e in joined["editors"]] == [north.teacher.name]

    started = time.monotonic()
    written = await graphql(
        server_a, writer_token, UPDATE, {"input": cell | {"score": 8, "expectedVersion": 0}}
    )
    assert written["updateGrade"]["grade"]["version"] == 1
    seen = await next_gradebook_event(watcher, "GradeUpdated")
    assert time.monotonic() - started < 1.0, "delivered within a second"
    assert seen["grade"] == {
        "id": written["updateGrade"]["grade"]["id"],
        "score": 8.0,
        "letter": "B-",
        "version": 1,
    }
    assert seen["by"]["name"] == north.other_teacher.name

    locked = await graphql(server_a, holder_token, LOCK, {"input": cell})
    assert locked["lockGradeCell"]["userErrors"] == []
    assert (await next_gradebook_event(watcher, "CellLocked"))["holder"]["name"] == north.teacher.name
    blocked = await graphql(
        server_b, writer_token, UPDATE, {"input": cell | {"score": 3, "expectedVersion": 1}}
    )
    assert blocked["updateGrade"]["userErrors"][0]["code"] == "CELL_LOCKED"

    await watcher.close()  # the holder's socket closes: their lock goes with it
    deadline = time.monotonic() + 3
    while True:
        retry = await graphql(
            server_b, writer_token, UPDATE, {"input": cell | {"score": 3, "expectedVersion": 1}}
        )
        if retry["updateGrade"]["grade"] or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    assert retry["updateGrade"]["grade"]["version"] == 2


async def test_only_readers_of_the_gradebook_may_subscribe(start_server: Any, factory: Factory) -> None:
    north = await factory.school("north")
    server = start_server()
    client = await TransportWSClient.connect(server.ws_url, {"accessToken": factory.token(north.student)})
    await client.subscribe(EVENTS, {"classId": encode_id("Class", north.klass.id)})
    message = await client.receive()
    assert message["type"] in ("error", "next")
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    await client.close()
