"""Enrollments through the contract's operations: enrollStudents (all or nothing, seats held
under concurrent requests, in one process and across two), dropEnrollment (kept, with its
history and grades) and coming back, and the gradebook events they send."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from context import AppState
from models import AuditEntry, Enrollment, EnrollmentChange, Grade, Term
from models.enums import EnrollmentStatus, TermStatus
from resolvers.ids import encode_id
from server import create_app
from subscriptions.channels import gradebook_channel
from subscriptions.events import GRADEBOOK_EVENTS, StudentDropped, StudentEnrolled
from tests.clients import GraphQLClient, post_graphql
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.resolvers.test_classes import DETAIL

ENROLL = contract_operation("EnrollStudents")
DROP = contract_operation("DropEnrollment")
GRADEBOOK = contract_operation("Gradebook")
# Student.enrollments (schema.students) makes its enrollments from class and student ids.
OWN_ENROLLMENTS = """query Own($id: ID!) {
  student(id: $id) {
    enrollments { id status class { id } currentGrade { percentage letter } attendanceRate }
  }
}"""


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[tuple[GraphQLClient, AppState]]:
    """An in-process app and its state (to listen on its event bus)."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://campus.test") as client:
            yield GraphQLClient(client), application.state.campus


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


def gid(type_name: str, pk: int) -> str:
    return encode_id(type_name, pk)


async def enroll(client: GraphQLClient, class_id: int, *student_ids: str) -> dict[str, Any]:
    variables = {"input": {"classId": gid("Class", class_id), "studentIds": list(student_ids)}}
    payload: dict[str, Any] = (await client.data(ENROLL, variables))["enrollStudents"]
    return payload


async def drop(
    client: GraphQLClient, enrollment_id: str, day: str, reason: str | None = None
) -> dict[str, Any]:
    variables = {"input": {"enrollmentId": enrollment_id, "effectiveDate": day, "reason": reason}}
    payload: dict[str, Any] = (await client.data(DROP, variables))["dropEnrollment"]
    return payload


def problems(payload: dict[str, Any]) -> list[tuple[list[str] | None, str]]:
    return [(error["field"], error["code"]) for error in payload["userErrors"]]


async def counts(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    """Enrollments, active ones, and history rows."""
    async with session_factory() as session:
        every = await session.scalar(select(func.count()).select_from(Enrollment))
        active = await session.scalar(
            select(func.count()).select_from(Enrollment).where(Enrollment.status == EnrollmentStatus.ACTIVE)
        )
        changes = await session.scalar(select(func.count()).select_from(EnrollmentChange))
    return every or 0, active or 0, changes or 0


async def next_events(events: AsyncIterator[Any], count: int) -> list[Any]:
    return [await asyncio.wait_for(anext(events), 5) for _ in range(count)]


async def test_staff_enroll_students_and_open_gradebooks_hear_of_it(
    app: tuple[GraphQLClient, AppState], factory: Factory, north: SchoolData
) -> None:
    gql, state = app
    [ana, bo] = await factory.students(north, ["Ana", "Bo"])
    staff = gql.as_user(factory.token(north.staff))
    wanted = [gid("Student", north.other_student.id), gid("Student", ana.id), gid("Student", bo.id)]
    async with state.bus.subscribe(gradebook_channel(north.klass.id), GRADEBOOK_EVENTS) as events:
        made = await enroll(staff, north.klass.id, *wanted)
        heard = await next_events(events, 3)
    assert made["userErrors"] == []
    assert made["class"] == {"id": gid("Class", north.klass.id), "enrolledCount": 4, "capacity": None}
    assert [(e["status"], e["student"]["id"]) for e in made["enrollments"]] == [("ACTIVE", s) for s in wanted]
    assert all(isinstance(event, StudentEnrolled) for event in heard)
    assert [(e.class_id, e.student.id, e.student.name) for e in heard] == [
        (north.klass.id, north.other_student.id, north.other_student.name),
        (north.klass.id, ana.id, "Ana"),
        (north.klass.id, bo.id, "Bo"),
    ]
    assert [gid("Enrollment", e.enrollment_id) for e in heard] == [e["id"] for e in made["enrollments"]]

    page = (await staff.data(DETAIL, {"id": gid("Class", north.klass.id)}))["class"]
    [history] = [e["history"] for e in page["enrollments"]["nodes"] if e["student"]["name"] == "Ana"]
    assert [(h["status"], h["changedBy"]["name"], h["reason"]) for h in history] == [
        ("ACTIVE", north.staff.name, None)
    ]
    assert history[0]["effectiveDate"] >= "2026-09-01"  # the term's first day, or today if later
    async with factory.session_factory() as session:
        audited = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "enrollment.enrolled"))
        ).all()
    assert {entry.subject_id for entry in audited} == {north.other_student.id, ana.id, bo.id}
    assert {entry.detail["classId"] for entry in audited} == {north.klass.id}


