"""Grade statuses through the contract's operations: EXCUSED, MISSING and LATE cells, comments,
what is refused (and then nothing is written), the final grade's rule with them (numbers worked
out by hand), and a closed term's read-only sheet."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Assignment, CategoryWeight, FinalGrade, Grade, GradeChange, Notification, Term
from models.enums import AssignmentCategory, TermStatus
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

GRADEBOOK = contract_operation("ClassGradebook")
UPDATE = contract_operation("UpdateGradeWithStatus")
BULK = contract_operation("BulkUpdateGradeStatuses")
OLD_UPDATE = contract_operation("UpdateGrade")
FINALS = contract_operation("CalculateFinalGrades")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def columns(
    session_factory: async_sessionmaker[AsyncSession],
    school: SchoolData,
    *columns: tuple[AssignmentCategory, float, int | None],
    weights: dict[AssignmentCategory, float] | None = None,
    published: bool = True,
    title: str = "Work",
) -> list[str]:
    """Assignments (category, max score, due in days) of the school's class, and its weights."""
    now = datetime.now(UTC)
    async with session_factory.begin() as session:
        rows = [
            Assignment(
                class_id=school.klass.id, title=f"{title} {n}", category=category,
                max_score=max_score, due_at=now + timedelta(days=days) if days is not None else None,
                published=published,
            )
            for n, (category, max_score, days) in enumerate(columns)
        ]  # fmt: skip
        session.add_all(rows)
        for category, weight in (weights or {}).items():
            session.add(CategoryWeight(class_id=school.klass.id, category=category, weight=weight))
    return [encode_id("Assignment", row.id) for row in rows]


def cell(school: SchoolData, assignment_id: str, **fields: Any) -> dict[str, Any]:
    return {"studentId": encode_id("Student", school.student.id), "assignmentId": assignment_id} | fields


async def write(
    client: GraphQLClient, school: SchoolData, assignment_id: str, **fields: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(UPDATE, {"input": cell(school, assignment_id, **fields)}))[
        "updateGrade"
    ]
    return payload


async def sheet_row(client: GraphQLClient, school: SchoolData) -> dict[str, Any]:
    sheet = (await client.data(GRADEBOOK, {"classId": encode_id("Class", school.klass.id)}))["gradebook"]
    [row] = sheet["rows"]
    return dict(row)


async def test_each_status_shows_its_adjusted_score_and_letter(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    excused, missing, late = await columns(session_factory, north, *[(AssignmentCategory.QUIZ, 10.0, -1)] * 3)
    teacher = gql.as_user(factory.token(north.teacher))
    got = await write(teacher, north, excused, status="EXCUSED", comment="Was ill")
    assert got["userErrors"] == []
    assert {k: got["grade"][k] for k in ("score", "adjustedScore", "letter", "status", "comment")} == {
        "score": None,
        "adjustedScore": None,
        "letter": None,
        "status": "EXCUSED",
        "comment": "Was ill",
    }
    got = await write(teacher, north, missing, status="MISSING")
    assert (got["grade"]["adjustedScore"], got["grade"]["letter"]) == (0.0, "F")
    got = await write(teacher, north, late, score=9, status="LATE", latePenalty=20)
    assert (got["grade"]["score"], got["grade"]["adjustedScore"], got["grade"]["letter"]) == (9.0, 7.2, "C-")
    assert (got["grade"]["latePenalty"], got["grade"]["updatedBy"]["name"]) == (20.0, north.teacher.name)
    cells = {c["assignmentId"]: c for c in (await sheet_row(teacher, north))["cells"]}
    assert (cells[excused]["status"], cells[excused]["comment"]) == ("EXCUSED", "Was ill")
    assert (cells[missing]["status"], cells[missing]["adjustedScore"]) == ("MISSING", 0.0)
    assert (cells[late]["status"], cells[late]["latePenalty"], cells[late]["adjustedScore"]) == (
        "LATE",
        20.0,
        7.2,
    )


async def test_a_comment_stays_until_it_is_replaced_or_emptied(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    [quiz] = await columns(session_factory, north, (AssignmentCategory.QUIZ, 10.0, -1))
    teacher = gql.as_user(factory.token(north.teacher))
    await write(teacher, north, quiz, score=6, comment="Show your work")
    kept = await write(teacher, north, quiz, score=7)
    assert (kept["grade"]["comment"], kept["grade"]["status"], kept["grade"]["version"]) == (
        "Show your work",
        "NONE",
        2,
    )
    old_client = await teacher.data(OLD_UPDATE, {"input": cell(north, quiz, score=8, expectedVersion=2)})
    assert old_client["updateGrade"]["grade"]["version"] == 3
    cleared = await write(teacher, north, quiz, score=8, comment="")
    assert cleared["grade"]["comment"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"score": 5, "status": "EXCUSED"}, "score"),
        ({"score": 0, "status": "MISSING"}, "score"),
        ({"score": 5, "latePenalty": 10}, "latePenalty"),
        ({"score": 5, "status": "MISSING", "latePenalty": 10}, "score"),
        ({"score": 5, "status": "EXCUSED", "latePenalty": 10}, "score"),
        ({"status": "MISSING", "latePenalty": 10}, "latePenalty"),
        ({"score": 5, "status": "LATE", "latePenalty": 101}, "latePenalty"),
        ({"score": 5, "status": "LATE", "latePenalty": -1}, "latePenalty"),
        ({"score": 5, "comment": "x" * 2001}, "comment"),
    ],
)
async def test_contradictory_cells_are_refused_and_nothing_is_written(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
    fields: dict[str, Any],
    field: str,
) -> None:
    [quiz] = await columns(session_factory, north, (AssignmentCategory.QUIZ, 10.0, -1))
    teacher = gql.as_user(factory.token(north.teacher))
    await write(teacher, north, quiz, score=4)
    refused = await write(teacher, north, quiz, expectedVersion=1, **fields)
    assert refused["grade"] is None
    assert [(e["code"], e["field"][-1]) for e in refused["userErrors"]] == [("INVALID", field)]
    async with session_factory() as session:
        grade = await session.scalar(select(Grade))
        changes = await session.scalar(select(func.count()).select_from(GradeChange))
    assert grade is not None
    assert (grade.score, grade.version, changes) == (4.0, 1, 1)


