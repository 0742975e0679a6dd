"""Students through the contract's operations: search, profile, timeline, at-risk, cohorts, bulk."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, Notification, StudentProfile, StudentRisk
from models.enums import StudentStatus
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData, populate
from tests.statements import statements

SEARCH = contract_operation("StudentSearch")
PROFILE = contract_operation("StudentProfile")
TIMELINE = contract_operation("StudentTimeline")
AT_RISK = contract_operation("StudentsAtRisk")
COHORT = contract_operation("CohortAnalysis")
BULK = contract_operation("BulkStudentAction")


async def operation_costs(
    http: httpx.AsyncClient, factory: Factory, school: SchoolData, student_ids: list[int]
) -> dict[str, int]:
    staff, teacher = factory.token(school.staff), factory.token(school.teacher)
    some_student = encode_id("Student", student_ids[-1])
    every_student = [encode_id("Student", s) for s in student_ids[:100]]
    return {
        "search": await statements(http, staff, SEARCH, {"first": 100}),
        "search_filtered": await statements(
            http,
            staff,
            SEARCH,
            {
                "query": "pupil",
                "filter": {"gradeLevel": [9, 10]},
                "orderBy": {"field": "RISK_SCORE", "direction": "DESC"},
            },
        ),
        "profile": await statements(http, teacher, PROFILE, {"id": some_student}),
        "timeline": await statements(http, teacher, TIMELINE, {"id": some_student, "first": 50}),
        "at_risk": await statements(http, staff, AT_RISK, {"riskThreshold": 0.0, "first": 100}),
        "cohort": await statements(http, staff, COHORT, {"cohortYear": 2025}),
        "bulk": await statements(
            http,
            staff,
            BULK,
            {"input": {"action": "SEND_NOTIFICATION", "studentIds": every_student, "message": "Hi"}},
        ),
    }


async def test_statement_counts_do_not_grow_with_the_data(
    metered: httpx.AsyncClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    small = await factory.school("small")
    large = await factory.school("large")
    small_roster = await populate(session_factory, small, 10, assignments=3)
    large_roster = await populate(session_factory, large, 500, assignments=12)
    small_costs = await operation_costs(metered, factory, small, small_roster.student_ids)
    large_costs = await operation_costs(metered, factory, large, large_roster.student_ids)
    assert small_costs == large_costs
    assert max(large_costs.values()) <= 30


async def search_all(client: GraphQLClient, variables: dict[str, Any], page: int = 7) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    after = None
    while True:
        data = (await client.data(SEARCH, variables | {"first": page, "after": after}))["students"]
        found.extend(edge["node"] for edge in data["edges"])
        if not data["pageInfo"]["hasNextPage"]:
            return found
        after = data["pageInfo"]["endCursor"]


NAMES = [
    "Ana María López",
    "ANNA Smith",
    "Jo Anne Ng",
    "Hannah O'Neil",
    "Zoë Annan",
    "Bob Stone",
    "anna_b 100%",
]


async def test_search_matches_every_word_in_any_field_in_byte_order(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    await populate(session_factory, north, len(NAMES), names=NAMES)
    staff = gql.as_user(factory.token(north.staff))
    for text in ["ann", "ANN a", "an ng", "100%", "b 1", "_b", "o'n", "nobody here"]:
        found = await search_all(staff, {"query": text})
        expected = sorted(
            (s for s in await all_students(staff) if matches(s, text)),
            key=lambda s: (s["name"].lower().encode(), s["id"]),
        )
        assert [s["id"] for s in found] == [s["id"] for s in expected], text


async def all_students(client: GraphQLClient) -> list[dict[str, Any]]:
    return await search_all(client, {}, page=100)


def matches(student: dict[str, Any], text: str) -> bool:
    fields = [student["name"].lower(), student["email"].lower(), student["studentNumber"].lower()]
    return all(any(word in field for field in fields) for word in text.lower().split())


async def test_pages_walk_every_student_once_even_with_inserts_between_pages(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    await populate(session_factory, north, 40)
    staff = gql.as_user(factory.token(north.staff))
    before = {s["id"] for s in await all_students(staff)}
    order = {"field": "STUDENT_NUMBER", "direction": "DESC"}
    seen: list[str] = []
    after = None
    while True:
        data = (await staff.data(SEARCH, {"first": 9, "after": after, "orderBy": order}))["students"]
        seen.extend(edge["node"]["id"] for edge in data["edges"])
        await populate(session_factory, north, 2)  # newcomers while the client pages
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)), "no student twice"
    assert before <= set(seen), "nobody skipped"


async def test_facets_count_the_whole_filtered_result(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    await populate(session_factory, north, 30)
    staff = gql.as_user(factory.token(north.staff))
    data = (
        await staff.data(SEARCH, {"first": 5, "filter": {"status": ["ENROLLED"], "gradeLevel": [9, 10, 11]}})
    )["students"]
    total = data["totalCount"]
    assert len(data["edges"]) == 5 < total
    for facet in ("status", "gradeLevel", "riskLevel"):
        assert sum(bucket["count"] for bucket in data["facets"][facet]) == total
    assert {bucket["value"] for bucket in data["facets"]["status"]} == {"ENROLLED"}
    every = await search_all(staff, {"filter": {"status": ["ENROLLED"], "gradeLevel": [9, 10, 11]}})
    assert len(every) == total
    assert all(s["status"] == "ENROLLED" and s["gradeLevel"] in (9, 10, 11) for s in every)


async def test_risk_ordering_and_filter(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    await populate(session_factory, north, 25)
    staff = gql.as_user(factory.token(north.staff))
    by_risk = await search_all(staff, {"orderBy": {"field": "RISK_SCORE", "direction": "DESC"}})
    profiles = [
        (await staff.data(PROFILE, {"id": s["id"]}))["student"]["riskAssessment"]["riskScore"]
        for s in by_risk
    ]
    assert profiles == sorted(profiles, reverse=True)
    high = await search_all(staff, {"filter": {"riskLevel": ["HIGH", "MEDIUM"]}})
    assert high
    assert all(s["riskLevel"] in ("HIGH", "MEDIUM") for s in high)


async def test_who_may_search_whom(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    await populate(session_factory, south, 5)
    visible = {
        role: {s["id"] for s in await all_students(gql.as_user(factory.token(north.users[role])))}
        for role in ("staff", "teacher", "other_teacher", "mentor")
    }
    student, other = encode_id("Student", north.student.id), encode_id("Student", north.other_student.id)
    assert visible["staff"] == {student, other}
    assert visible["teacher"] == {student}
    assert visible["other_teacher"] == set()
    assert visible["mentor"] == {student}
    guardian = await gql.as_user(factory.token(north.guardian)).execute(SEARCH, {})
    assert [edge["node"]["name"] for edge in guardian["data"]["students"]["edges"]] == [north.student.name]
    assert {error["path"][-1] for error in guardian["errors"]} == {"riskLevel"}, (
        "analytics are not for guardians"
    )
    refused = await gql.as_user(factory.token(north.student)).execute(SEARCH, {})
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    foreign_class = encode_id("Class", south.klass.id)
    assert (
        await search_all(gql.as_user(factory.token(north.staff)), {"filter": {"classId": foreign_class}})
        == []
    )


async def test_profile_parts_by_relation(gql: GraphQLClient, factory: Factory) -> None:
    north = await factory.school("north")
    student_id = encode_id("Student", north.student.id)
    for role in ("teacher", "mentor", "staff"):
        data = await gql.as_user(factory.token(north.users[role])).data(PROFILE, {"id": student_id})
        assert data["student"]["riskAssessment"]["riskLevel"] in ("LOW", "MEDIUM", "HIGH")
        assert data["student"]["enrollments"][0]["class"]["title"] == "Algebra A"
    for role in ("student", "guardian"):
        result = await gql.as_user(factory.token(north.users[role])).execute(PROFILE, {"id": student_id})
        assert result["data"]["student"]["name"] == north.student.name
        denied = {tuple(error["path"][1:]) for error in result["errors"]}
        assert denied == {("riskAssessment",), ("successPrediction",)}
    for role in ("other_teacher", "other_student"):
        result = await gql.as_user(factory.token(north.users[role])).execute(PROFILE, {"id": student_id})
        assert result["data"] == {"student": None}
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_profile_grades_attendance_and_progress(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    roster = await populate(session_factory, north, 3, assignments=4)
    student = roster.student_ids[0]
    data = await gql.as_user(factory.token(north.teacher)).data(
        PROFILE, {"id": encode_id("Student", student)}
    )
    enrollment = data["student"]["enrollments"][0]
    scores = [float((student + a) % 11) for a in roster.assignment_ids]
    assert enrollment["currentGrade"]["percentage"] == pytest.approx(100 * sum(scores) / 40, abs=0.01)
    absences = sum(1 for day in range(1, 6) if (student + day) % 5 == 0)
    assert enrollment["attendanceRate"] == pytest.approx((5 - absences) / 5, abs=0.0001)
    assert data["student"]["academicProgress"] == {
        "cumulativeGpa": None,
        "totalCreditHours": 0.0,
        "academicStanding": "NO_RECORD",
    }


async def test_timeline_is_newest_first_filtered_and_paged(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    roster = await populate(session_factory, north, 1, assignments=3)
    teacher = gql.as_user(factory.token(north.teacher))
    student_id = encode_id("Student", roster.student_ids[0])
    events: list[dict[str, Any]] = []
    after = None
    while True:
        data = (await teacher.data(TIMELINE, {"id": student_id, "first": 2, "after": after}))["student"][
            "timeline"
        ]
        events.extend(data["nodes"])
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert [e["kind"] for e in events].count("ATTENDANCE") == 5
    times = [e["occurredAt"] for e in events]
    assert times == sorted(times, reverse=True)
    only = (await teacher.data(TIMELINE, {"id": student_id, "first": 50, "kinds": ["ATTENDANCE"]}))["student"]
    assert {e["kind"] for e in only["timeline"]["nodes"]} == {"ATTENDANCE"}
    assert only["timeline"]["nodes"][0]["actor"]["name"] == north.teacher.name


async def test_students_at_risk_and_cohorts(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    await populate(session_factory, north, 20)
    staff = gql.as_user(factory.token(north.staff))
    at_risk = (await staff.data(AT_RISK, {"riskThreshold": 0.2, "first": 5}))["studentsAtRisk"]
    scores = [s["riskAssessment"]["riskScore"] for s in at_risk["nodes"]]
    assert scores == sorted(scores, reverse=True)
    assert all(score >= 0.2 for score in scores)
    assert at_risk["totalCount"] >= len(scores)
    cohort = (await staff.data(COHORT, {"cohortYear": 2025}))["cohortAnalysis"]
    assert cohort["studentCount"] == 10
    assert sum(b["count"] for b in cohort["riskDistribution"]) == 10
    assert cohort["retentionRate"] == 1.0
    teacher = await gql.as_user(factory.token(north.teacher)).execute(COHORT, {"cohortYear": 2025})
    assert teacher["errors"][0]["extensions"]["code"] == "FORBIDDEN"


AT_RISK_PAGE = """query AtRiskPage($threshold: Float!, $first: Int, $after: String) {
  studentsAtRisk(riskThreshold: $threshold, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage endCursor }
    nodes { id riskAssessment { riskScore } }
  }
}"""


async def test_students_at_risk_page_through_every_one_once_in_order(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    roster = await populate(session_factory, north, 23)
    async with session_factory.begin() as session:  # ties: pages must break them by id
        await session.execute(
            update(StudentRisk)
            .where(StudentRisk.student_id.in_(roster.student_ids[::2]))
            .values(risk_score=0.5)
        )
    staff = gql.as_user(factory.token(north.staff))
    everyone = (await staff.data(AT_RISK_PAGE, {"threshold": 0.3, "first": 100}))["studentsAtRisk"]
    assert not everyone["pageInfo"]["hasNextPage"]
    assert len(everyone["nodes"]) == everyone["totalCount"] > 12
    paged: list[dict[str, Any]] = []
    after = None
    while True:
        variables = {"threshold": 0.3, "first": 4, "after": after}
        page = (await staff.data(AT_RISK_PAGE, variables))["studentsAtRisk"]
        assert page["totalCount"] == everyone["totalCount"]
        assert len(page["nodes"]) <= 4
        paged.extend(page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [s["id"] for s in paged] == [s["id"] for s in everyone["nodes"]], "no duplicates, no gaps"
    scores = [s["riskAssessment"]["riskScore"] for s in paged]
    assert scores == sorted(scores, reverse=True)
    assert all(score >= 0.3 for score in scores)
    bad = await staff.execute(AT_RISK_PAGE, {"threshold": 0.3, "after": "bm90IGEgY3Vyc29y"})
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_bulk_actions_do_what_they_can_and_report_the_rest(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    ids = [
        encode_id("Student", north.student.id),
        encode_id("Student", south.student.id),
        "garbage",
        encode_id("Student", north.other_student.id),
    ]
    status_change = {"input": {"action": "UPDATE_STATUS", "studentIds": ids, "status": "ON_LEAVE"}}
    payload = (await gql.as_user(factory.token(north.staff)).data(BULK, status_change))["bulkStudentAction"]
    assert payload["processedCount"] == 2
    assert payload["failedCount"] == 2
    assert [(e["field"], e["code"]) for e in payload["userErrors"]] == [
        (["input", "studentIds", "1"], "NOT_FOUND"),
        (["input", "studentIds", "2"], "INVALID"),
    ]
    async with session_factory() as session:
        statuses = dict((await session.execute(select(StudentProfile.user_id, StudentProfile.status))).all())
        audited = (
            await session.scalars(
                select(AuditEntry.subject_id).where(AuditEntry.action == "student.update_status")
            )
        ).all()
    assert statuses[north.student.id] == statuses[north.other_student.id] == StudentStatus.ON_LEAVE
    assert statuses[south.student.id] == StudentStatus.ENROLLED
    assert Counter(audited) == Counter([north.student.id, north.other_student.id])

    teacher = gql.as_user(factory.token(north.teacher))
    refused = await teacher.execute(BULK, status_change)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    notify = {
        "input": {"action": "SEND_NOTIFICATION", "studentIds": ids[:1] + ids[3:], "message": "Field trip!"}
    }
    sent = (await teacher.data(BULK, notify))["bulkStudentAction"]
    assert (sent["processedCount"], sent["failedCount"]) == (1, 1), "a teacher reaches only their students"
    missing_message = (await teacher.data(BULK, {"input": notify["input"] | {"message": " "}}))[
        "bulkStudentAction"
    ]
    assert missing_message["userErrors"][0]["field"] == ["input", "message"]
    async with session_factory() as session:
        notes = (await session.scalars(select(Notification).where(Notification.body == "Field trip!"))).all()
    assert [n.user_id for n in notes] == [north.student.id]
