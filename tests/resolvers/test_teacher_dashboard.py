"""The teacher dashboard through the contract's operation: its content, who may see it, its cache
and what invalidates it, and a cost in SQL statements that does not grow with the classes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Assignment, ClassTeacher, Enrollment
from models.enums import EnrollmentStatus
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData, teaching_load
from tests.statements import statements

DASHBOARD = contract_operation("TeacherDashboard")
UPDATE = contract_operation("UpdateGrade")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def dashboard(client: GraphQLClient, teacher_id: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = (await client.data(DASHBOARD, {"teacherId": teacher_id}))["teacherDashboard"]
    return found


async def test_the_dashboard_shows_classes_sessions_risks_grading_and_earnings(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    class_ids = await teaching_load(session_factory, north, classes=2, students=5)
    board = await dashboard(gql.as_user(factory.token(north.teacher)))
    assert board["teacher"] == {"id": encode_id("Teacher", north.teacher.id), "name": north.teacher.name}
    by_id = {c["id"]: c for c in board["classes"]}
    assert set(by_id) == {encode_id("Class", c) for c in [north.klass.id, *class_ids]}
    loaded = by_id[encode_id("Class", class_ids[0])]
    assert loaded["studentCount"] == 5
    assert 0 <= loaded["averageGrade"] <= 100
    assert 0 < loaded["attendanceRate"] < 1
    assert by_id[encode_id("Class", north.klass.id)] | {"id": None} == {
        "id": None, "title": "Algebra A", "studentCount": 1, "averageGrade": None, "attendanceRate": None,
    }  # fmt: skip
    assert [s["status"] for s in board["upcomingSessions"]] == ["SCHEDULED", "SCHEDULED"]
    assert board["upcomingSessions"][0]["startsAt"] < board["upcomingSessions"][1]["startsAt"]
    recent = board["recentSessions"]
    assert sorted(s["status"] for s in recent) == ["COMPLETED", "COMPLETED", "NO_SHOW", "NO_SHOW"]
    assert [s["completedAt"] for s in recent] == sorted((s["completedAt"] for s in recent), reverse=True)
    grading = board["pendingGrading"]
    assert [(g["class"]["id"], g["ungradedCount"]) for g in grading] == [
        (encode_id("Class", c), 5) for c in class_ids
    ]
    assert grading[0]["assignment"]["title"] == "Work 7"
    attention = board["studentsNeedingAttention"]
    assert attention, "a third of the meetings missed: risk MEDIUM at least"
    assert {a["riskLevel"] for a in attention} <= {"MEDIUM", "HIGH"}
    assert all(any("class meetings" in reason for reason in a["reasons"]) for a in attention)
    earnings = board["earnings"]
    assert (earnings["currency"], earnings["total"], earnings["pendingPayout"]) == ("USD", "90.00", "90.00")
    assert Decimal(earnings["thisMonth"]) + Decimal(earnings["lastMonth"]) == Decimal("90.00")


async def test_first_limits_the_lists(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await teaching_load(session_factory, north, classes=3, students=4)
    query = DASHBOARD.replace("recentSessions(first: 5)", "recentSessions(first: 2)")
    teacher = gql.as_user(factory.token(north.teacher))
    board = (await teacher.data(query))["teacherDashboard"]
    assert len(board["recentSessions"]) == 2
    too_many = await teacher.execute(
        DASHBOARD.replace("recentSessions(first: 5)", "recentSessions(first: 21)")
    )
    assert too_many["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_who_may_see_a_teacher_dashboard(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    teacher_id = encode_id("Teacher", north.teacher.id)
    for role, asked, expected in [
        ("teacher", None, None),
        ("teacher", teacher_id, None),
        ("staff", teacher_id, None),
        ("admin", teacher_id, None),
        ("other_teacher", teacher_id, "FORBIDDEN"),
        ("mentor", teacher_id, "FORBIDDEN"),
        ("student", teacher_id, "FORBIDDEN"),
        ("staff", None, "BAD_USER_INPUT"),
        ("student", None, "BAD_USER_INPUT"),
        ("admin", encode_id("Teacher", north.student.id), "FORBIDDEN"),
    ]:
        result = await gql.as_user(factory.token(north.users[role])).execute(DASHBOARD, {"teacherId": asked})
        code = result["errors"][0]["extensions"]["code"] if "errors" in result else None
        assert code == expected, (role, asked)
        if expected is None:
            assert result["data"]["teacherDashboard"]["teacher"]["id"] == teacher_id
    foreign = await gql.as_user(factory.token(south.admin)).execute(DASHBOARD, {"teacherId": teacher_id})
    assert foreign["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert foreign["data"] is None


async def test_the_cache_serves_until_a_grade_changes_it(
    metered: httpx.AsyncClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    [class_id, _] = await teaching_load(session_factory, north, classes=2, students=3)
    token = factory.token(north.teacher)
    cold, warm = await statements(metered, token, DASHBOARD), await statements(metered, token, DASHBOARD)
    assert warm < cold
    async with session_factory.begin() as session:
        # A co-teacher enters the grade: the teacher's dashboard changes too.
        session.add(ClassTeacher(class_id=class_id, teacher_id=north.other_teacher.id))
        pending = await session.scalar(
            select(Assignment.id).where(Assignment.class_id == class_id).order_by(Assignment.id.desc())
        )
        student = await session.scalar(
            select(Enrollment.student_id).where(
                Enrollment.class_id == class_id, Enrollment.status == EnrollmentStatus.ACTIVE
            )
        )
    assert pending is not None
    assert student is not None
    client = GraphQLClient(metered, token)
    before = {g["assignment"]["id"]: g["ungradedCount"] for g in (await dashboard(client))["pendingGrading"]}
    assert before[encode_id("Assignment", pending)] == 3
    cell = {"studentId": encode_id("Student", student), "assignmentId": encode_id("Assignment", pending)}
    await GraphQLClient(metered, factory.token(north.other_teacher)).data(
        UPDATE, {"input": cell | {"score": 7, "expectedVersion": 0}}
    )
    after = {g["assignment"]["id"]: g["ungradedCount"] for g in (await dashboard(client))["pendingGrading"]}
    assert after[encode_id("Assignment", pending)] == 2


async def test_the_statement_count_is_the_same_for_2_and_8_classes(
    metered: httpx.AsyncClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    small, large = await factory.school("small"), await factory.school("large")
    await teaching_load(session_factory, small, classes=2, students=6)
    await teaching_load(session_factory, large, classes=8, students=6)
    small_cost = await statements(metered, factory.token(small.teacher), DASHBOARD)
    large_cost = await statements(metered, factory.token(large.teacher), DASHBOARD)
    assert small_cost == large_cost
    assert small_cost <= 16, small_cost
