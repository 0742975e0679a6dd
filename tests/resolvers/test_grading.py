"""The gradebook through the contract's operations: the sheet, writes, conflicts, locks, finals."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import (
    Assignment,
    CategoryWeight,
    ClassTeacher,
    Enrollment,
    FinalGrade,
    GradeChange,
    Notification,
)
from models.enums import AssignmentCategory
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.conftest import http_client_for
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

GRADEBOOK = contract_operation("Gradebook")
UPDATE = contract_operation("UpdateGrade")
BULK = contract_operation("BulkUpdateGrades")
LOCK = contract_operation("LockGradeCell")
UNLOCK = contract_operation("UnlockGradeCell")
FINALS = contract_operation("CalculateFinalGrades")
HISTORY = contract_operation("GradeHistory")
EXPORT = contract_operation("ExportGradebook")
TRANSCRIPT = contract_operation("GenerateTranscript")


async def add_assignments(
    session_factory: async_sessionmaker[AsyncSession], school: SchoolData, *due_in_days: int
) -> list[str]:
    now = datetime.now(UTC)
    async with session_factory.begin() as session:
        rows = [
            Assignment(
                class_id=school.klass.id, title=f"Quiz {n}", category=AssignmentCategory.QUIZ,
                max_score=10.0, due_at=now + timedelta(days=days),
            )
            for n, days in enumerate(due_in_days)
        ]  # fmt: skip
        session.add_all(rows)
        session.add(
            ClassTeacher(class_id=school.klass.id, teacher_id=school.other_teacher.id, is_primary=False)
        )
        session.add(CategoryWeight(class_id=school.klass.id, category=AssignmentCategory.QUIZ, weight=100.0))
    return [encode_id("Assignment", row.id) for row in rows]


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


def cell(school: SchoolData, assignment_id: str) -> dict[str, str]:
    return {"studentId": encode_id("Student", school.student.id), "assignmentId": assignment_id}


async def update(
    client: GraphQLClient, school: SchoolData, assignment: str, score: Any, version: Any
) -> dict[str, Any]:
    variables = {"input": cell(school, assignment) | {"score": score, "expectedVersion": version}}
    payload: dict[str, Any] = (await client.data(UPDATE, variables))["updateGrade"]
    return payload


async def test_who_may_read_and_edit_the_gradebook(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    [quiz] = await add_assignments(session_factory, north, -3)
    class_id = encode_id("Class", north.klass.id)
    for role, can_read, can_edit in [
        ("teacher", True, True),
        ("other_teacher", True, True),  # a co-teacher now
        ("admin", True, True),
        ("staff", True, False),
        ("mentor", False, False),
        ("guardian", False, False),
        ("student", False, False),
    ]:
        client = gql.as_user(factory.token(north.users[role]))
        read = await client.execute(GRADEBOOK, {"classId": class_id})
        assert ("errors" not in read) == can_read, role
        write = await client.execute(
            UPDATE, {"input": cell(north, quiz) | {"score": 5, "expectedVersion": None}}
        )
        assert ("errors" not in write) == can_edit, role
        if not can_edit:
            assert write["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    foreign = await gql.as_user(factory.token(south.admin)).execute(GRADEBOOK, {"classId": class_id})
    assert foreign["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_the_sheet_shows_cells_versions_and_final_grades(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    past, late, upcoming = await add_assignments(session_factory, north, -10, -2, 5)
    teacher = gql.as_user(factory.token(north.teacher))
    await update(teacher, north, past, 9, 0)
    await update(teacher, north, upcoming, 7, None)
    sheet = (await teacher.data(GRADEBOOK, {"classId": encode_id("Class", north.klass.id)}))["gradebook"]
    assert [a["id"] for a in sheet["assignments"]] == [past, late, upcoming]
    [row] = sheet["rows"]
    assert row["student"]["name"] == north.student.name
    assert [(c["score"], c["version"], c["letter"]) for c in row["cells"]] == [
        (9.0, 1, "A-"),
        (None, 0, None),
        (7.0, 1, "C-"),
    ]
    # 9 + 0 (late, missing) + 7 (graded early) over 30
    assert row["finalGrade"]["percentage"] == pytest.approx(100 * 16 / 30, abs=0.01)
    assert row["finalGrade"]["letter"] == "F"


async def test_versions_guard_against_lost_updates(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    [quiz] = await add_assignments(session_factory, north, -1)
    teacher = gql.as_user(factory.token(north.teacher))
    first = await update(teacher, north, quiz, 6, 0)
    assert first["grade"]["version"] == 1
    assert first["grade"]["updatedBy"]["name"] == north.teacher.name
    second = await update(teacher, north, quiz, 8.5, 1)
    assert (second["grade"]["version"], second["grade"]["score"]) == (2, 8.5)
    stale = await update(teacher, north, quiz, 2, 1)
    assert stale["grade"] is None
    assert stale["userErrors"][0]["code"] == "VERSION_CONFLICT"
    history = await teacher.data(HISTORY, {"classId": encode_id("Class", north.klass.id)} | cell(north, quiz))
    assert [(h["score"], h["version"]) for h in history["gradeHistory"]] == [(8.5, 2), (6.0, 1)]
    async with session_factory() as session:
        notes = (
            await session.scalars(select(Notification.kind).where(Notification.user_id == north.student.id))
        ).all()
    assert sorted(notes) == ["grade_changed", "grade_posted"]


@pytest.mark.parametrize(("score", "field"), [(10.5, "score"), (-1, "score")])
async def test_scores_are_checked_against_the_maximum(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
    score: float,
    field: str,
) -> None:
    [quiz] = await add_assignments(session_factory, north, -1)
    refused = await update(gql.as_user(factory.token(north.teacher)), north, quiz, score, None)
    assert refused["userErrors"][0]["code"] == "INVALID"
    assert refused["userErrors"][0]["field"][-1] == field


async def test_twenty_concurrent_writers_of_one_version_one_wins(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    [quiz] = await add_assignments(session_factory, north, -1)
    teacher = gql.as_user(factory.token(north.teacher))
    await update(teacher, north, quiz, 5, 0)
    results = await asyncio.gather(*(update(teacher, north, quiz, n % 10, 1) for n in range(20)))
    winners = [r for r in results if r["grade"]]
    codes = [r["userErrors"][0]["code"] for r in results if not r["grade"]]
    assert len(winners) == 1
    assert codes == ["VERSION_CONFLICT"] * 19
    async with session_factory() as session:
        changes = await session.scalar(select(func.count()).select_from(GradeChange))
    assert changes == 2, "the first write and exactly one of the twenty"


async def test_a_locked_cell_is_only_for_its_holder(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    [quiz] = await add_assignments(session_factory, north, -1)
    teacher = gql.as_user(factory.token(north.teacher))
    co_teacher = gql.as_user(factory.token(north.other_teacher))
    locked = (await teacher.data(LOCK, {"input": cell(north, quiz)}))["lockGradeCell"]
    assert locked["lock"]["holder"]["name"] == north.teacher.name
    expires = datetime.fromisoformat(locked["lock"]["expiresAt"])
    assert timedelta(seconds=25) < expires - datetime.now(UTC) <= timedelta(seconds=30)
    taken = (await co_teacher.data(LOCK, {"input": cell(north, quiz)}))["lockGradeCell"]
    assert taken["userErrors"][0]["code"] == "CELL_LOCKED"
    blocked = await update(co_teacher, north, quiz, 4, None)
    assert blocked["userErrors"][0]["code"] == "CELL_LOCKED"
    assert (await update(teacher, north, quiz, 4, None))["grade"]["score"] == 4.0
    sheet = (await co_teacher.data(GRADEBOOK, {"classId": encode_id("Class", north.klass.id)}))["gradebook"]
    assert sheet["rows"][0]["cells"][0]["lock"]["holder"]["name"] == north.teacher.name
    not_mine = (await co_teacher.data(UNLOCK, {"input": cell(north, quiz)}))["unlockGradeCell"]
    assert not_mine["released"] is False
    assert (await teacher.data(UNLOCK, {"input": cell(north, quiz)}))["unlockGradeCell"]["released"] is True
    assert (await update(co_teacher, north, quiz, 5, 1))["grade"]["version"] == 2


async def test_atomic_bulk_with_one_bad_item_writes_nothing(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first, second = await add_assignments(session_factory, north, -2, -1)
    teacher = gql.as_user(factory.token(north.teacher))
    items = [cell(north, first) | {"score": 7}, cell(north, second) | {"score": 70}]
    class_id = encode_id("Class", north.klass.id)
    atomic = (await teacher.data(BULK, {"input": {"classId": class_id, "updates": items}}))[
        "bulkUpdateGrades"
    ]
    assert (atomic["processedCount"], atomic["failedCount"], atomic["grades"]) == (0, 1, [])
    assert atomic["userErrors"][0]["field"] == ["input", "updates", "1", "score"]
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(GradeChange)) == 0
    partial = (await teacher.data(BULK, {"input": {"classId": class_id, "updates": items, "atomic": False}}))[
        "bulkUpdateGrades"
    ]
    assert (partial["processedCount"], partial["failedCount"]) == (1, 1)
    assert [g["score"] for g in partial["grades"]] == [7.0]


async def test_a_partial_bulk_reports_a_stale_cell_and_writes_the_rest(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first, second = await add_assignments(session_factory, north, -2, -1)
    teacher = gql.as_user(factory.token(north.teacher))
    await update(teacher, north, first, 5, 0)
    items = [
        cell(north, first) | {"score": 6, "expectedVersion": 0},  # stale: it is at version 1
        cell(north, second) | {"score": 8, "expectedVersion": 0},
        cell(north, second) | {"score": 9, "expectedVersion": 1},  # the same cell again, after the item above
    ]
    class_id = encode_id("Class", north.klass.id)
    result = (await teacher.data(BULK, {"input": {"classId": class_id, "updates": items, "atomic": False}}))[
        "bulkUpdateGrades"
    ]
    assert (result["processedCount"], result["failedCount"]) == (2, 1)
    assert result["userErrors"] == [
        {
            "field": ["input", "updates", "0"],
            "message": "Someone changed this grade first; reload it and try again.",
            "code": "VERSION_CONFLICT",
        }
    ]
    assert [(g["score"], g["version"]) for g in result["grades"]] == [(8.0, 1), (9.0, 2)]
    sheet = (await teacher.data(GRADEBOOK, {"classId": class_id}))["gradebook"]
    [row] = [r for r in sheet["rows"] if r["student"]["id"] == encode_id("Student", north.student.id)]
    assert [(c["score"], c["version"]) for c in row["cells"]] == [(5.0, 1), (9.0, 2)]
    async with session_factory() as session:
        notified = await session.scalars(
            select(Notification.title)
            .where(Notification.user_id == north.student.id)
            .order_by(Notification.id)
        )
        assert list(notified) == ["Grade posted: Quiz 0", "Grade posted: Quiz 1", "Grade changed: Quiz 1"]


async def test_a_bulk_write_costs_one_statement_per_cell_not_a_dozen(
    factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """History, notifications, risk snapshots and audit entries are written once per batch."""
    assignments = await add_assignments(session_factory, north, -6, -5, -4, -3, -2, -1)
    students = [north.student, north.other_student]
    async with session_factory.begin() as session:
        session.add(Enrollment(class_id=north.klass.id, student_id=north.other_student.id))
    token = factory.token(north.teacher)
    class_id = encode_id("Class", north.klass.id)

    async def statements(cells: int) -> int:
        updates = [
            {"studentId": encode_id("Student", s.id), "assignmentId": a, "score": float(cells % 10)}
            for a in assignments
            for s in students
        ][:cells]
        async with http_client_for(settings.model_copy(update={"debug_metrics": True})) as http:
            response = await http.post(
                "/graphql",
                json={"query": BULK, "variables": {"input": {"classId": class_id, "updates": updates}}},
                headers={"Authorization": f"Bearer {token}"},
            )
        body = response.json()
        assert body["data"]["bulkUpdateGrades"]["processedCount"] == cells, body
        count: int = body["extensions"]["metrics"]["sqlStatements"]
        return count

    await statements(12)  # every cell graded: the batches measured below are alike but for size
    few, many = await statements(2), await statements(12)
    # Each cell's own UPDATE or INSERT, and on SQLite its notification's INSERT ... RETURNING,
    # which SQLAlchemy sends one row at a time there to keep the ids in order.
    per_cell = 2 if settings.database_url.startswith("sqlite") else 1
    assert many - few <= per_cell * (12 - 2), (few, many)


async def test_final_grades_are_calculated_and_stored(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    graded, missing = await add_assignments(session_factory, north, -5, -4)
    teacher = gql.as_user(factory.token(north.teacher))
    await update(teacher, north, graded, 10, None)
    result = await teacher.data(FINALS, {"input": {"classId": encode_id("Class", north.klass.id)}})
    [final] = result["calculateFinalGrades"]["finalGrades"]
    assert final["student"]["id"] == encode_id("Student", north.student.id)
    assert (final["percentage"], final["letter"], final["gradePoints"]) == (50.0, "F", 0.0)
    staff = await gql.as_user(factory.token(north.staff)).execute(
        FINALS, {"input": {"classId": encode_id("Class", north.klass.id)}}
    )
    assert staff["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    del missing


async def test_final_grades_calculated_at_once_by_several_editors_all_succeed(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    [quiz] = await add_assignments(session_factory, north, -1)
    teacher = gql.as_user(factory.token(north.teacher))
    admin = gql.as_user(factory.token(north.admin))
    await update(teacher, north, quiz, 8, 0)
    variables = {"input": {"classId": encode_id("Class", north.klass.id)}}
    results = await asyncio.gather(*(client.data(FINALS, variables) for client in [teacher, admin] * 4))
    for result in results:
        [final] = result["calculateFinalGrades"]["finalGrades"]
        assert final["percentage"] == 80.0
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(FinalGrade)) == 1


async def test_exports_and_transcripts_are_signed_files(
    gql: GraphQLClient,
    http: Any,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    [quiz] = await add_assignments(session_factory, north, -1)
    teacher = gql.as_user(factory.token(north.teacher))
    await update(teacher, north, quiz, 9.5, None)
    class_id = encode_id("Class", north.klass.id)
    exports: dict[str, Any] = {}
    for file_format in ("CSV", "PDF"):
        payload = await teacher.data(EXPORT, {"input": {"classId": class_id, "format": file_format}})
        exports[file_format] = payload["exportGradebook"]
    csv_file = await http.get(exports["CSV"]["url"])
    assert csv_file.headers["content-disposition"].startswith("attachment")
    assert north.student.name in csv_file.content.decode("utf-8-sig")
    assert "9.5" in csv_file.content.decode("utf-8-sig")
    pdf_file = await http.get(exports["PDF"]["url"])
    assert pdf_file.content.startswith(b"%PDF-")
    assert (await http.get(exports["PDF"]["url"] + "x")).status_code == 403
    student = gql.as_user(factory.token(north.student))
    refused = await student.execute(EXPORT, {"input": {"classId": class_id, "format": "CSV"}})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    transcript = await student.data(
        TRANSCRIPT, {"input": {"studentId": encode_id("Student", north.student.id)}}
    )
    document = await http.get(transcript["generateTranscript"]["url"])
    assert document.content.startswith(b"%PDF-")
    teacher_transcript = await teacher.execute(
        TRANSCRIPT, {"input": {"studentId": encode_id("Student", north.student.id)}}
    )
    assert teacher_transcript["errors"][0]["extensions"]["code"] == "FORBIDDEN"
