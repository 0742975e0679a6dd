"""A teacher taken off a class loses its gradebook at once, open subscriptions included: staff
update the class through one real server process, and the removed teacher's gradebookEvents
subscription on another ends with FORBIDDEN within a second (sharing the database, and Redis
when REDIS_URL is set; without Redis both "processes" are one, as the embedded default is),
while a co-teacher who stays and the school's staff keep receiving the class's events."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Assignment, ClassTeacher
from models.enums import AssignmentCategory
from resolvers.ids import encode_id
from tests.clients import TransportWSClient, post_graphql
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

EVENTS = contract_operation("GradebookLiveEvents")
UPDATE_CLASS = contract_operation("UpdateClass")
UPDATE_GRADE = contract_operation("UpdateGrade")
LOCK = contract_operation("LockGradeCell")
# Every type a client may be sent: the channel's internal ClassTeachersChanged is not one of them.
SHOWN = {
    "GradeUpdated", "CellLocked", "CellUnlocked", "EditorsChanged", "FinalGradesCalculated",
    "AssignmentAdded", "AssignmentChanged", "AssignmentRemoved", "StudentEnrolled", "StudentDropped",
    "CategoryWeightsChanged", "TermStatusChanged",
}  # fmt: skip


async def next_event(client: TransportWSClient, typename: str) -> dict[str, Any]:
    while True:
        message = await client.receive(wait=5)
        assert message["type"] == "next", message
        event: dict[str, Any] = message["payload"]["data"]["gradebookEvents"]
        assert event["__typename"] in SHOWN, event
        if event["__typename"] == typename:
            return event


async def ended_with(client: TransportWSClient, wait: float) -> tuple[list[str], dict[str, Any]]:
    """The events a subscription still got, and the error that ended it: `next` with errors,
    then `complete`; or, refused before its first event, `error`."""
    shown: list[str] = []
    while True:
        message = await client.receive(wait=wait)
        if message["type"] == "error":
            return shown, message["payload"][0]
        assert message["type"] == "next", message
        payload = message["payload"]
        if payload.get("errors"):
            assert payload["data"] is None
            assert (await client.receive(wait=wait))["type"] == "complete"
            error: dict[str, Any] = payload["errors"][0]
            return shown, error
        shown.append(payload["data"]["gradebookEvents"]["__typename"])
        assert shown[-1] in SHOWN, payload


async def prepare(session_factory: async_sessionmaker[AsyncSession], school: SchoolData) -> str:
    """other_teacher co-teaches the class, which has a quiz; the quiz's global id."""
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


async def test_a_teacher_taken_off_the_class_loses_the_open_gradebook_on_every_process(
    start_server: Any, factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    quiz = await prepare(session_factory, north)
    watched = start_server()  # process 1: the subscriptions
    writes = start_server() if settings.redis_url else watched  # process 2: the writes
    class_id = encode_id("Class", north.klass.id)
    cell = {"studentId": encode_id("Student", north.student.id), "assignmentId": quiz}
    removed_token, staying_token = factory.token(north.teacher), factory.token(north.other_teacher)

    removed = await TransportWSClient.connect(watched.ws_url, {"accessToken": removed_token})
    staying = await TransportWSClient.connect(watched.ws_url, {"accessToken": staying_token})
    staff = await TransportWSClient.connect(writes.ws_url, {"accessToken": factory.token(north.staff)})
    try:
        for client in (removed, staying, staff):
            await client.subscribe(EVENTS, {"classId": class_id})
            await next_event(client, "EditorsChanged")
        locked = await post_graphql(watched.base_url, removed_token, LOCK, {"input": cell})
        assert locked["lockGradeCell"]["userErrors"] == []
        await next_event(staying, "CellLocked")

        started = time.monotonic()
        teachers = [encode_id("Teacher", north.other_teacher.id)]
        update = {"input": {"classId": class_id, "teacherIds": teachers}}
        moved = (await post_graphql(writes.base_url, factory.token(north.staff), UPDATE_CLASS, update))[
            "updateClass"
        ]
        assert moved["userErrors"] == []
        _, error = await ended_with(removed, wait=2)  # what it still got: client events only
        assert time.monotonic() - started < 1.0, "ended within a second"
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert error["message"] == "You no longer teach this class: its gradebook is closed to you."

        # Leaving released the removed teacher's lock and presence, for everyone still there.
        unlocked = await next_event(staying, "CellUnlocked")
        assert (unlocked["studentId"], unlocked["assignmentId"]) == (cell["studentId"], quiz)
        editors = await next_event(staying, "EditorsChanged")
        assert north.teacher.name not in [e["user"]["name"] for e in editors["editors"]]

        written = await post_graphql(
            writes.base_url, staying_token, UPDATE_GRADE, {"input": cell | {"score": 9, "expectedVersion": 0}}
        )
        assert written["updateGrade"]["userErrors"] == []
        for client in (staying, staff):
            graded = await next_event(client, "GradeUpdated")
            assert (graded["grade"]["score"], graded["by"]["name"]) == (9.0, north.other_teacher.name)

        # Subscribing again on the same socket is refused too (the connection's loaders are not trusted).
        await removed.subscribe(EVENTS, {"classId": class_id})
        shown, error = await ended_with(removed, wait=5)
        assert (shown, error["extensions"]["code"]) == ([], "FORBIDDEN")
        with pytest.raises(TimeoutError):  # the removed teacher receives nothing more
            await removed.receive(wait=0.5)
    finally:
        for client in (removed, staying, staff):
            await client.close()
