"""An open gradebook learns of new, changed and archived assignments, category weights, grade
statuses, enrollments, drops and the term's closing, from another real server process
(sharing the database, and Redis when REDIS_URL is set; without Redis both "processes" are one,
as the embedded default is), through the GradebookLiveEvents operation."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import ClassTeacher, Term
from resolvers.ids import encode_id
from tests.clients import TransportWSClient, next_gradebook_event, post_graphql
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

EVENTS = contract_operation("GradebookLiveEvents")
CREATE = contract_operation("CreateAssignment")
UPDATE = contract_operation("UpdateAssignment")
ARCHIVE = contract_operation("ArchiveAssignment")
WEIGHTS = contract_operation("SetCategoryWeights")
GRADE = contract_operation("UpdateGradeWithStatus")
ENROLL = contract_operation("EnrollStudents")
DROP = contract_operation("DropEnrollment")
CLOSE = contract_operation("CloseTerm")


async def co_teach(session_factory: async_sessionmaker[AsyncSession], school: SchoolData) -> None:
    async with session_factory.begin() as session:
        session.add(
            ClassTeacher(class_id=school.klass.id, teacher_id=school.other_teacher.id, is_primary=False)
        )


async def test_a_new_assignment_reaches_a_gradebook_open_on_another_process_within_a_second(
    start_server: Any, factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    await co_teach(session_factory, north)
    server_a = start_server()
    server_b = start_server() if settings.redis_url else server_a
    writer = factory.token(north.other_teacher)
    class_id = encode_id("Class", north.klass.id)
    watcher = await TransportWSClient.connect(server_b.ws_url, {"accessToken": factory.token(north.teacher)})
    try:
        await watcher.subscribe(EVENTS, {"classId": class_id})
        await next_gradebook_event(watcher, "EditorsChanged")

        due = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
        draft = {
            "classId": class_id,
            "title": "Lab report",
            "category": "PROJECT",
            "maxScore": 25,
            "dueAt": due.isoformat(),
        }
        started = time.monotonic()
        created = (await post_graphql(server_a.base_url, writer, CREATE, {"input": draft}))[
            "createAssignment"
        ]
        added = await next_gradebook_event(watcher, "AssignmentAdded")
        assert time.monotonic() - started < 1.0, "delivered within a second"
        assignment_id = created["assignment"]["id"]
        assert added == {
            "__typename": "AssignmentAdded",
            "classId": class_id,
            "assignment": {
                "id": assignment_id, "title": "Lab report", "category": "PROJECT", "maxScore": 25.0,
                "weight": 1.0, "dueAt": created["assignment"]["dueAt"], "published": True,
            },
            "by": {"id": encode_id("User", north.other_teacher.id), "name": north.other_teacher.name},
        }  # fmt: skip

        changes = {"assignmentId": assignment_id, "title": "Lab report (final)", "published": False}
        await post_graphql(server_a.base_url, writer, UPDATE, {"input": changes})
        changed = await next_gradebook_event(watcher, "AssignmentChanged")
        assert (changed["assignment"]["title"], changed["assignment"]["published"]) == (
            "Lab report (final)",
            False,
        )

        weights = [{"category": "PROJECT", "weight": 70}, {"category": "QUIZ", "weight": 30}]
        await post_graphql(
            server_a.base_url, writer, WEIGHTS, {"input": {"classId": class_id, "weights": weights}}
        )
        weighed = await next_gradebook_event(watcher, "CategoryWeightsChanged")
        assert weighed["categoryWeights"] == [
            {"category": "QUIZ", "weight": 30.0},
            {"category": "PROJECT", "weight": 70.0},
        ]

        cell = {"studentId": encode_id("Student", north.student.id), "assignmentId": assignment_id}
        late = cell | {"score": 20, "status": "LATE", "latePenalty": 10, "comment": "Two days late"}
        written = (await post_graphql(server_a.base_url, writer, GRADE, {"input": late}))["updateGrade"]
        graded = await next_gradebook_event(watcher, "GradeUpdated")
        assert graded["grade"] == {  # 20 less 10% = 18 of 25: 72%
            "id": written["grade"]["id"], "score": 20.0, "adjustedScore": 18.0, "letter": "C-",
            "status": "LATE", "latePenalty": 10.0, "comment": "Two days late", "version": 1,
        }  # fmt: skip

        await post_graphql(server_a.base_url, writer, ARCHIVE, {"input": {"assignmentId": assignment_id}})
        removed = await next_gradebook_event(watcher, "AssignmentRemoved")
        assert (removed["assignmentId"], removed["by"]["name"]) == (assignment_id, north.other_teacher.name)
    finally:
        await watcher.close()


async def test_enrollments_drops_and_the_term_reach_the_gradebook(
    start_server: Any, factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """StudentEnrolled, StudentDropped and TermStatusChanged are published by the roster's and the
    terms' writes; the gradebook shows them as the contract selects them."""
    north = await factory.school("north")
    server_a = start_server()
    server_b = start_server() if settings.redis_url else server_a
    staff = factory.token(north.staff)
    class_id = encode_id("Class", north.klass.id)
    newcomer = {"id": encode_id("Student", north.other_student.id), "name": north.other_student.name}
    watcher = await TransportWSClient.connect(server_b.ws_url, {"accessToken": factory.token(north.teacher)})
    try:
        await watcher.subscribe(EVENTS, {"classId": class_id})
        await next_gradebook_event(watcher, "EditorsChanged")

        enroll = {"classId": class_id, "studentIds": [newcomer["id"]]}
        enrolled = (await post_graphql(server_a.base_url, staff, ENROLL, {"input": enroll}))["enrollStudents"]
        assert enrolled["userErrors"] == []
        enrollment_id = enrolled["enrollments"][0]["id"]
        event = await next_gradebook_event(watcher, "StudentEnrolled")
        assert event == {
            "__typename": "StudentEnrolled", "classId": class_id, "enrollmentId": enrollment_id,
            "student": newcomer,
        }  # fmt: skip

        async with session_factory() as session:
            term = await session.get_one(Term, north.klass.term_id)
        drop = {"enrollmentId": enrollment_id, "effectiveDate": term.ends_on.isoformat()}
        dropped = (await post_graphql(server_a.base_url, staff, DROP, {"input": drop}))["dropEnrollment"]
        assert dropped["userErrors"] == []
        event = await next_gradebook_event(watcher, "StudentDropped")
        assert (event["enrollmentId"], event["student"], event["effectiveDate"]) == (
            enrollment_id,
            newcomer,
            drop["effectiveDate"],
        )

        term_id = encode_id("Term", north.klass.term_id)
        closed = (await post_graphql(server_a.base_url, staff, CLOSE, {"input": {"termId": term_id}}))[
            "closeTerm"
        ]
        assert closed["userErrors"] == []
        event = await next_gradebook_event(watcher, "TermStatusChanged")
        assert event == {
            "__typename": "TermStatusChanged",
            "classId": class_id,
            "termId": term_id,
            "status": "CLOSED",
        }
    finally:
        await watcher.close()
