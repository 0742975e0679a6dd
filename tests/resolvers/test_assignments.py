"""Assignments and category weights through the contract's operations: who may write them, what
is refused (and then nothing is written), archiving, and the class's assignments as each role
sees them."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Assignment, AuditEntry, CategoryWeight, ClassTeacher, Grade, GradingPeriod, Term
from models.enums import AssignmentCategory, TermStatus
from resolvers.ids import decode_id, encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

CREATE = contract_operation("CreateAssignment")
UPDATE = contract_operation("UpdateAssignment")
ARCHIVE = contract_operation("ArchiveAssignment")
WEIGHTS = contract_operation("SetCategoryWeights")
GRADEBOOK = contract_operation("ClassGradebook")
UPDATE_GRADE = contract_operation("UpdateGradeWithStatus")
CLASS_ASSIGNMENTS = """
query ClassAssignments($id: ID!, $first: Int, $after: String) {
  class(id: $id) {
    categoryWeights { category weight }
    assignments(first: $first, after: $after) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id title published archivedAt gradingPeriod { id name } }
    }
  }
}
"""


@pytest.fixture
async def north(factory: Factory, session_factory: async_sessionmaker[AsyncSession]) -> SchoolData:
    school = await factory.school("north")
    async with session_factory.begin() as session:
        session.add(
            ClassTeacher(class_id=school.klass.id, teacher_id=school.other_teacher.id, is_primary=False)
        )
    return school


async def grading_period(
    session_factory: async_sessionmaker[AsyncSession], school: SchoolData, term_id: int | None = None
) -> str:
    async with session_factory.begin() as session:
        if term_id is None:
            term_id = school.klass.term_id
        period = GradingPeriod(
            school_id=school.school.id, term_id=term_id, name="Q1",
            starts_on=date(2026, 9, 1), ends_on=date(2026, 10, 31),
        )  # fmt: skip
        session.add(period)
    return encode_id("GradingPeriod", period.id)


def draft(school: SchoolData, **fields: Any) -> dict[str, Any]:
    return {
        "classId": encode_id("Class", school.klass.id), "title": "Essay", "category": "HOMEWORK",
        "maxScore": 20, "dueAt": (datetime.now(UTC) + timedelta(days=3)).isoformat(),
    } | fields  # fmt: skip


async def create(client: GraphQLClient, school: SchoolData, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(CREATE, {"input": draft(school, **fields)}))[
        "createAssignment"
    ]
    return payload


async def count(session_factory: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_teacher_creates_an_assignment_in_a_grading_period(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    period = await grading_period(session_factory, north)
    teacher = gql.as_user(factory.token(north.teacher))
    created = await create(
        teacher, north, gradingPeriodId=period, weight=2, published=False, description="  500 words  "
    )
    assert created["userErrors"] == []
    assignment = created["assignment"]
    assert (assignment["title"], assignment["category"], assignment["maxScore"], assignment["weight"]) == (
        "Essay",
        "HOMEWORK",
        20.0,
        2.0,
    )
    assert (assignment["published"], assignment["description"]) == (False, "500 words")
    assert assignment["gradingPeriod"] == {"id": period, "name": "Q1"}
    assert assignment["class"] == {"id": encode_id("Class", north.klass.id)}
    assert datetime.fromisoformat(assignment["createdAt"]) <= datetime.now(UTC)
    async with session_factory() as session:
        audited = await session.scalar(select(AuditEntry).where(AuditEntry.action == "assignment.created"))
    assert audited is not None
    assert audited.actor_id == north.teacher.id
    sheet = (await teacher.data(GRADEBOOK, {"classId": encode_id("Class", north.klass.id)}))["gradebook"]
    assert [(a["id"], a["published"], a["gradingPeriod"]) for a in sheet["assignments"]] == [
        (assignment["id"], False, {"id": period, "name": "Q1"})
    ]


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("teacher", True),
        ("other_teacher", True),  # a co-teacher
        ("admin", True),
        ("staff", False),
        ("mentor", False),
        ("guardian", False),
        ("student", False),
    ],
)
async def test_the_class_teachers_and_admins_write_assignments_and_no_one_else(
    gql: GraphQLClient, factory: Factory, north: SchoolData, role: str, allowed: bool
) -> None:
    client = gql.as_user(factory.token(north.users[role]))
    result = await client.execute(CREATE, {"input": draft(north)})
    if allowed:
        assert result["data"]["createAssignment"]["userErrors"] == []
        assignment_id = result["data"]["createAssignment"]["assignment"]["id"]
    else:
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assignment_id = (await create(gql.as_user(factory.token(north.teacher)), north))["assignment"]["id"]
    for operation, variables in [
        (UPDATE, {"input": {"assignmentId": assignment_id, "title": "Renamed"}}),
        (ARCHIVE, {"input": {"assignmentId": assignment_id}}),
    ]:
        answer = await client.execute(operation, variables)
        assert ("errors" not in answer) == allowed, (role, answer)


async def test_another_schools_class_or_assignment_is_not_found(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    foreign_admin = gql.as_user(factory.token(south.admin))
    refused = (await foreign_admin.data(CREATE, {"input": draft(north)}))["createAssignment"]
    assert refused["userErrors"][0]["code"] == "NOT_FOUND"
    assert refused["userErrors"][0]["field"] == ["input", "classId"]
    mine = await create(gql.as_user(factory.token(north.teacher)), north)
    assignment_id = mine["assignment"]["id"]
    for operation, name in [(UPDATE, "updateAssignment"), (ARCHIVE, "archiveAssignment")]:
        answer = (await foreign_admin.data(operation, {"input": {"assignmentId": assignment_id}}))[name]
        assert (answer["assignment"], answer["userErrors"][0]["code"]) == (None, "NOT_FOUND")
    weights = {
        "classId": encode_id("Class", north.klass.id),
        "weights": [{"category": "QUIZ", "weight": 100}],
    }
    answer = (await foreign_admin.data(WEIGHTS, {"input": weights}))["setCategoryWeights"]
    assert answer["userErrors"][0]["code"] == "NOT_FOUND"
    assert await count(session_factory, Assignment) == 1
    assert await count(session_factory, CategoryWeight) == 0


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"maxScore": 0}, "maxScore"),
        ({"maxScore": -5}, "maxScore"),
        ({"weight": -1}, "weight"),
        ({"title": "   "}, "title"),
        ({"dueAt": "2026-10-01T17:00:00"}, "dueAt"),
    ],
)
async def test_invalid_assignments_are_refused_and_nothing_is_written(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
    fields: dict[str, Any],
    field: str,
) -> None:
    refused = await create(gql.as_user(factory.token(north.teacher)), north, **fields)
    assert refused["assignment"] is None
    assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [("INVALID", ["input", field])]
    assert await count(session_factory, Assignment) == 0
    assert await count(session_factory, AuditEntry) == 0


async def test_a_grading_period_must_be_of_the_class_term(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory.begin() as session:
        spring = Term(
            school_id=north.school.id, name="Spring", starts_on=date(2027, 2, 1), ends_on=date(2027, 6, 30)
        )
        session.add(spring)
    other_term = await grading_period(session_factory, north, spring.id)
    south = await factory.school("south")
    foreign = await grading_period(session_factory, south)
    teacher = gql.as_user(factory.token(north.teacher))
    wrong_term = await create(teacher, north, gradingPeriodId=other_term)
    assert [(e["code"], e["field"]) for e in wrong_term["userErrors"]] == [
        ("INVALID", ["input", "gradingPeriodId"])
    ]
    elsewhere = await create(teacher, north, gradingPeriodId=foreign)
    assert [(e["code"], e["field"]) for e in elsewhere["userErrors"]] == [
        ("NOT_FOUND", ["input", "gradingPeriodId"])
    ]
    assert await count(session_factory, Assignment) == 0


async def test_a_max_score_below_a_given_score_is_refused(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    assignment_id = (await create(teacher, north, maxScore=20))["assignment"]["id"]
    cell = {"studentId": encode_id("Student", north.student.id), "assignmentId": assignment_id}
    await teacher.data(UPDATE_GRADE, {"input": cell | {"score": 15}})
    lower = (await teacher.data(UPDATE, {"input": {"assignmentId": assignment_id, "maxScore": 12}}))[
        "updateAssignment"
    ]
    assert [(e["code"], e["field"]) for e in lower["userErrors"]] == [("INVALID", ["input", "maxScore"])]
    changed = (
        await teacher.data(
            UPDATE,
            {
                "input": {
                    "assignmentId": assignment_id,
                    "maxScore": 15,
                    "title": "Long essay",
                    "published": False,
                }
            },
        )
    )["updateAssignment"]
    assert changed["userErrors"] == []
    assert (changed["assignment"]["maxScore"], changed["assignment"]["title"]) == (15.0, "Long essay")
    assert (changed["assignment"]["published"], changed["assignment"]["category"]) == (False, "HOMEWORK")


async def test_archiving_takes_an_assignment_out_of_the_gradebook_and_keeps_its_grades(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    past = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    kept = (await create(teacher, north, title="Kept", maxScore=10, dueAt=past))["assignment"]["id"]
    gone = (await create(teacher, north, title="Gone", maxScore=10, dueAt=past))["assignment"]["id"]
    student = encode_id("Student", north.student.id)
    await teacher.data(UPDATE_GRADE, {"input": {"studentId": student, "assignmentId": kept, "score": 9}})
    await teacher.data(UPDATE_GRADE, {"input": {"studentId": student, "assignmentId": gone, "score": 1}})
    class_id = encode_id("Class", north.klass.id)
    before = (await teacher.data(GRADEBOOK, {"classId": class_id}))["gradebook"]
    assert before["rows"][0]["finalGrade"]["percentage"] == 50.0  # (9 + 1) / 20
    archived = (await teacher.data(ARCHIVE, {"input": {"assignmentId": gone}}))["archiveAssignment"]
    assert archived["userErrors"] == []
    assert archived["assignment"]["archivedAt"] is not None
    after = (await teacher.data(GRADEBOOK, {"classId": class_id}))["gradebook"]
    assert [a["id"] for a in after["assignments"]] == [kept]
    assert [c["assignmentId"] for c in after["rows"][0]["cells"]] == [kept]
    assert after["rows"][0]["finalGrade"]["percentage"] == 90.0  # 9 / 10: the archived one left out
    listed = (await teacher.data(CLASS_ASSIGNMENTS, {"id": class_id}))["class"]["assignments"]
    assert [n["id"] for n in listed["nodes"]] == [kept]
    assert listed["totalCount"] == 1
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Grade)) == 2, "its grades are kept"
    again = (await teacher.data(ARCHIVE, {"input": {"assignmentId": gone}}))["archiveAssignment"]
    assert again["userErrors"][0]["code"] == "FORBIDDEN_STATE"
    renamed = (await teacher.data(UPDATE, {"input": {"assignmentId": gone, "title": "Back"}}))[
        "updateAssignment"
    ]
    assert renamed["userErrors"][0]["code"] == "FORBIDDEN_STATE"
    regrade = (
        await teacher.data(UPDATE_GRADE, {"input": {"studentId": student, "assignmentId": gone, "score": 2}})
    )["updateGrade"]
    assert regrade["userErrors"][0]["code"] == "NOT_FOUND"


async def test_students_and_guardians_see_published_assignments_only(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    shown = (await create(teacher, north, title="Shown"))["assignment"]["id"]
    await create(teacher, north, title="Draft", published=False)
    class_id = encode_id("Class", north.klass.id)
    for role, expected in [("student", 1), ("guardian", 1), ("teacher", 2), ("staff", 2), ("admin", 2)]:
        listed = (
            await gql.as_user(factory.token(north.users[role])).data(CLASS_ASSIGNMENTS, {"id": class_id})
        )["class"]["assignments"]
        assert listed["totalCount"] == expected, role
        if expected == 1:
            assert [n["id"] for n in listed["nodes"]] == [shown]


async def test_class_assignments_come_in_pages_by_due_date(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    now = datetime.now(UTC)
    ids = {}
    for title, days in [("Third", 3), ("First", 1), ("Undated", None), ("Second", 2)]:
        due = {"dueAt": (now + timedelta(days=days)).isoformat()} if days else {"dueAt": None}
        ids[title] = (await create(teacher, north, title=title, **due))["assignment"]["id"]
    class_id = encode_id("Class", north.klass.id)
    seen, after = [], None
    while True:
        page = (await teacher.data(CLASS_ASSIGNMENTS, {"id": class_id, "first": 3, "after": after}))["class"][
            "assignments"
        ]
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [ids["First"], ids["Second"], ids["Third"], ids["Undated"]]
    bad = await teacher.execute(CLASS_ASSIGNMENTS, {"id": class_id, "after": "bm90LWEtY3Vyc29y"})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_category_weights_are_replaced_and_checked(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    class_id = encode_id("Class", north.klass.id)

    async def put(weights: list[tuple[str, float]]) -> dict[str, Any]:
        given = [{"category": c, "weight": w} for c, w in weights]
        payload: dict[str, Any] = (
            await teacher.data(WEIGHTS, {"input": {"classId": class_id, "weights": given}})
        )["setCategoryWeights"]
        return payload

    first = await put([("EXAM", 60), ("HOMEWORK", 40)])
    assert first["userErrors"] == []
    assert first["class"]["categoryWeights"] == [
        {"category": "HOMEWORK", "weight": 40.0},
        {"category": "EXAM", "weight": 60.0},
    ]
    for bad in (
        [("EXAM", 60), ("HOMEWORK", 30)],  # 90
        [("EXAM", 60), ("EXAM", 40)],  # twice
        [("EXAM", 120), ("HOMEWORK", -20)],  # outside 0-100
        [],
    ):
        refused = await put(bad)
        assert refused["class"] is None
        assert {(e["code"], tuple(e["field"])) for e in refused["userErrors"]} == {
            ("INVALID", ("input", "weights"))
        }
    replaced = await put([("QUIZ", 100)])
    assert replaced["class"]["categoryWeights"] == [{"category": "QUIZ", "weight": 100.0}]
    shown = (await teacher.data(CLASS_ASSIGNMENTS, {"id": class_id}))["class"]["categoryWeights"]
    assert shown == [{"category": "QUIZ", "weight": 100.0}]
    staff = await gql.as_user(factory.token(north.staff)).execute(
        WEIGHTS, {"input": {"classId": class_id, "weights": [{"category": "QUIZ", "weight": 100}]}}
    )
    assert staff["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    async with session_factory() as session:
        rows = (await session.execute(select(CategoryWeight.category, CategoryWeight.weight))).all()
    assert rows == [(AssignmentCategory.QUIZ, 100.0)]


async def test_concurrent_weight_changes_leave_one_whole_set(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    clients = [gql.as_user(factory.token(north.teacher)), gql.as_user(factory.token(north.admin))]
    class_id = encode_id("Class", north.klass.id)
    sets = [[("HOMEWORK", float(h)), ("EXAM", float(100 - h))] for h in (10, 20, 30, 40, 50, 60)]
    results = await asyncio.gather(
        *(
            clients[n % 2].data(
                WEIGHTS,
                {
                    "input": {
                        "classId": class_id,
                        "weights": [{"category": c, "weight": w} for c, w in weights],
                    }
                },
            )
            for n, weights in enumerate(sets)
        )
    )
    assert all(r["setCategoryWeights"]["userErrors"] == [] for r in results)
    async with session_factory() as session:
        stored = dict((await session.execute(select(CategoryWeight.category, CategoryWeight.weight))).all())
    assert sum(stored.values()) == 100.0
    assert sorted((c.value, w) for c, w in stored.items()) in [sorted(s) for s in sets]


async def test_a_closed_term_refuses_assignment_and_weight_writes(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    assignment_id = (await create(teacher, north))["assignment"]["id"]
    async with session_factory.begin() as session:
        await session.execute(
            update(Term).where(Term.id == north.klass.term_id).values(status=TermStatus.CLOSED)
        )
    class_id = encode_id("Class", north.klass.id)
    for operation, variables, name in [
        (CREATE, {"input": draft(north)}, "createAssignment"),
        (UPDATE, {"input": {"assignmentId": assignment_id, "title": "New"}}, "updateAssignment"),
        (ARCHIVE, {"input": {"assignmentId": assignment_id}}, "archiveAssignment"),
        (
            WEIGHTS,
            {"input": {"classId": class_id, "weights": [{"category": "QUIZ", "weight": 100}]}},
            "setCategoryWeights",
        ),
    ]:
        refused = (await teacher.data(operation, variables))[name]
        assert [e["code"] for e in refused["userErrors"]] == ["TERM_CLOSED"], name
    async with session_factory() as session:
        row = await session.get_one(Assignment, decode_id(assignment_id)[1])
        assert (row.title, row.archived_at) == ("Essay", None)
    assert await count(session_factory, Assignment) == 1
    assert await count(session_factory, CategoryWeight) == 0