async def test_enrollment_is_all_or_nothing(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    [ana, bo, cy] = await factory.students(north, ["Ana", "Bo", "Cy"])
    small = await factory.section(north, "Seminar", capacity=2, students=[ana])
    staff = gql.as_user(factory.token(north.admin))
    before = await counts(session_factory)
    for role in ("teacher", "student", "guardian", "mentor"):
        refused = await gql.as_user(factory.token(north.users[role])).execute(
            ENROLL, {"input": {"classId": gid("Class", small.id), "studentIds": [gid("Student", bo.id)]}}
        )
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role

    mixed = await enroll(
        staff,
        north.klass.id,
        gid("Student", bo.id),
        gid("Student", north.student.id),
        gid("Student", south.student.id),
        gid("Student", 10**6),
        gid("Teacher", north.teacher.id),
    )
    assert mixed["class"] is None
    assert mixed["enrollments"] == []
    assert problems(mixed) == [
        (["input", "studentIds", "1"], "ALREADY_ENROLLED"),
        (["input", "studentIds", "2"], "NOT_FOUND"),
        (["input", "studentIds", "3"], "NOT_FOUND"),
        (["input", "studentIds", "4"], "NOT_FOUND"),
    ]
    too_many = await enroll(staff, small.id, gid("Student", bo.id), gid("Student", cy.id))
    assert problems(too_many) == [(["input", "studentIds"], "CAPACITY_EXCEEDED")]
    assert too_many["userErrors"][0]["message"] == "1 seats are left in the class; 2 asked for."
    foreign = await enroll(
        gql.as_user(factory.token(south.staff)), small.id, gid("Student", south.student.id)
    )
    assert problems(foreign) == [(["input", "classId"], "NOT_FOUND")]
    nobody = await enroll(staff, small.id)
    assert problems(nobody) == [(["input", "studentIds"], "INVALID")]
    async with session_factory.begin() as session:
        await session.execute(update(Term).where(Term.id == small.term_id).values(status=TermStatus.CLOSED))
    closed = await enroll(staff, small.id, gid("Student", bo.id))
    assert [e["code"] for e in closed["userErrors"]] == ["TERM_CLOSED"]
    assert await counts(session_factory) == before


async def test_a_drop_keeps_the_enrollment_and_a_dropped_student_comes_back(
    app: tuple[GraphQLClient, AppState], factory: Factory, north: SchoolData
) -> None:
    gql, state = app
    south = await factory.school("south")
    quiz = await factory.graded(north.klass.id, north.student, 7)
    staff = gql.as_user(factory.token(north.staff))
    teacher = gql.as_user(factory.token(north.teacher))
    class_id = gid("Class", north.klass.id)
    [enrollment] = (await staff.data(DETAIL, {"id": class_id}))["class"]["enrollments"]["nodes"]

    outside = await drop(staff, enrollment["id"], "2027-03-01")
    assert problems(outside) == [(["input", "effectiveDate"], "INVALID")]
    refused = await teacher.execute(
        DROP, {"input": {"enrollmentId": enrollment["id"], "effectiveDate": "2026-10-15"}}
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    foreign = await drop(gql.as_user(factory.token(south.admin)), enrollment["id"], "2026-10-15")
    assert problems(foreign) == [(["input", "enrollmentId"], "NOT_FOUND")]

    async with state.bus.subscribe(gradebook_channel(north.klass.id), GRADEBOOK_EVENTS) as events:
        dropped = await drop(staff, enrollment["id"], "2026-10-15", "Moved away")
        [heard] = await next_events(events, 1)
    assert dropped["userErrors"] == []
    gone = dropped["enrollment"]
    assert (gone["id"], gone["status"], gone["droppedOn"]) == (enrollment["id"], "DROPPED", "2026-10-15")
    assert gone["class"] == {"id": class_id, "enrolledCount": 0}
    assert [
        (h["status"], h["effectiveDate"], h["reason"], h["changedBy"]["id"]) for h in gone["history"]
    ] == [("DROPPED", "2026-10-15", "Moved away", gid("User", north.staff.id))]
    assert isinstance(heard, StudentDropped)
    assert (heard.student.id, heard.effective_date) == (north.student.id, date(2026, 10, 15))
    sheet = (await teacher.data(GRADEBOOK, {"classId": class_id}))["gradebook"]
    assert sheet["rows"] == []
    async with factory.session_factory() as session:
        assert await session.scalar(select(Grade.score).where(Grade.assignment_id == quiz)) == 7
    again = await drop(staff, enrollment["id"], "2026-10-16")
    assert problems(again) == [(["input", "enrollmentId"], "FORBIDDEN_STATE")]
    only_dropped = await staff.data(DETAIL, {"id": class_id, "enrollmentStatus": ["DROPPED"]})
    assert [e["status"] for e in only_dropped["class"]["enrollments"]["nodes"]] == ["DROPPED"]
    assert only_dropped["class"]["students"]["totalCount"] == 0
    none_active = await staff.data(DETAIL, {"id": class_id, "enrollmentStatus": ["ACTIVE", "COMPLETED"]})
    assert none_active["class"]["enrollments"]["totalCount"] == 0

    back = await enroll(staff, north.klass.id, gid("Student", north.student.id))
    assert [(e["id"], e["status"]) for e in back["enrollments"]] == [(enrollment["id"], "ACTIVE")]
    page = (await staff.data(DETAIL, {"id": class_id}))["class"]
    [returned] = page["enrollments"]["nodes"]
    assert (returned["status"], returned["droppedOn"]) == ("ACTIVE", None)
    assert [h["status"] for h in returned["history"]] == ["DROPPED", "ACTIVE"]
    [row] = (await teacher.data(GRADEBOOK, {"classId": class_id}))["gradebook"]["rows"]
    assert [cell["score"] for cell in row["cells"]] == [7.0]
    own = await gql.as_user(factory.token(north.student)).data(
        OWN_ENROLLMENTS, {"id": gid("Student", north.student.id)}
    )
    assert own["student"]["enrollments"] == [
        {
            "id": enrollment["id"], "status": "ACTIVE", "class": {"id": class_id},
            "currentGrade": {"percentage": 70.0, "letter": "C-"}, "attendanceRate": None,
        }
    ]  # fmt: skip

    async with factory.session_factory.begin() as session:
        await session.execute(
            update(Term).where(Term.id == north.klass.term_id).values(status=TermStatus.CLOSED)
        )
    closed = await drop(staff, enrollment["id"], "2026-10-20")
    assert [e["code"] for e in closed["userErrors"]] == ["TERM_CLOSED"]


async def test_the_last_seats_go_to_exactly_as_many_of_concurrent_requests(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    racers = await factory.students(north, [f"Racer {n}" for n in range(6)])
    klass = await factory.section(north, "Popular", capacity=3, students=[north.student])
    staff = gql.as_user(factory.token(north.staff))
    results = await asyncio.gather(*(enroll(staff, klass.id, gid("Student", racer.id)) for racer in racers))
    won = [result for result in results if not result["userErrors"]]
    assert len(won) == 2
    assert {e["code"] for r in results if r["userErrors"] for e in r["userErrors"]} == {"CAPACITY_EXCEEDED"}
    page = (await staff.data(DETAIL, {"id": gid("Class", klass.id)}))["class"]
    assert (page["enrolledCount"], page["students"]["totalCount"]) == (3, 3)


async def test_the_last_seat_goes_to_one_of_two_server_processes(
    start_server: Any, factory: Factory, north: SchoolData
) -> None:
    servers = [start_server(), start_server()]
    token = factory.token(north.staff)
    for round_number in range(3):
        klass = await factory.section(north, f"Last seat {round_number}", capacity=1)
        pair = await factory.students(north, [f"First {round_number}", f"Second {round_number}"])

        async def claim(server: Any, student_id: int, class_id: int = klass.id) -> dict[str, Any]:
            variables = {
                "input": {"classId": gid("Class", class_id), "studentIds": [gid("Student", student_id)]}
            }
            data = await post_graphql(server.base_url, token, ENROLL, variables, wait=30)
            payload: dict[str, Any] = data["enrollStudents"]
            return payload

        results = await asyncio.gather(*(claim(s, p.id) for s, p in zip(servers, pair, strict=True)))
        assert sorted(bool(r["userErrors"]) for r in results) == [False, True]
        [lost] = [r for r in results if r["userErrors"]]
        assert problems(lost) == [(["input", "studentIds"], "CAPACITY_EXCEEDED")]
        async with factory.session_factory() as session:
            seated = await session.scalar(
                select(func.count()).select_from(Enrollment).where(Enrollment.class_id == klass.id)
            )
        assert seated == 1
