"""setFinancialAidProfile and Student.financialAidProfile: staff and admins set and read the
profile, a second call replaces it, the write is audited, and everyone else is refused (the
student included); another school's student is NOT_FOUND and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, FinancialAidProfile
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

SET = contract_operation("SetFinancialAidProfile")
READ = (
    "query ($id: ID!) { student(id: $id) { id financialAidProfile { householdIncomeBand financialNeed } } }"
)


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


def aid_input(student_id: int, band: str | None, need: bool) -> dict[str, Any]:
    return {"studentId": encode_id("Student", student_id), "householdIncomeBand": band, "financialNeed": need}


async def set_profile(client: GraphQLClient, given: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(SET, {"input": given}))["setFinancialAidProfile"]
    return payload


async def rows(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    async with session_factory() as session:
        profiles = await session.scalar(select(func.count()).select_from(FinancialAidProfile))
        audited = await session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "financial_aid.set")
        )
    return profiles or 0, audited or 0


async def test_staff_set_and_replace_a_profile_audited(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    first = await set_profile(staff, aid_input(north.student.id, "LOW", True))
    assert first["userErrors"] == []
    assert first["student"]["id"] == encode_id("Student", north.student.id)
    profile = first["student"]["financialAidProfile"]
    assert (profile["householdIncomeBand"], profile["financialNeed"]) == ("LOW", True)
    assert profile["updatedAt"]
    admin = gql.as_user(factory.token(north.admin))
    second = await set_profile(admin, aid_input(north.student.id, None, False))
    assert second["student"]["financialAidProfile"]["householdIncomeBand"] is None
    assert second["student"]["financialAidProfile"]["financialNeed"] is False
    assert await rows(session_factory) == (1, 2)
    unknown = await staff.data(READ, {"id": encode_id("Student", north.other_student.id)})
    assert unknown["student"]["financialAidProfile"] is None


async def test_another_schools_student_is_not_found_and_nothing_is_written(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    for student_id in (south.student.id, 999_999):
        refused = await set_profile(staff, aid_input(student_id, "LOW", True))
        assert refused["student"] is None
        assert [(e["code"], e["field"]) for e in refused["userErrors"]] == [
            ("NOT_FOUND", ["input", "studentId"])
        ]
    assert await rows(session_factory) == (0, 0)


@pytest.mark.parametrize("role", ["teacher", "mentor", "student", "guardian"])
async def test_others_are_forbidden_to_set_or_read(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
    role: str,
) -> None:
    await set_profile(gql.as_user(factory.token(north.staff)), aid_input(north.student.id, "MIDDLE", False))
    caller = gql.as_user(factory.token(getattr(north, role)))
    written = await caller.execute(SET, {"input": aid_input(north.student.id, "LOW", True)})
    assert written["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    read = await caller.execute(READ, {"id": encode_id("Student", north.student.id)})
    assert read["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await rows(session_factory) == (1, 1)
