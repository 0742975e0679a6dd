"""Deactivating and reactivating accounts through the contract's operations: who may, what ends
at once (refresh tokens, access tokens), and what comes back."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, RefreshToken
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import PASSWORD, Factory

DEACTIVATE = contract_operation("DeactivateUser")
REACTIVATE = contract_operation("ReactivateUser")
LOGIN = contract_operation("Login")
REFRESH = contract_operation("RefreshToken")
USERS = contract_operation("Users")
CREATE = contract_operation("CreateStudent")
INVITE = contract_operation("InviteUser")
ME = "query { me { id status } }"


def codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors", [])]


async def deactivate(client: GraphQLClient, user_id: str, reason: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = (
        await client.data(DEACTIVATE, {"input": {"userId": user_id, "reason": reason}})
    )["deactivateUser"]
    return payload


async def reactivate(client: GraphQLClient, user_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(REACTIVATE, {"input": {"userId": user_id}}))[
        "reactivateUser"
    ]
    return payload


async def login(gql: GraphQLClient, email: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await gql.data(LOGIN, {"input": {"email": email, "password": PASSWORD}}))[
        "login"
    ]
    return payload


def errors_of(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def test_deactivation_ends_the_account_at_once(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    session = await login(gql, "student@north.test")
    signed_in = gql.as_user(session["accessToken"])
    assert (await signed_in.data(ME))["me"]["status"] == "ACTIVE"
    staff = gql.as_user(factory.token(north.staff))
    student_id = encode_id("User", north.student.id)
    done = await deactivate(staff, student_id, "left the school")
    assert done["userErrors"] == []
    assert done["user"]["status"] == "DEACTIVATED"
    assert done["user"]["deactivatedAt"] is not None
    assert codes(await signed_in.execute(ME)) == ["UNAUTHENTICATED"], "the access token stops at once"
    refreshed = (await gql.data(REFRESH, {"input": {"refreshToken": session["refreshToken"]}}))[
        "refreshToken"
    ]
    assert refreshed["accessToken"] is None
    assert (await login(gql, "student@north.test"))["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    async with session_factory() as db:
        tokens = list(await db.scalars(select(RefreshToken).where(RefreshToken.user_id == north.student.id)))
        audit = await db.scalar(select(AuditEntry).where(AuditEntry.action == "user.deactivated"))
    assert tokens
    assert all(token.revoked_at is not None for token in tokens)
    assert audit is not None
    assert (audit.actor_id, audit.subject_id, audit.detail) == (
        north.staff.id,
        north.student.id,
        {"reason": "left the school"},
    )
    again = await deactivate(staff, student_id)
    assert errors_of(again) == [("FORBIDDEN_STATE", ["input", "userId"])]


async def test_who_may_deactivate_whom(gql: GraphQLClient, factory: Factory) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    staff, admin = gql.as_user(factory.token(north.staff)), gql.as_user(factory.token(north.admin))
    invited = {"email": "second.staff@north.test", "name": "Second Staff", "role": "STAFF"}
    colleague = (await admin.data(INVITE, {"input": invited}))["inviteUser"]["invitation"]["user"]["id"]
    for target in (encode_id("User", north.admin.id), colleague):
        refused = await staff.execute(DEACTIVATE, {"input": {"userId": target}})
        assert codes(refused) == ["FORBIDDEN"]
    assert errors_of(await deactivate(staff, encode_id("User", north.staff.id))) == [
        ("INVALID", ["input", "userId"])
    ]
    assert errors_of(await deactivate(admin, encode_id("User", north.admin.id))) == [
        ("INVALID", ["input", "userId"])
    ]
    foreign = await deactivate(admin, encode_id("User", south.teacher.id))
    assert errors_of(foreign) == [("NOT_FOUND", ["input", "userId"])]
    assert errors_of(await deactivate(admin, "not an id")) == [("NOT_FOUND", ["input", "userId"])]
    for who in (north.teacher, north.student, north.guardian):
        result = await gql.as_user(factory.token(who)).execute(
            DEACTIVATE, {"input": {"userId": encode_id("User", north.other_student.id)}}
        )
        assert codes(result) == ["FORBIDDEN"]
    # A student's or a teacher's id names their account too.
    assert (await deactivate(staff, encode_id("Student", north.other_student.id)))["userErrors"] == []
    assert (await deactivate(admin, encode_id("User", north.staff.id)))["userErrors"] == []
    assert (await deactivate(admin, encode_id("Teacher", north.teacher.id)))["user"][
        "status"
    ] == "DEACTIVATED"
    # The concurrent second deactivation of one account is refused, not done twice.
    both = await asyncio.gather(*(deactivate(admin, encode_id("User", north.mentor.id)) for _ in range(2)))
    assert sorted(len(p["userErrors"]) for p in both) == [0, 1]


async def test_reactivation_lets_the_account_back_in(gql: GraphQLClient, factory: Factory) -> None:
    north = await factory.school("north")
    staff = gql.as_user(factory.token(north.staff))
    teacher_id = encode_id("User", north.teacher.id)
    assert errors_of(await reactivate(staff, teacher_id)) == [("FORBIDDEN_STATE", ["input", "userId"])]
    await deactivate(staff, teacher_id)
    back = await reactivate(staff, teacher_id)
    assert back["userErrors"] == []
    assert back["user"] == {"id": teacher_id, "status": "ACTIVE", "deactivatedAt": None}
    assert (await login(gql, "teacher@north.test"))["userErrors"] == []
    # An account that never accepted its invitation goes back to INVITED.
    made = (
        await staff.data(
            CREATE,
            {
                "input": {
                    "name": "Never In",
                    "email": "never@north.test",
                    "studentNumber": "X-1",
                    "gradeLevel": 9,
                    "cohortYear": 2030,
                }
            },
        )
    )["createStudent"]["student"]
    await deactivate(staff, made["id"])
    assert (await reactivate(staff, made["id"]))["user"]["status"] == "INVITED"
    admin_id = encode_id("User", north.admin.id)
    await deactivate(gql.as_user(factory.token(north.admin)), encode_id("User", north.staff.id))
    other_admin = await factory.school("elsewhere")
    assert errors_of(await reactivate(gql.as_user(factory.token(other_admin.admin)), admin_id)) == [
        ("NOT_FOUND", ["input", "userId"])
    ]


async def test_account_dates_are_for_the_person_and_the_schools_admins(
    gql: GraphQLClient, factory: Factory
) -> None:
    north = await factory.school("north")
    await login(gql, "teacher@north.test")
    rows = (await gql.as_user(factory.token(north.admin)).data(USERS, {"filter": {"role": ["TEACHER"]}}))[
        "users"
    ]
    signed_in = {row["email"]: row["lastSignInAt"] for row in rows["nodes"]}
    assert signed_in["teacher@north.test"] is not None
    assert signed_in["other_teacher@north.test"] is None
    query = """query($id: ID!) { node(id: $id) { ... on User { lastSignInAt } } }"""
    variables = {"id": encode_id("User", north.teacher.id)}
    assert (await gql.as_user(factory.token(north.teacher)).data(query, variables))["node"]["lastSignInAt"]
    assert (await gql.as_user(factory.token(north.other_teacher)).data(query, variables))["node"] == {
        "lastSignInAt": None
    }
