"""teacherDashboardUpdated over a real socket: a grade entered (by a co-teacher, on another server
process when REDIS_URL is set) pushes the teacher's new dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from resolvers.ids import encode_id
from tests.clients import TransportWSClient
from tests.contract.documents import contract_operation
from tests.e2e.test_live_grading import prepare
from tests.factories import Factory

UPDATED = contract_operation("TeacherDashboardUpdated")
UPDATE = contract_operation("UpdateGrade")


async def test_a_grade_pushes_the_new_dashboard(
    start_server: Any, factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    quiz = await prepare(session_factory, north)  # past due, and teacher2 co-teaches the class
    server_a = start_server()
    server_b = start_server() if settings.redis_url else server_a
    watcher = await TransportWSClient.connect(server_b.ws_url, {"accessToken": factory.token(north.teacher)})
    await watcher.subscribe(UPDATED)
    cell = {
        "studentId": encode_id("Student", north.student.id),
        "assignmentId": quiz,
    }
    async with httpx.AsyncClient(base_url=server_a.base_url) as http:
        for attempt in range(20):  # until the subscription is listening
            response = await http.post(
                "/graphql",
                json={
                    "query": UPDATE,
                    "variables": {"input": cell | {"score": attempt % 10, "expectedVersion": None}},
                },
                headers={"Authorization": f"Bearer {factory.token(north.other_teacher)}"},
            )
            assert "errors" not in response.json(), response.json()
            try:
                message = await watcher.receive(wait=0.5)
                break
            except TimeoutError:
                continue
    assert message["type"] == "next", message
    pushed = message["payload"]["data"]["teacherDashboardUpdated"]
    assert pushed["pendingGrading"] == [], "the only past-due cell is graded now"
    assert datetime.fromisoformat(pushed["generatedAt"]) > datetime.now(UTC) - timedelta(seconds=30)
    await watcher.close()


async def test_only_the_teacher_and_staff_may_subscribe(start_server: Any, factory: Factory) -> None:
    north = await factory.school("north")
    server = start_server()
    client = await TransportWSClient.connect(
        server.ws_url, {"accessToken": factory.token(north.other_teacher)}
    )
    await client.subscribe(UPDATED, {"teacherId": encode_id("Teacher", north.teacher.id)})
    message = await client.receive()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    await client.close()
