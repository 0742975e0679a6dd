"""A student's dashboard is pushed within a second of a grade change made through any process."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Assignment
from models.enums import AssignmentCategory
from resolvers.ids import encode_id
from tests.clients import TransportWSClient
from tests.contract.documents import contract_operation
from tests.e2e.test_live_grading import graphql
from tests.factories import Factory

PUSHED = contract_operation("StudentDashboardUpdated")
UPDATE = contract_operation("UpdateGrade")


async def test_a_grade_change_pushes_the_new_dashboard(
    start_server: Any, factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    async with session_factory.begin() as session:
        quiz = Assignment(
            class_id=north.klass.id, title="Quiz", category=AssignmentCategory.QUIZ, max_score=10.0,
            due_at=datetime.now(UTC) - timedelta(days=1),
        )  # fmt: skip
        session.add(quiz)
    server_a = start_server()
    server_b = start_server() if settings.redis_url else server_a
    subscriber = await TransportWSClient.connect(
        server_b.ws_url, {"accessToken": factory.token(north.student)}
    )
    await subscriber.subscribe(PUSHED, {})
    cell = {
        "studentId": encode_id("Student", north.student.id),
        "assignmentId": encode_id("Assignment", quiz.id),
    }
    started = time.monotonic()
    await graphql(
        server_a, factory.token(north.teacher), UPDATE, {"input": cell | {"score": 9, "expectedVersion": 0}}
    )
    message = await subscriber.receive(wait=5)
    elapsed = time.monotonic() - started
    await subscriber.close()
    assert message["type"] == "next", message
    pushed = message["payload"]["data"]["studentDashboardUpdated"]
    assert pushed["courses"][0]["currentGrade"] == {"percentage": 90.0, "letter": "A-"}
    assert pushed["notifications"] == {"status": "OK", "unreadCount": 1}
    assert elapsed < 1.0, f"pushed after {elapsed:.2f} s"
