"""Scholarships through the contract's operations: createScholarship (a fixed amount or a
percentage, exactly one; money and percentage rules; the school's currency and term), the
`scholarships` list with its budgets, updateScholarship (never below what is awarded; inactive),
the audit entries, and who may do it. The helpers here build the students the matching and
award tests rank and award."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, Class, Enrollment, FinalGrade, FinancialAidProfile, Scholarship, User
from models.enums import EnrollmentStatus, HouseholdIncomeBand
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

CREATE = contract_operation("CreateScholarship")
UPDATE = contract_operation("UpdateScholarship")
LIST = contract_operation("Scholarships")
AWARD = contract_operation("AwardScholarship")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


def scholarship_input(school: SchoolData, **fields: Any) -> dict[str, Any]:
    return {
        "termId": encode_id("Term", school.klass.term_id),
        "name": "Merit award",
        "currency": "USD",
        "budget": "1000.00",
        "amount": "100.00",
    } | fields


async def create(client: GraphQLClient, given: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(CREATE, {"input": given}))["createScholarship"]
    return payload


async def created_id(client: GraphQLClient, given: dict[str, Any]) -> str:
    payload = await create(client, given)
    assert payload["userErrors"] == [], payload["userErrors"]
    scholarship_id: str = payload["scholarship"]["id"]
    return scholarship_id


async def award(client: GraphQLClient, scholarship_id: str, student: User, **fields: Any) -> dict[str, Any]:
    given = {"scholarshipId": scholarship_id, "studentId": encode_id("Student", student.id)} | fields
    payload: dict[str, Any] = (await client.data(AWARD, {"input": given}))["awardScholarship"]
    return payload


async def with_gpa(
    session_factory: async_sessionmaker[AsyncSession], school: SchoolData, student: User, points: float
) -> None:
    """A completed class of `school.course` (3 credits) with a final grade of `points` grade points."""
    async with session_factory.begin() as session:
        klass = Class(
            school_id=school.school.id,
            course_id=school.course.id,
            term_id=school.klass.term_id,
            title=f"Completed {student.id}-{points}",
        )
        session.add(klass)
        await session.flush()
        session.add(Enrollment(class_id=klass.id, student_id=student.id, status=EnrollmentStatus.COMPLETED))
        session.add(
            FinalGrade(class_id=klass.id, student_id=student.id, percentage=90.0, grade_points=points)
        )


async def with_aid(
    session_factory: async_sessionmaker[AsyncSession],
    school: SchoolData,
    student: User,
    band: HouseholdIncomeBand | None,
    need: bool,
) -> None:
    async with session_factory.begin() as session:
        session.add(
            FinancialAidProfile(
                student_id=student.id,
                school_id=school.school.id,
                household_income_band=band,
                financial_need=need,
            )
        )


async def scholarship_rows(session_factory: async_sessionmaker[AsyncSession], action: str) -> tuple[int, int]:
    """Scholarships, and audit entries of `action`."""
    async with session_factory() as session:
        count = await session.scalar(select(func.count()).select_from(Scholarship))
        audited = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        )
    return count or 0, audited or 0


async def test_staff_create_fixed_and_percentage_scholarships_and_list_them(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    criteria = {
        "minGpa": 3.0,
        "maxHouseholdIncomeBand": "MIDDLE",
        "requiresFinancialNeed": True,
        "gradeLevels": [11, 9, 11],
        "minAttendanceRate": 0.9,
    }
    fixed = await create(staff, scholarship_input(north, description="  For merit  ", criteria=criteria))
    assert fixed["userErrors"] == []
    assert {key: value for key, value in fixed["scholarship"].items() if key != "id"} == {
        "name": "Merit award",
        "kind": "FIXED",
        "amount": "100.00",
        "percentage": None,
        "currency": "USD",
        "budget": "1000.00",
        "remainingBudget": "1000.00",
        "active": True,
        "criteria": {
            "minGpa": 3.0,
            "maxHouseholdIncomeBand": "MIDDLE",
            "requiresFinancialNeed": True,
            "gradeLevels": [9, 11],
            "minAttendanceRate": 0.9,
        },
    }
    admin = gql.as_user(factory.token(north.admin))
    share = scholarship_input(north, name="Need grant", amount=None, percentage="25.50", currency="usd")
    percentage = (await create(admin, share))["scholarship"]
    assert (percentage["kind"], percentage["amount"], percentage["percentage"]) == (
        "PERCENTAGE",
        None,
        "25.50",
    )
    assert percentage["criteria"] == {
        "minGpa": None,
        "maxHouseholdIncomeBand": None,
        "requiresFinancialNeed": False,
        "gradeLevels": [],
        "minAttendanceRate": None,
    }
    listed = (await staff.data(LIST, {"termId": encode_id("Term", north.klass.term_id)}))["scholarships"]
    assert listed["totalCount"] == 2
    assert [node["name"] for node in listed["nodes"]] == ["Need grant", "Merit award"], "newest first"
    first = listed["nodes"][1]
    assert (first["awardedAmount"], first["remainingBudget"], first["awardCount"]) == ("0.00", "1000.00", 0)
    assert first["term"] == {"id": encode_id("Term", north.klass.term_id), "name": "Fall"}
    other_term = await factory.term(north, "Spring", date(2027, 2, 1), date(2027, 6, 30))
    assert (await staff.data(LIST, {"termId": encode_id("Term", other_term.id)}))["scholarships"][
        "totalCount"
    ] == 0
    everything = (await staff.data(LIST, {"first": 1}))["scholarships"]
    assert (everything["totalCount"], everything["pageInfo"]["hasNextPage"]) == (2, True)
    assert await scholarship_rows(session_factory, "scholarship.created") == (2, 2)


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": "100.00", "percentage": "10"}, ["input", "amount"]),
        ({"amount": None}, ["input", "amount"]),
        ({"amount": "0"}, ["input", "amount"]),
        ({"amount": "-5.00"}, ["input", "amount"]),
        ({"amount": "10.001"}, ["input", "amount"]),
        ({"amount": None, "percentage": "0"}, ["input", "percentage"]),
        ({"amount": None, "percentage": "100.01"}, ["input", "percentage"]),
        ({"amount": None, "percentage": "12.345"}, ["input", "percentage"]),
        ({"budget": "0.00"}, ["input", "budget"]),
        ({"budget": "99.999"}, ["input", "budget"]),
        ({"budget": "20643729246681928515564798476288"}, ["input", "budget"]),  # the fuzzer's: was a 500
        ({"name": "   "}, ["input", "name"]),
        ({"criteria": {"minGpa": 7.0}}, ["input", "criteria", "minGpa"]),
        ({"criteria": {"minAttendanceRate": 1.5}}, ["input", "criteria", "minAttendanceRate"]),
        ({"criteria": {"gradeLevels": [30]}}, ["input", "criteria", "gradeLevels"]),
    ],
)
async def test_invalid_scholarships_are_refused_and_nothing_is_written(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
    fields: dict[str, Any],
    field: list[str],
) -> None:
    refused = await create(gql.as_user(factory.token(north.staff)), scholarship_input(north, **fields))
    assert refused["scholarship"] is None
    assert [(error["code"], error["field"]) for error in refused["userErrors"]] == [("INVALID", field)]
    assert await scholarship_rows(session_factory, "scholarship.created") == (0, 0)


async def test_a_full_percentage_is_allowed_and_currency_and_term_are_checked(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    full = await create(staff, scholarship_input(north, amount=None, percentage="100"))
    assert full["scholarship"]["percentage"] == "100.00"
    south = await factory.school("south")
    refused = await create(
        staff, scholarship_input(north, currency="EUR", termId=encode_id("Term", south.klass.term_id))
    )
    assert sorted((error["code"], error["field"][-1]) for error in refused["userErrors"]) == [
        ("CURRENCY_MISMATCH", "currency"),
        ("NOT_FOUND", "termId"),
    ]
    assert await scholarship_rows(session_factory, "scholarship.created") == (1, 1)


async def test_updates_keep_the_budget_above_what_is_awarded(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    scholarship_id = await created_id(staff, scholarship_input(north, budget="500.00", amount="150.00"))
    assert (await award(staff, scholarship_id, north.student))["userErrors"] == []
    changes = {
        "scholarshipId": scholarship_id,
        "name": "Renamed",
        "budget": "150.00",
        "criteria": {"minGpa": 2.5, "gradeLevels": [10]},
    }
    updated = (await staff.data(UPDATE, {"input": changes}))["updateScholarship"]
    assert updated["userErrors"] == []
    assert updated["scholarship"] == {
        "id": scholarship_id,
        "name": "Renamed",
        "budget": "150.00",
        "remainingBudget": "0.00",
        "active": True,
        "criteria": {"minGpa": 2.5, "gradeLevels": [10]},
    }
    below = (await staff.data(UPDATE, {"input": {"scholarshipId": scholarship_id, "budget": "149.99"}}))[
        "updateScholarship"
    ]
    assert below["scholarship"] is None
    assert [(error["code"], error["field"]) for error in below["userErrors"]] == [
        ("INVALID", ["input", "budget"])
    ]
    stopped = (await staff.data(UPDATE, {"input": {"scholarshipId": scholarship_id, "active": False}}))[
        "updateScholarship"
    ]
    assert (stopped["scholarship"]["active"], stopped["scholarship"]["budget"]) == (False, "150.00")
    assert await scholarship_rows(session_factory, "scholarship.updated") == (1, 2)
    async with session_factory() as session:
        row = await session.get_one(Scholarship, await _pk(session, "Renamed"))
    assert row.budget == Decimal("150.00")
    assert row.criteria["min_gpa"] == 2.5


async def _pk(session: AsyncSession, name: str) -> int:
    pk = await session.scalar(select(Scholarship.id).where(Scholarship.name == name))
    assert pk is not None
    return pk


async def test_another_schools_scholarship_is_not_found_and_unchanged(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    theirs = await created_id(gql.as_user(factory.token(south.staff)), scholarship_input(south))
    staff = gql.as_user(factory.token(north.staff))
    for scholarship_id in (theirs, encode_id("Scholarship", 999_999), "nonsense"):
        refused = (await staff.data(UPDATE, {"input": {"scholarshipId": scholarship_id, "name": "Mine"}}))[
            "updateScholarship"
        ]
        assert [(error["code"], error["field"]) for error in refused["userErrors"]] == [
            ("NOT_FOUND", ["input", "scholarshipId"])
        ]
    assert (await staff.data(LIST, {}))["scholarships"]["totalCount"] == 0
    foreign_term = await staff.execute(LIST, {"termId": encode_id("Term", south.klass.term_id)})
    assert foreign_term["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert foreign_term["errors"][0]["message"] == "Not found, or not yours to see."
    assert await scholarship_rows(session_factory, "scholarship.updated") == (1, 0)


async def test_only_staff_and_admins_manage_scholarships(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    scholarship_id = await created_id(gql.as_user(factory.token(north.admin)), scholarship_input(north))
    for user in (north.teacher, north.mentor, north.guardian, north.student):
        client = gql.as_user(factory.token(user))
        for query, variables in (
            (LIST, {}),
            (CREATE, {"input": scholarship_input(north)}),
            (UPDATE, {"input": {"scholarshipId": scholarship_id, "active": False}}),
        ):
            result = await client.execute(query, variables)
            assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN", (user.name, query[:30])
    anonymous = await gql.execute(LIST, {})
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await scholarship_rows(session_factory, "scholarship.updated") == (1, 0)
    async with session_factory() as session:
        assert (await session.get_one(Scholarship, await _pk(session, "Merit award"))).active is True
