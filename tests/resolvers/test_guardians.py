"""Guardians linked to and unlinked from students through the contract's operations: the guardian
then reads the ward's record, grades and attendance, and nobody else's, at once."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

LINK = contract_operation("LinkGuardian")
UNLINK = contract_operation("UnlinkGuardian")
STUDENT_RECORD = contract_operation("StudentRecord")
MY_RECORDS = contract_operation("MyRecords")
GRADES = """query($id: ID!) {
  student(id: $id) { id enrollments { currentGrade { percentage } attendanceRate } }
}"""


def codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors", [])]


def pair(school: SchoolData, *, guardian: Any = None, student: Any = None) -> dict[str, str]:
    return {
        "guardianId": encode_id("User", (guardian or school.guardian).id),
        "studentId": encode_id("Student", (student or school.other_student).id),
    }


async def link(client: GraphQLClient, fields: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(LINK, {"input": fields}))["linkGuardian"]
    return payload


async def unlink(client: GraphQLClient, fields: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(UNLINK, {"input": fields}))["unlinkGuardian"]
    return payload


def errors_of(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def test_a_linked_guardian_sees_the_ward_and_stops_at_once_when_unlinked(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    staff = gql.as_user(factory.token(north.staff))
    guardian = gql.as_user(factory.token(north.guardian))
    ward = {"id": encode_id("Student", north.other_student.id)}
    assert codes(await guardian.execute(STUDENT_RECORD, ward)) == ["FORBIDDEN"]
    assert codes(await guardian.execute(GRADES, ward)) == ["FORBIDDEN"]
    linked = await link(staff, pair(north) | {"relationship": "grandmother"})
    assert linked["userErrors"] == []
    assert linked["student"]["id"] == ward["id"]
    assert [(g["relationship"], g["user"]["id"]) for g in linked["student"]["guardians"]] == [
        ("grandmother", encode_id("User", north.guardian.id))
    ]
    assert linked["student"]["guardians"][0]["linkedAt"] is not None
    assert {w["id"] for w in linked["guardian"]["wards"]} == {
        encode_id("Student", north.student.id),
        ward["id"],
    }
    record = await guardian.execute(STUDENT_RECORD, ward)
    assert record["data"]["student"]["name"] == north.other_student.name
    assert codes(record) == ["FORBIDDEN"], "emergency contacts stay with the staff"
    assert (await guardian.data(GRADES, ward))["student"]["id"] == ward["id"]
    wards = (await guardian.data(MY_RECORDS))["me"]["wards"]
    assert [w["id"] for w in wards] == [encode_id("Student", north.student.id), ward["id"]]
    unlinked = await unlink(staff, pair(north))
    assert unlinked["userErrors"] == []
    assert unlinked["student"]["guardians"] == []
    assert unlinked["guardian"]["wards"] == [{"id": encode_id("Student", north.student.id)}]
    after = await guardian.execute(STUDENT_RECORD, ward)
    assert after["data"] == {"student": None}
    assert codes(after) == ["FORBIDDEN"]
    assert codes(await guardian.execute(GRADES, ward)) == ["FORBIDDEN"]
    assert (await guardian.data(GRADES, {"id": encode_id("Student", north.student.id)}))["student"]
    async with session_factory() as session:
        actions = list(
            await session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.subject_id == north.other_student.id, AuditEntry.action.like("guardian.%"))
                .order_by(AuditEntry.id)
            )
        )
    assert actions == ["guardian.linked", "guardian.unlinked"]


async def test_links_are_refused_as_the_contract_says(gql: GraphQLClient, factory: Factory) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    not_a_guardian = await link(staff, pair(north, guardian=north.teacher))
    assert errors_of(not_a_guardian) == [("INVALID", ["input", "guardianId"])]
    foreign_guardian = await link(staff, pair(north, guardian=south.guardian))
    assert errors_of(foreign_guardian) == [("NOT_FOUND", ["input", "guardianId"])]
    foreign_student = await link(staff, pair(north, student=south.student))
    assert errors_of(foreign_student) == [("NOT_FOUND", ["input", "studentId"])]
    not_a_student = await link(staff, pair(north, student=north.teacher))
    assert errors_of(not_a_student) == [("NOT_FOUND", ["input", "studentId"])]
    already = await link(staff, pair(north, student=north.student))
    assert errors_of(already) == [("CONFLICT", ["input", "guardianId"])]
    assert already["student"] is None
    too_long = await link(staff, pair(north) | {"relationship": "x" * 41})
    assert errors_of(too_long) == [("INVALID", ["input", "relationship"])]
    for who in (north.teacher, north.guardian, north.student):
        assert codes(await gql.as_user(factory.token(who)).execute(LINK, {"input": pair(north)})) == [
            "FORBIDDEN"
        ]
        assert codes(await gql.as_user(factory.token(who)).execute(UNLINK, {"input": pair(north)})) == [
            "FORBIDDEN"
        ]
    not_linked = await unlink(staff, pair(north))
    assert errors_of(not_linked) == [("NOT_FOUND", ["input", "guardianId"])]
    foreign = await unlink(gql.as_user(factory.token(south.admin)), pair(north, student=north.student))
    assert errors_of(foreign) == [
        ("NOT_FOUND", ["input", "guardianId"]),
        ("NOT_FOUND", ["input", "studentId"]),
    ]
    # The guardian of the north student is untouched by all of that.
    guardian = gql.as_user(factory.token(north.guardian))
    assert (await guardian.data(GRADES, {"id": encode_id("Student", north.student.id)}))["student"]


async def test_concurrent_links_of_one_pair_make_one_link(gql: GraphQLClient, factory: Factory) -> None:
    north = await factory.school("north")
    staff = gql.as_user(factory.token(north.staff))
    results = await asyncio.gather(*(link(staff, pair(north)) for _ in range(4)))
    assert sorted(len(r["userErrors"]) for r in results) == [0, 1, 1, 1]
    assert {e["code"] for r in results for e in r["userErrors"]} == {"CONFLICT"}
    record = (await staff.data(STUDENT_RECORD, {"id": encode_id("Student", north.other_student.id)}))[
        "student"
    ]
    assert len(record["guardians"]) == 1
