"""scholarshipMatches and Student.scholarshipMatches through the contract's operations: the
ranking (share of criteria met, then GPA, then attendance), each criterion explained with the
student's value (unknown values are null and never met), eligibleOnly and pages, the proposed
amount of a percentage of the term's charges, a fixed number of statements however many students
the school has, and who may see it (staff and admins only, never the student)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import AttendanceRecord, Enrollment, StudentProfile, User
from models.enums import AttendanceStatus, HouseholdIncomeBand, InvoiceStatus
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.conftest import http_client_for
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.resolvers.finance.payments_helper import issued_invoice
from tests.resolvers.finance.test_scholarships import created_id, scholarship_input, with_aid, with_gpa
from tests.statements import statements

MATCHES = contract_operation("ScholarshipMatches")
STUDENT_MATCHES = contract_operation("StudentScholarshipMatches")
UPDATE = contract_operation("UpdateScholarship")
CRITERIA = {
    "minGpa": 3.0,
    "maxHouseholdIncomeBand": "MIDDLE",
    "requiresFinancialNeed": True,
    "gradeLevels": [10, 11],
    "minAttendanceRate": 0.8,
}
DUE = date(2099, 1, 15)


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


@pytest.fixture
async def metered(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with http_client_for(settings.model_copy(update={"debug_metrics": True})) as client:
        yield client


async def attended(
    session_factory: async_sessionmaker[AsyncSession], school: SchoolData, student: User, statuses: list[str]
) -> None:
    """`student` in `school.klass` (ACTIVE) with a meeting a day of each status."""
    async with session_factory.begin() as session:
        session.add(Enrollment(class_id=school.klass.id, student_id=student.id))
        session.add_all(
            AttendanceRecord(
                class_id=school.klass.id,
                student_id=student.id,
                date=date(2026, 9, 1) + timedelta(days=day),
                status=AttendanceStatus(status),
            )
            for day, status in enumerate(statuses)
        )


async def in_grade(session_factory: async_sessionmaker[AsyncSession], student: User, grade: int) -> None:
    async with session_factory.begin() as session:
        await session.execute(
            update(StudentProfile).where(StudentProfile.user_id == student.id).values(grade_level=grade)
        )


async def cohort(
    factory: Factory, session_factory: async_sessionmaker[AsyncSession], school: SchoolData
) -> dict[str, User]:
    """Ada meets every criterion; Cy all but the income band; Ben all but attendance; Di none."""
    ada, ben, cy, di = await factory.students(school, ["Ada", "Ben", "Cy", "Di"])
    low, high = HouseholdIncomeBand.LOW, HouseholdIncomeBand.HIGH
    for student, gpa, band, statuses in (
        (ada, 3.8, low, ["PRESENT", "LATE", "EXCUSED"]),
        (ben, 3.5, low, ["PRESENT", "ABSENT"]),
        (cy, 3.9, high, ["PRESENT"]),
    ):
        await with_gpa(session_factory, school, student, gpa)
        await with_aid(session_factory, school, student, band, True)
        await attended(session_factory, school, student, statuses)
    await in_grade(session_factory, di, 12)
    return {"ada": ada, "ben": ben, "cy": cy, "di": di}


def criteria_of(node: dict[str, Any]) -> dict[str, tuple[bool, str | None]]:
    return {row["criterion"]: (row["met"], row["studentValue"]) for row in node["criteria"]}


async def test_students_are_ranked_by_criteria_met_then_gpa_then_attendance(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    people = await cohort(factory, session_factory, north)
    staff = gql.as_user(factory.token(north.staff))
    scholarship_id = await created_id(staff, scholarship_input(north, criteria=CRITERIA))
    ranking = (await staff.data(MATCHES, {"scholarshipId": scholarship_id}))["scholarshipMatches"]
    assert (ranking["totalCount"], ranking["eligibleCount"]) == (6, 1)
    nodes = ranking["nodes"]
    assert [(node["rank"], node["student"]["name"], node["score"], node["eligible"]) for node in nodes] == [
        (1, "Ada", 1.0, True),
        (2, "Cy", 0.8, False),
        (3, "Ben", 0.8, False),
        (4, north.student.name, 0.2, False),
        (5, north.other_student.name, 0.2, False),
        (6, "Di", 0.0, False),
    ]
    assert nodes[0]["student"]["gradeLevel"] == 10
    assert nodes[0]["student"]["id"] == encode_id("Student", people["ada"].id)
    assert (nodes[0]["awarded"], nodes[0]["proposedAmount"]) == (False, "100.00")
    assert criteria_of(nodes[0]) == {
        "MIN_GPA": (True, "3.80"),
        "MAX_HOUSEHOLD_INCOME_BAND": (True, "LOW"),
        "FINANCIAL_NEED": (True, "true"),
        "GRADE_LEVEL": (True, "10"),
        "MIN_ATTENDANCE_RATE": (True, "1.0000"),
    }
    ada_criteria = {row["criterion"]: row for row in nodes[0]["criteria"]}
    assert ada_criteria["MIN_GPA"]["required"] == "GPA at least 3.00"
    assert ada_criteria["MIN_GPA"]["detail"] == "Cumulative GPA 3.80 over 3 credits."
    assert ada_criteria["MIN_ATTENDANCE_RATE"]["required"] == "Attendance rate at least 80%"
    assert ada_criteria["MIN_ATTENDANCE_RATE"]["detail"] == (
        "Attended 100.0% of 2 class meetings in current classes."
    ), "the excused absence is left out"
    assert ada_criteria["GRADE_LEVEL"]["required"] == "Grade level 10 or 11"
    assert criteria_of(nodes[1])["MAX_HOUSEHOLD_INCOME_BAND"] == (False, "HIGH")
    assert criteria_of(nodes[2])["MIN_ATTENDANCE_RATE"] == (False, "0.5000")
    assert criteria_of(nodes[5]) == {
        "MIN_GPA": (False, None),
        "MAX_HOUSEHOLD_INCOME_BAND": (False, None),
        "FINANCIAL_NEED": (False, None),
        "GRADE_LEVEL": (False, "12"),
        "MIN_ATTENDANCE_RATE": (False, None),
    }, "unknown values are null and not met: nothing is guessed"
    unknown = {row["criterion"]: row["detail"] for row in nodes[5]["criteria"]}
    assert unknown["MIN_GPA"] == "No completed class with a final grade yet: the GPA is unknown."
    assert unknown["FINANCIAL_NEED"] == "No financial-aid profile recorded."


async def test_eligible_only_and_pages_of_the_ranking(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await cohort(factory, session_factory, north)
    staff = gql.as_user(factory.token(north.staff))
    scholarship_id = await created_id(staff, scholarship_input(north, criteria=CRITERIA))
    eligible = (await staff.data(MATCHES, {"scholarshipId": scholarship_id, "eligibleOnly": True}))[
        "scholarshipMatches"
    ]
    assert (eligible["totalCount"], eligible["eligibleCount"]) == (1, 1)
    assert [node["student"]["name"] for node in eligible["nodes"]] == ["Ada"]
    first = (await staff.data(MATCHES, {"scholarshipId": scholarship_id, "first": 2}))["scholarshipMatches"]
    assert [node["rank"] for node in first["nodes"]] == [1, 2]
    assert first["pageInfo"]["hasNextPage"] is True
    after = first["pageInfo"]["endCursor"]
    second = (await staff.data(MATCHES, {"scholarshipId": scholarship_id, "first": 3, "after": after}))[
        "scholarshipMatches"
    ]
    assert [(node["rank"], node["student"]["name"]) for node in second["nodes"]] == [
        (3, "Ben"),
        (4, north.student.name),
        (5, north.other_student.name),
    ]
    assert second["pageInfo"]["hasNextPage"] is True
    no_criteria = await created_id(staff, scholarship_input(north, name="For everyone"))
    everyone = (await staff.data(MATCHES, {"scholarshipId": no_criteria}))["scholarshipMatches"]
    assert everyone["eligibleCount"] == 6
    assert {node["score"] for node in everyone["nodes"]} == {1.0}
    assert [node["student"]["name"] for node in everyone["nodes"]][:3] == ["Cy", "Ada", "Ben"], "then GPA"


async def test_the_ranking_costs_the_same_statements_for_more_students(
    gql: GraphQLClient,
    metered: httpx.AsyncClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    staff = factory.token(north.staff)
    scholarship_id = await created_id(gql.as_user(staff), scholarship_input(north, criteria=CRITERIA))
    variables = {"scholarshipId": scholarship_id, "first": 50}
    few = await statements(metered, staff, MATCHES, variables)
    await cohort(factory, session_factory, north)
    more = await factory.students(north, [f"Extra {n}" for n in range(12)])
    for student in more[:4]:
        await with_gpa(session_factory, north, student, 2.0)
        await with_aid(session_factory, north, student, HouseholdIncomeBand.MIDDLE, False)
        await attended(session_factory, north, student, ["PRESENT", "ABSENT", "PRESENT"])
    assert (await gql.as_user(staff).data(MATCHES, variables))["scholarshipMatches"]["totalCount"] == 18
    assert await statements(metered, staff, MATCHES, variables) == few


async def test_a_students_matches_cover_the_active_scholarships_with_the_proposed_amounts(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    ada = (await cohort(factory, session_factory, north))["ada"]
    await issued_invoice(session_factory, north, [("300.00", DUE), ("100.00", DUE)], student=ada)
    await issued_invoice(session_factory, north, [("900.00", DUE)], student=ada, status=InvoiceStatus.DRAFT)
    staff = gql.as_user(factory.token(north.staff))
    merit = await created_id(staff, scholarship_input(north, amount="150.00", criteria=CRITERIA))
    share = await created_id(staff, scholarship_input(north, name="Quarter", amount=None, percentage="25.55"))
    stopped = await created_id(staff, scholarship_input(north, name="Stopped"))
    await staff.data(UPDATE, {"input": {"scholarshipId": stopped, "active": False}})
    picky = await created_id(staff, scholarship_input(north, name="Picky", criteria={"gradeLevels": [12]}))
    student = (await staff.data(STUDENT_MATCHES, {"id": encode_id("Student", ada.id)}))["student"]
    assert student["financialAidProfile"]["householdIncomeBand"] == "LOW"
    found = [
        (row["scholarship"]["id"], row["score"], row["eligible"], row["proposedAmount"])
        for row in student["scholarshipMatches"]
    ]
    assert found == [
        (merit, 1.0, True, "150.00"),
        (share, 1.0, True, "102.20"),  # 25.55% of the 400.00 posted (the draft is not charged)
        (picky, 0.0, False, "100.00"),
    ]
    assert student["scholarshipMatches"][1]["scholarship"]["kind"] == "PERCENTAGE"
    assert student["scholarshipMatches"][1]["criteria"] == []
    assert student["scholarshipMatches"][2]["criteria"][0]["studentValue"] == "10"


async def test_only_staff_and_admins_see_matches(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    admin = gql.as_user(factory.token(north.admin))
    scholarship_id = await created_id(admin, scholarship_input(north))
    mine = {"id": encode_id("Student", north.student.id)}
    assert len((await admin.data(STUDENT_MATCHES, mine))["student"]["scholarshipMatches"]) == 1
    for user in (north.student, north.guardian, north.teacher, north.mentor):
        client = gql.as_user(factory.token(user))
        result = await client.execute(STUDENT_MATCHES, mine)
        assert result["data"]["student"]["scholarshipMatches"] is None, user.name
        codes = {error["path"][-1]: error["extensions"]["code"] for error in result["errors"]}
        assert codes["scholarshipMatches"] == "FORBIDDEN", user.name
        ranking = await client.execute(MATCHES, {"scholarshipId": scholarship_id})
        assert ranking["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.name
    south = await factory.school("south")
    theirs = await created_id(gql.as_user(factory.token(south.staff)), scholarship_input(south))
    for scholarship in (theirs, encode_id("Scholarship", 999_999)):
        foreign = await admin.execute(MATCHES, {"scholarshipId": scholarship})
        assert foreign["errors"][0]["message"] == "Not found, or not yours to see."
    other = await gql.as_user(factory.token(south.staff)).execute(STUDENT_MATCHES, mine)
    assert other["data"]["student"] is None
