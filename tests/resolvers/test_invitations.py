"""Invitations through the contract's operations: made by the school's staff, previewed and
accepted without signing in, once, for seven days; revoked, replaced, expired and guessed codes
refused."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import GuardianLink, Invitation, TeacherProfile, User
from models.base import utcnow
from models.enums import UserStatus
from resolvers.ids import decode_id, encode_id
from resolvers.invitations import FAILED_CODES_PER_IP
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory

INVITE = contract_operation("InviteUser")
REVOKE = contract_operation("RevokeInvitation")
PREVIEW = contract_operation("InvitationPreview")
ACCEPT = contract_operation("AcceptInvitation")
CREATE = contract_operation("CreateStudent")
DEACTIVATE = contract_operation("DeactivateUser")
ME = "query { me { id name status role } }"
NEW_PASSWORD = "a brand new password"


def codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors", [])]


def errors_of(payload: dict[str, Any]) -> list[tuple[str, list[str] | None]]:
    return [(e["code"], e["field"]) for e in payload["userErrors"]]


async def invite(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(INVITE, {"input": fields}))["inviteUser"]
    return payload


async def preview(gql: GraphQLClient, code: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = (await gql.as_user(None).data(PREVIEW, {"code": code}))[
        "invitationPreview"
    ]
    return found


async def accept(gql: GraphQLClient, code: str, password: str = NEW_PASSWORD, **more: Any) -> dict[str, Any]:
    variables = {"input": {"code": code, "password": password, **more}}
    payload: dict[str, Any] = (await gql.as_user(None).data(ACCEPT, variables))["acceptInvitation"]
    return payload


async def test_an_invited_teacher_accepts_and_is_signed_in(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    staff = gql.as_user(factory.token(north.staff))
    made = await invite(staff, email=" New.Teacher@North.test", name="New Teacher", role="TEACHER")
    assert made["userErrors"] == []
    invitation = made["invitation"]
    code = invitation["code"]
    assert invitation | {"id": None, "createdAt": None, "expiresAt": None, "code": None, "user": None} == {
        "id": None,
        "email": "new.teacher@north.test",
        "role": "TEACHER",
        "status": "PENDING",
        "createdAt": None,
        "expiresAt": None,
        "code": None,
        "url": f"/invite/{code}",
        "user": None,
    }
    assert invitation["user"]["status"] == "INVITED"
    async with session_factory() as session:
        stored = await session.scalar(select(Invitation))
        user = await session.scalar(select(User).where(User.email == "new.teacher@north.test"))
        assert user is not None
        profile = await session.get(TeacherProfile, user.id)
    assert stored is not None
    assert stored.code_hash == hashlib.sha256(code.encode()).hexdigest() != code
    assert stored.expires_at - stored.created_at == timedelta(days=7)
    assert (user.password_hash, user.status) == (None, UserStatus.INVITED)
    assert profile is not None
    assert profile.school_id == north.school.id
    shown = await preview(gql, code)
    assert shown == {
        "email": "new.teacher@north.test",
        "name": "New Teacher",
        "role": "TEACHER",
        "expiresAt": invitation["expiresAt"],
        "school": {"id": encode_id("School", north.school.id), "name": north.school.name},
    }
    session = await accept(gql, code, name=" Ms. New ")
    assert session["userErrors"] == []
    assert session["user"] | {"id": None} == {
        "id": None,
        "name": "Ms. New",
        "email": "new.teacher@north.test",
        "role": "TEACHER",
        "status": "ACTIVE",
        "school": {"id": encode_id("School", north.school.id), "name": north.school.name},
    }
    me = (await gql.as_user(session["accessToken"]).data(ME))["me"]
    assert (me["name"], me["status"]) == ("Ms. New", "ACTIVE")
    login = """mutation($i: LoginInput!) { login(input: $i) { userErrors { code } } }"""
    signed = await gql.data(login, {"i": {"email": "new.teacher@north.test", "password": NEW_PASSWORD}})
    assert signed["login"]["userErrors"] == []
    assert errors_of(await accept(gql, code)) == [("INVALID_INVITATION", ["input", "code"])]
    assert await preview(gql, code) is None
    revoked = (await staff.data(REVOKE, {"input": {"invitationId": invitation["id"]}}))["revokeInvitation"]
    assert errors_of(revoked) == [("FORBIDDEN_STATE", ["input", "invitationId"])]


async def test_who_may_invite_whom(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    staff, admin = gql.as_user(factory.token(north.staff)), gql.as_user(factory.token(north.admin))
    for role in ("STAFF", "ADMIN"):
        refused = await staff.execute(
            INVITE, {"input": {"email": f"new-{role.lower()}@north.test", "name": "X", "role": role}}
        )
        assert codes(refused) == ["FORBIDDEN"]
        made = await invite(admin, email=f"new-{role.lower()}@north.test", name="X", role=role)
        assert made["userErrors"] == []
    for who in (north.teacher, north.guardian, north.student):
        result = await gql.as_user(factory.token(who)).execute(
            INVITE, {"input": {"email": "m@north.test", "name": "M", "role": "MENTOR"}}
        )
        assert codes(result) == ["FORBIDDEN"]
    assert codes(
        await gql.execute(INVITE, {"input": {"email": "m@north.test", "name": "M", "role": "MENTOR"}})
    ) == ["UNAUTHENTICATED"]
    in_use = await invite(staff, email="TEACHER@south.test", name="Taken", role="MENTOR")
    assert errors_of(in_use) == [("CONFLICT", ["input", "email"])]
    assert in_use["invitation"] is None
    student = await invite(staff, email="kid@north.test", name="Kid", role="STUDENT")
    assert errors_of(student) == [("INVALID", ["input", "role"])]
    incomplete = await invite(staff, name="")
    assert sorted(e["field"][-1] for e in incomplete["userErrors"]) == ["email", "name", "role"]
    wards = [encode_id("Student", north.other_student.id), encode_id("Student", south.student.id)]
    foreign_ward = await invite(
        staff, email="parent@north.test", name="Parent", role="GUARDIAN", wardIds=wards
    )
    assert errors_of(foreign_ward) == [("NOT_FOUND", ["input", "wardIds", "1"])]
    parent = await invite(staff, email="parent@north.test", name="Parent", role="GUARDIAN", wardIds=wards[:1])
    assert parent["userErrors"] == []
    async with session_factory() as session:
        guardian = await session.scalar(select(User).where(User.email == "parent@north.test"))
        assert guardian is not None
        links = list(
            await session.scalars(
                select(GuardianLink.student_id).where(GuardianLink.guardian_id == guardian.id)
            )
        )
    assert links == [north.other_student.id]
    session = await accept(gql, parent["invitation"]["code"])
    ward = (await gql.as_user(session["accessToken"]).data("query { me { wards { id } } }"))["me"]["wards"]
    assert ward == [{"id": wards[0]}]


async def test_inviting_again_replaces_the_code_of_an_account_that_never_signed_in(
    gql: GraphQLClient, factory: Factory
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    student = {
        "name": "Ana Rivera",
        "email": "ana@north.test",
        "studentNumber": "R-1",
        "gradeLevel": 9,
        "cohortYear": 2030,
    }
    made = (await staff.data(CREATE, {"input": student}))["createStudent"]
    assert made["invitation"] is None
    first = (await invite(staff, userId=made["student"]["id"]))["invitation"]
    second = (await invite(staff, userId=made["student"]["id"]))["invitation"]
    assert first["user"]["id"] == second["user"]["id"] == encode_id("User", _pk(made["student"]["id"]))
    assert (first["email"], first["role"]) == ("ana@north.test", "STUDENT")
    assert await preview(gql, first["code"]) is None
    assert errors_of(await accept(gql, first["code"])) == [("INVALID_INVITATION", ["input", "code"])]
    assert (await accept(gql, second["code"]))["user"]["status"] == "ACTIVE"
    signed_in = await invite(staff, userId=made["student"]["id"])
    assert errors_of(signed_in) == [("FORBIDDEN_STATE", ["input", "userId"])]
    has_password = await invite(staff, userId=encode_id("User", north.teacher.id))
    assert errors_of(has_password) == [("FORBIDDEN_STATE", ["input", "userId"])]
    assert errors_of(await invite(staff, userId=encode_id("User", south.teacher.id))) == [
        ("NOT_FOUND", ["input", "userId"])
    ]
    mixed = await invite(staff, userId=made["student"]["id"], email="other@north.test")
    assert errors_of(mixed) == [("INVALID", ["input", "userId"])]
    admin_invited = await invite(
        gql.as_user(factory.token(north.admin)), email="a2@north.test", name="A2", role="ADMIN"
    )
    reinvite_admin = await staff.execute(
        INVITE, {"input": {"userId": admin_invited["invitation"]["user"]["id"]}}
    )
    assert codes(reinvite_admin) == ["FORBIDDEN"]


def _pk(global_id: str) -> int:
    return decode_id(global_id)[1]


async def test_revoked_expired_and_deactivated_codes_do_not_work(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    revoked = (await invite(staff, email="r@north.test", name="R", role="MENTOR"))["invitation"]
    foreign = await gql.as_user(factory.token(south.staff)).data(
        REVOKE, {"input": {"invitationId": revoked["id"]}}
    )
    assert errors_of(foreign["revokeInvitation"]) == [("NOT_FOUND", ["input", "invitationId"])]
    assert codes(
        await gql.as_user(factory.token(north.teacher)).execute(
            REVOKE, {"input": {"invitationId": revoked["id"]}}
        )
    ) == ["FORBIDDEN"]
    done = (await staff.data(REVOKE, {"input": {"invitationId": revoked["id"]}}))["revokeInvitation"]
    assert done == {"invitation": {"id": revoked["id"], "status": "REVOKED"}, "userErrors": []}
    assert await preview(gql, revoked["code"]) is None
    assert errors_of(await accept(gql, revoked["code"])) == [("INVALID_INVITATION", ["input", "code"])]
    expired = (await invite(staff, email="e@north.test", name="E", role="MENTOR"))["invitation"]
    async with session_factory.begin() as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.user_id == _pk(expired["user"]["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert await preview(gql, expired["code"]) is None
    assert errors_of(await accept(gql, expired["code"])) == [("INVALID_INVITATION", ["input", "code"])]
    gone = (await invite(staff, email="d@north.test", name="D", role="MENTOR"))["invitation"]
    await staff.data(DEACTIVATE, {"input": {"userId": gone["user"]["id"]}})
    assert await preview(gql, gone["code"]) is None
    assert errors_of(await accept(gql, gone["code"])) == [("INVALID_INVITATION", ["input", "code"])]
    assert await preview(gql, "no such code") is None


async def test_the_password_rules_of_register_hold_and_a_refusal_keeps_the_code(
    gql: GraphQLClient, factory: Factory
) -> None:
    north = await factory.school("north")
    code = (
        await invite(gql.as_user(factory.token(north.staff)), email="p@north.test", name="P", role="MENTOR")
    )["invitation"]["code"]
    assert errors_of(await accept(gql, code, "9 letters")) == [("INVALID", ["input", "password"])]
    assert errors_of(await accept(gql, code, "x" * 257)) == [("INVALID", ["input", "password"])]
    assert errors_of(await accept(gql, code, name="")) == [("INVALID", ["input", "name"])]
    assert (await accept(gql, code, "x" * 256))["userErrors"] == []


async def test_concurrent_accepts_of_one_code_sign_in_once(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    code = (
        await invite(gql.as_user(factory.token(north.staff)), email="c@north.test", name="C", role="MENTOR")
    )["invitation"]["code"]
    results = await asyncio.gather(*(accept(gql, code, f"password number {n}") for n in range(5)))
    winners = [r for r in results if not r["userErrors"]]
    assert len(winners) == 1
    assert all(
        errors_of(r) == [("INVALID_INVITATION", ["input", "code"])] for r in results if r not in winners
    )
    me = (await gql.as_user(winners[0]["accessToken"]).data(ME))["me"]
    assert me["status"] == "ACTIVE"


async def test_guessing_codes_is_rate_limited_per_address(gql: GraphQLClient, factory: Factory) -> None:
    north = await factory.school("north")
    code = (
        await invite(gql.as_user(factory.token(north.staff)), email="g@north.test", name="G", role="MENTOR")
    )["invitation"]["code"]
    allowed = int(FAILED_CODES_PER_IP.split("/")[0])
    for n in range(allowed - 1):
        assert await preview(gql, f"guess {n}") is None
    assert errors_of(await accept(gql, "one more guess")) == [("INVALID_INVITATION", ["input", "code"])]
    limited = await gql.execute(PREVIEW, {"code": code})
    assert codes(limited) == ["RATE_LIMITED"]
    assert errors_of(await accept(gql, code)) == [("RATE_LIMITED", ["input", "code"])]
