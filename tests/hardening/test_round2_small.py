"""Hardening, round 2 (issue 22): grade reads audited (item 4), year-1 and year-9999 windows
(10a), a signed media token with a key we never sign (10c). Each test failed before its fix:
the gradebook, grade history and student dashboard wrote no read to the audit trail; the
windows raised OverflowError (an internal error); the token answered 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from config import Settings
from models import AuditEntry, Enrollment, School
from resolvers.ids import encode_id
from stores.media import SALT, MediaStore, sign_url
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.statements import metered_client, statements
from web.media import media_routes

GRADEBOOK = contract_operation("Gradebook")
HISTORY = contract_operation("GradeHistory")
UPDATE = contract_operation("UpdateGrade")
DASHBOARD = "query($id: ID) { studentDashboard(studentId: $id) { student { id } } }"
EARNINGS = contract_operation("TeacherEarnings")
CONFLICTS = contract_operation("ScheduleConflicts")
SHEET = "query($classId: ID!) { gradebook(classId: $classId) { rows { student { id } cells { score } } } }"


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def reads(session_factory: async_sessionmaker[AsyncSession]) -> list[tuple[int | None, int | None]]:
    """The audited reads as (actor, student), in the order written."""
    async with session_factory() as session:
        rows = await session.execute(
            select(AuditEntry.actor_id, AuditEntry.subject_id)
            .where(AuditEntry.action == "read", AuditEntry.subject_type == "Student")
            .order_by(AuditEntry.id)
        )
    return [(actor, subject) for actor, subject in rows]


async def enroll_more(factory: Factory, school: SchoolData, count: int) -> list[int]:
    """`count` more students in the school's class; the ids of all its students."""
    added = await factory.students(school, [f"Pupil {n:02}" for n in range(count)])
    async with factory.session_factory.begin() as session:
        await session.execute(
            insert(Enrollment), [{"class_id": school.klass.id, "student_id": s.id} for s in added]
        )
    return [school.student.id, *(s.id for s in added)]


# Item 4: grade reads are audited


async def test_a_gradebook_read_audits_every_student_on_the_sheet(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    students = await enroll_more(factory, north, 3)
    class_id = encode_id("Class", north.klass.id)
    for reader in (north.teacher, north.staff):
        await gql.as_user(factory.token(reader)).data(GRADEBOOK, {"classId": class_id})
    refused = await gql.as_user(factory.token(north.student)).execute(GRADEBOOK, {"classId": class_id})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    south = await factory.school("south")
    foreign = await gql.as_user(factory.token(south.admin)).execute(GRADEBOOK, {"classId": class_id})
    assert foreign["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert sorted(await reads(session_factory)) == sorted(
        (reader.id, student) for reader in (north.teacher, north.staff) for student in students
    )


async def test_the_audited_gradebook_costs_the_same_statements_for_2_and_12_students(
    factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    counts = []
    for slug, more in (("small", 1), ("large", 11)):
        school = await factory.school(slug)
        await enroll_more(factory, school, more)
        async with metered_client(settings) as http:
            variables = {"classId": encode_id("Class", school.klass.id)}
            counts.append(await statements(http, factory.token(school.teacher), SHEET, variables))
    assert counts[0] == counts[1], counts
    assert len(await reads(session_factory)) == 2 + 12


async def test_a_grade_history_read_is_audited(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    quiz = encode_id("Assignment", await factory.graded(north.klass.id, north.other_student, 5))
    teacher = gql.as_user(factory.token(north.teacher))
    student_id = encode_id("Student", north.student.id)
    written = await teacher.data(
        UPDATE, {"input": {"studentId": student_id, "assignmentId": quiz, "score": 7, "expectedVersion": 0}}
    )
    assert written["updateGrade"]["userErrors"] == []
    cell = {"classId": encode_id("Class", north.klass.id), "assignmentId": quiz}
    history = await gql.as_user(factory.token(north.staff)).data(HISTORY, cell | {"studentId": student_id})
    assert [h["score"] for h in history["gradeHistory"]] == [7.0]
    # No history read (another school's admin is refused; a student without one reads nothing).
    south = await factory.school("south")
    foreign = await gql.as_user(factory.token(south.admin)).execute(HISTORY, cell | {"studentId": student_id})
    assert foreign["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    nobody = encode_id("Student", south.student.id)
    assert (await teacher.data(HISTORY, cell | {"studentId": nobody}))["gradeHistory"] == []
    assert await reads(session_factory) == [(north.staff.id, north.student.id)]


async def test_a_dashboard_read_by_anyone_but_the_student_is_audited(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    student_id = encode_id("Student", north.student.id)
    await gql.as_user(factory.token(north.student)).data(DASHBOARD)
    await gql.as_user(factory.token(north.student)).data(DASHBOARD, {"id": student_id})
    for reader in (north.guardian, north.staff):
        await gql.as_user(factory.token(reader)).data(DASHBOARD, {"id": student_id})
    south = await factory.school("south")
    for refused in (north.other_student, south.staff, south.guardian):
        answer = await gql.as_user(factory.token(refused)).execute(DASHBOARD, {"id": student_id})
        assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await reads(session_factory) == [
        (north.guardian.id, north.student.id),
        (north.staff.id, north.student.id),
    ]


# Item 10a: windows near the ends of datetime's range

YEAR_1 = {"from": "0001-01-01T00:00:00Z", "to": "0001-02-01T00:00:00Z"}
YEAR_9999 = {"from": "9999-12-01T00:00:00Z", "to": "9999-12-31T00:00:00Z"}


@pytest.mark.parametrize("window", [YEAR_1, YEAR_9999], ids=["year-1", "year-9999"])
@pytest.mark.parametrize("operation", [EARNINGS, CONFLICTS], ids=["teacherEarnings", "scheduleConflicts"])
async def test_a_window_out_of_the_supported_years_is_bad_input(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
    operation: str,
    window: dict[str, str],
) -> None:
    async with session_factory.begin() as session:  # behind UTC: year 1 local is before year 1
        await session.execute(update(School).values(timezone="America/New_York"))
    answer = await gql.as_user(factory.token(north.teacher)).execute(operation, window)
    assert answer["data"] is None
    [error] = answer["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    assert error["message"] == "`from` and `to` must fall between 1900 and 2200."


# Item 10c: a validly signed media token whose key is not a media key


@pytest.mark.parametrize("key", ["../../../etc/passwd", "ab/cd/not-a-key.jpg", "", 5, None, ["ab"]])
async def test_a_signed_token_with_a_key_we_never_sign_is_forbidden(tmp_path: Path, key: Any) -> None:
    settings = Settings(environment="test", media_dir=tmp_path / "media", _env_file=None)  # type: ignore[call-arg]
    payload = {"k": key, "f": "t.pdf", "t": "application/pdf", "d": "inline", "e": 4_000_000_000}
    token = URLSafeSerializer(settings.secret_key, salt=SALT).dumps(payload)
    app = Starlette(routes=media_routes(settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        response = await http.get(f"/media/{token}")
        assert response.status_code == 403
        assert response.text == "This link is not valid."
        assert response.headers["cache-control"] == "no-store"
        # A token we signed still serves its file.
        store = MediaStore(settings.media_dir)
        url, _ = sign_url(
            settings, store.save(b"%PDF", suffix=".pdf"), filename="t.pdf", content_type="application/pdf"
        )
        assert (await http.get(url)).content == b"%PDF"