async def test_bulk_statuses_are_all_or_nothing(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    first, second = await columns(session_factory, north, *[(AssignmentCategory.QUIZ, 10.0, -1)] * 2)
    teacher = gql.as_user(factory.token(north.teacher))
    class_id = encode_id("Class", north.klass.id)
    bad = [cell(north, first, status="MISSING"), cell(north, second, score=3, status="EXCUSED")]
    refused = (await teacher.data(BULK, {"input": {"classId": class_id, "updates": bad}}))["bulkUpdateGrades"]
    assert (refused["processedCount"], refused["failedCount"], refused["grades"]) == (0, 1, [])
    assert refused["userErrors"][0]["field"] == ["input", "updates", "1", "score"]
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Grade)) == 0
    good = [cell(north, first, status="MISSING"), cell(north, second, status="EXCUSED", comment="Away")]
    written = (await teacher.data(BULK, {"input": {"classId": class_id, "updates": good}}))[
        "bulkUpdateGrades"
    ]
    assert [(g["status"], g["adjustedScore"], g["comment"]) for g in written["grades"]] == [
        ("MISSING", 0.0, None),
        ("EXCUSED", None, "Away"),
    ]


async def test_excused_and_missing_change_the_final_grade_as_documented(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Homework 40%, exams 60%; everything past due.

    HW1 9/10, HW2 EXCUSED, EXAM1 40/50 LATE -10% (36), EXAM2 MISSING (0 of 50):
    homework 9/10 = 90%, exams 36/100 = 36%: 0.4 * 90 + 0.6 * 36 = 57.6.
    Were HW2 counted as zero instead of excused: homework 9/20 = 45%: 0.4 * 45 + 21.6 = 39.6.
    Were EXAM2 left out instead of missing: exams 36/50 = 72%: 36 + 0.6 * 72 = 79.2."""
    hw1, hw2, exam1, exam2 = await columns(
        session_factory, north,
        (AssignmentCategory.HOMEWORK, 10.0, -9), (AssignmentCategory.HOMEWORK, 10.0, -8),
        (AssignmentCategory.EXAM, 50.0, -7), (AssignmentCategory.EXAM, 50.0, -6),
        weights={AssignmentCategory.HOMEWORK: 40.0, AssignmentCategory.EXAM: 60.0},
    )  # fmt: skip
    teacher = gql.as_user(factory.token(north.teacher))
    await write(teacher, north, hw1, score=9)
    await write(teacher, north, exam1, score=40, status="LATE", latePenalty=10)
    # HW2 and EXAM2 ungraded and past due: both zero. 9/20 = 45%, 36/100 = 36%: 18 + 21.6 = 39.6.
    assert (await sheet_row(teacher, north))["finalGrade"]["percentage"] == pytest.approx(39.6)
    await write(teacher, north, hw2, status="EXCUSED")
    await write(teacher, north, exam2, status="MISSING")
    final = (await sheet_row(teacher, north))["finalGrade"]
    assert (final["percentage"], final["letter"], final["gradePoints"]) == (pytest.approx(57.6), "F", 0.0)
    await write(teacher, north, exam2, score=45)  # graded after all: 81/100 = 81%: 36 + 48.6 = 84.6
    assert (await sheet_row(teacher, north))["finalGrade"]["percentage"] == pytest.approx(84.6)
    await write(teacher, north, exam2, status="MISSING", comment="Never handed in")
    calculated = (await teacher.data(FINALS, {"input": {"classId": encode_id("Class", north.klass.id)}}))[
        "calculateFinalGrades"
    ]
    assert calculated["finalGrades"][0]["percentage"] == pytest.approx(57.6)
    async with session_factory() as session:
        stored = await session.scalar(select(FinalGrade.percentage))
    assert stored == pytest.approx(57.6)


async def test_a_closed_term_makes_the_sheet_read_only(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    [quiz] = await columns(session_factory, north, (AssignmentCategory.QUIZ, 10.0, -1))
    teacher = gql.as_user(factory.token(north.teacher))
    await write(teacher, north, quiz, score=5)
    class_id = encode_id("Class", north.klass.id)
    open_sheet = (await teacher.data(GRADEBOOK, {"classId": class_id}))["gradebook"]
    assert (open_sheet["closed"], open_sheet["term"]["status"]) == (False, "OPEN")
    async with session_factory.begin() as session:
        await session.execute(
            update(Term).where(Term.id == north.klass.term_id).values(status=TermStatus.CLOSED)
        )
    closed_sheet = (await teacher.data(GRADEBOOK, {"classId": class_id}))["gradebook"]
    assert (closed_sheet["closed"], closed_sheet["term"]["status"]) == (True, "CLOSED")
    assert closed_sheet["term"]["id"] == encode_id("Term", north.klass.term_id)
    refused = await write(teacher, north, quiz, score=9, expectedVersion=1)
    assert [e["code"] for e in refused["userErrors"]] == ["TERM_CLOSED"]
    bulk = (
        await teacher.data(
            BULK, {"input": {"classId": class_id, "updates": [cell(north, quiz, status="MISSING")]}}
        )
    )["bulkUpdateGrades"]
    assert [e["code"] for e in bulk["userErrors"]] == ["TERM_CLOSED"]
    finals = (await teacher.data(FINALS, {"input": {"classId": class_id}}))["calculateFinalGrades"]
    assert [e["code"] for e in finals["userErrors"]] == ["TERM_CLOSED"]
    async with session_factory() as session:
        grade = await session.scalar(select(Grade))
    assert grade is not None
    assert (grade.score, grade.version) == (5.0, 1)


async def test_an_unpublished_assignment_tells_the_student_nothing(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    [draft] = await columns(
        session_factory, north, (AssignmentCategory.QUIZ, 10.0, -1), published=False, title="Draft"
    )
    [shown] = await columns(session_factory, north, (AssignmentCategory.QUIZ, 10.0, -1), title="Shown")
    teacher = gql.as_user(factory.token(north.teacher))
    await write(teacher, north, draft, score=5)
    await write(teacher, north, shown, score=6)
    async with session_factory() as session:
        titles = list(
            await session.scalars(select(Notification.title).where(Notification.user_id == north.student.id))
        )
    assert titles == ["Grade posted: Shown 0"]


async def test_grade_writes_beside_close_term_land_before_the_freeze_or_not_at_all(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """Each write either lands before closeTerm calculates (then the frozen grade counts it) or is
    refused with TERM_CLOSED: none lands after the freeze. Ten quizzes past due, each written 7/10
    by its own request while the term closes: the frozen grade is 7 points per landed write."""
    quizzes = await columns(session_factory, north, *[(AssignmentCategory.QUIZ, 10.0, -1)] * 10)
    teacher = gql.as_user(factory.token(north.teacher))
    staff = gql.as_user(factory.token(north.staff))
    term_id = encode_id("Term", north.klass.term_id)

    async def after(seconds: float, operation: Any) -> dict[str, Any]:
        await asyncio.sleep(seconds)
        result: dict[str, Any] = await operation
        return result

    close = after(0.15, staff.data(contract_operation("CloseTerm"), {"input": {"termId": term_id}}))
    writes = [
        after(0.03 * n, teacher.data(UPDATE, {"input": cell(north, quiz, score=7)}))
        for n, quiz in enumerate(quizzes)
    ]
    results = await asyncio.gather(close, *writes)
    assert results[0]["closeTerm"]["userErrors"] == []
    outcomes = [r["updateGrade"] for r in results[1:]]
    assert {e["code"] for o in outcomes for e in o["userErrors"]} <= {"TERM_CLOSED"}
    landed = sum(1 for o in outcomes if o["grade"])
    async with session_factory() as session:
        stored = await session.scalar(select(func.count()).select_from(Grade))
        frozen = await session.scalar(select(FinalGrade.percentage))
    assert stored == landed
    assert frozen == pytest.approx(7.0 * landed)
    sheet = (await teacher.data(GRADEBOOK, {"classId": encode_id("Class", north.klass.id)}))["gradebook"]
    assert sheet["closed"] is True
    assert [row["student"]["id"] for row in sheet["rows"]] == [encode_id("Student", north.student.id)], (
        "a closed term's sheet still shows the students who completed the class"
    )
