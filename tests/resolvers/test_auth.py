"""Accounts and sessions through the real schema: login, register, refresh, logout, passwords."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import resolvers.auth
from models import AuditEntry, RefreshToken, StudentProfile, StudentRisk, User
from models.enums import UserStatus
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import PASSWORD, Factory

LOGIN = contract_operation("Login")
REGISTER = contract_operation("Register")
REFRESH = contract_operation("RefreshToken")
LOGOUT = contract_operation("Logout")
ME = contract_operation("Me")
CHANGE_PASSWORD = """
mutation ChangePassword($input: ChangePasswordInput!) {
  changePassword(input: $input) { ok userErrors { field message code } }
}"""


async def login(gql: GraphQLClient, email: str, password: str = PASSWORD) -> dict[str, Any]:
    data = await gql.data(LOGIN, {"input": {"email": email, "password": password}})
    payload: dict[str, Any] = data["login"]
    return payload


async def test_login_gives_tokens_that_sign_in(gql: GraphQLClient, factory: Factory) -> None:
    north = await factory.school("north")
    payload = await login(gql, "Teacher@North.test ")
    assert payload["userErrors"] == []
    assert payload["user"]["email"] == "teacher@north.test"
    assert payload["user"]["role"] == "TEACHER"
    assert payload["user"]["school"]["name"] == north.school.name
    expires_at = datetime.fromisoformat(payload["expiresAt"])
    assert timedelta(minutes=14) < expires_at - datetime.now(UTC) <= timedelta(minutes=15)
    claims = jwt.decode(payload["accessToken"], options={"verify_signature": False})
    assert claims["sub"] == str(north.teacher.id)
    assert claims["exp"] - claims["iat"] == 15 * 60
    me = (await gql.as_user(payload["accessToken"]).data(ME))["me"]
    assert me["id"] == payload["user"]["id"]
    assert me["tier"] == "FREE"
    assert me["joinedAt"].endswith("+00:00")


async def test_wrong_password_and_unknown_email_answer_alike(
    gql: GraphQLClient, factory: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    await factory.school("north")
    verified: list[str] = []
    real_verify = resolvers.auth.verify_password

    def spy(password_hash: str, password: str) -> bool:
        verified.append(password_hash)
        return real_verify(password_hash, password)

    monkeypatch.setattr(resolvers.auth, "verify_password", spy)
    wrong_password = await login(gql, "teacher@north.test", "not the password")
    unknown_email = await login(gql, "nobody@north.test", "not the password")
    assert wrong_password == unknown_email
    assert wrong_password["accessToken"] is None
    assert wrong_password["userErrors"] == [
        {"field": None, "message": "Wrong email or password.", "code": "INVALID_CREDENTIALS"}
    ]
    # The unknown email is checked against a real argon2 hash too, so it takes as long.
    assert len(verified) == 2
    assert all(h.startswith("$argon2id$") for h in verified)


async def test_failed_logins_are_limited_per_account(gql: GraphQLClient, factory: Factory) -> None:
    await factory.school("north")
    for _ in range(10):
        assert (await login(gql, "teacher@north.test", "guess"))["userErrors"][0][
            "code"
        ] == "INVALID_CREDENTIALS"
    limited = await login(gql, "teacher@north.test")
    assert limited["accessToken"] is None
    assert limited["userErrors"][0]["code"] == "RATE_LIMITED"
    other_account = await login(gql, "staff@north.test")
    assert other_account["userErrors"] == []


async def test_failed_logins_are_limited_per_ip(gql: GraphQLClient, factory: Factory) -> None:
    await factory.school("north")
    for n in range(30):
        await login(gql, f"nobody{n}@north.test", "guess")
    assert (await login(gql, "staff@north.test"))["userErrors"][0]["code"] == "RATE_LIMITED"


async def test_failed_logins_are_audited(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    await login(gql, "teacher@north.test", "guess")
    await login(gql, "teacher@north.test")
    async with session_factory() as session:
        entries = (await session.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [(e.action, e.actor_id, e.school_id) for e in entries] == [
        ("login.failed", north.teacher.id, north.school.id),
        ("login", north.teacher.id, north.school.id),
    ]
    assert entries[0].ip is not None


async def test_refresh_rotates_and_reuse_revokes_the_family(gql: GraphQLClient, factory: Factory) -> None:
    await factory.school("north")
    first = await login(gql, "student@north.test")
    second = (await gql.data(REFRESH, {"input": {"refreshToken": first["refreshToken"]}}))["refreshToken"]
    assert second["userErrors"] == []
    assert second["refreshToken"] != first["refreshToken"]
    assert (await gql.as_user(second["accessToken"]).data(ME))["me"]["email"] == "student@north.test"
    # The first token again: a replay. It fails, and so does the legitimate newest one.
    replay = (await gql.data(REFRESH, {"input": {"refreshToken": first["refreshToken"]}}))["refreshToken"]
    assert replay["accessToken"] is None
    assert replay["userErrors"][0]["code"] == "INVALID_TOKEN"
    after = (await gql.data(REFRESH, {"input": {"refreshToken": second["refreshToken"]}}))["refreshToken"]
    assert after["userErrors"][0]["code"] == "INVALID_TOKEN"


async def test_concurrent_refreshes_of_one_token_give_one_pair_at_most(
    gql: GraphQLClient, factory: Factory
) -> None:
    await factory.school("north")
    token = (await login(gql, "student@north.test"))["refreshToken"]
    results = await asyncio.gather(*(gql.data(REFRESH, {"input": {"refreshToken": token}}) for _ in range(5)))
    issued = [r["refreshToken"]["accessToken"] for r in results if r["refreshToken"]["accessToken"]]
    assert len(issued) <= 1


async def test_garbage_refresh_tokens_are_refused(gql: GraphQLClient) -> None:
    result = (await gql.data(REFRESH, {"input": {"refreshToken": "x" * 5000}}))["refreshToken"]
    assert result["userErrors"][0]["code"] == "INVALID_TOKEN"


async def test_logout_revokes_the_session(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await factory.school("north")
    session = await login(gql, "student@north.test")
    other_device = await login(gql, "student@north.test")
    assert (await gql.data(LOGOUT, {"input": {"refreshToken": session["refreshToken"]}}))["logout"] == {
        "ok": True,
        "userErrors": [],
    }
    refused = (await gql.data(REFRESH, {"input": {"refreshToken": session["refreshToken"]}}))["refreshToken"]
    assert refused["userErrors"][0]["code"] == "INVALID_TOKEN"
    again = (await gql.data(LOGOUT, {"input": {"refreshToken": session["refreshToken"]}}))["logout"]
    assert again["ok"] is False
    # Another device's session goes on.
    kept = (await gql.data(REFRESH, {"input": {"refreshToken": other_device["refreshToken"]}}))[
        "refreshToken"
    ]
    assert kept["userErrors"] == []
    async with session_factory() as db:
        stored = (await db.scalars(select(RefreshToken.token_hash))).all()
    assert session["refreshToken"] not in stored, "refresh tokens are stored hashed"


async def test_changing_the_password_ends_every_session(gql: GraphQLClient, factory: Factory) -> None:
    await factory.school("north")
    session = await login(gql, "student@north.test")
    signed_in = gql.as_user(session["accessToken"])
    wrong = await signed_in.data(
        CHANGE_PASSWORD, {"input": {"currentPassword": "nope", "newPassword": "x" * 12}}
    )
    assert wrong["changePassword"]["userErrors"][0]["code"] == "INVALID_CREDENTIALS"
    changed = await signed_in.data(
        CHANGE_PASSWORD, {"input": {"currentPassword": PASSWORD, "newPassword": "n" * 12}}
    )
    assert changed["changePassword"] == {"ok": True, "userErrors": []}
    old_token = await signed_in.execute(ME)
    assert old_token["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    refused = (await gql.data(REFRESH, {"input": {"refreshToken": session["refreshToken"]}}))["refreshToken"]
    assert refused["userErrors"][0]["code"] == "INVALID_TOKEN"
    assert (await login(gql, "student@north.test", PASSWORD))["userErrors"][0][
        "code"
    ] == "INVALID_CREDENTIALS"
    await asyncio.sleep(1.01)  # tokens carry whole seconds; the change's own second is refused
    fresh = await login(gql, "student@north.test", "n" * 12)
    assert (await gql.as_user(fresh["accessToken"]).data(ME))["me"]["email"] == "student@north.test"


async def test_register_with_an_invitation_code(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north", invitation_code="NORTH-JOIN")
    variables = {
        "input": {
            "email": "New@North.test",
            "password": "long enough pw",
            "name": " Ada ",
            "invitationCode": "NORTH-JOIN",
        }
    }
    payload = (await gql.data(REGISTER, variables))["register"]
    assert payload["userErrors"] == []
    assert payload["user"]["role"] == "STUDENT"
    assert payload["user"]["name"] == "Ada"
    me = (await gql.as_user(payload["accessToken"]).data(ME))["me"]
    assert me["email"] == "new@north.test"
    async with session_factory() as session:
        user = await session.scalar(select(User).where(User.email == "new@north.test"))
        assert user is not None
        assert user.school_id == north.school.id
        assert user.password_hash.startswith("$argon2id$")
        assert await session.get(StudentProfile, user.id) is not None
        assert (await session.get(StudentRisk, user.id)) is not None, "a new student has a risk snapshot"
    twice = (await gql.data(REGISTER, variables))["register"]
    assert twice["userErrors"][0]["code"] == "EMAIL_TAKEN"


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"invitationCode": "WRONG"}, ["input", "invitationCode"], "INVALID_INVITATION"),
        ({"email": "not-an-email"}, ["input", "email"], "INVALID"),
        ({"password": "short"}, ["input", "password"], "INVALID"),
        ({"name": "   "}, ["input", "name"], "INVALID"),
    ],
)
async def test_register_refuses_bad_input(
    gql: GraphQLClient, factory: Factory, change: dict[str, str], field: list[str], code: str
) -> None:
    await factory.school("north", invitation_code="NORTH-JOIN")
    variables = {
        "email": "x@north.test",
        "password": "long enough pw",
        "name": "X",
        "invitationCode": "NORTH-JOIN",
    }
    payload = (await gql.data(REGISTER, {"input": variables | change}))["register"]
    assert payload["accessToken"] is None
    assert payload["userErrors"][0]["field"] == field
    assert payload["userErrors"][0]["code"] == code


async def test_forged_expired_and_foreign_tokens_are_refused(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    good = factory.token(north.student)
    claims = jwt.decode(good, options={"verify_signature": False})
    forged = [
        jwt.encode(claims, "another secret that is long enough", algorithm="HS256"),
        jwt.encode(claims, None, algorithm="none"),  # type: ignore[arg-type]
        factory.token(north.student, minutes=-1),
        good[:-3] + "abc",
        "not a jwt",
    ]
    for token in forged:
        result = await gql.as_user(token).execute(ME)
        assert result["data"] == {"me": None}
        assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    async with session_factory.begin() as session:
        user = await session.get(User, north.student.id)
        assert user is not None
        user.status = UserStatus.DEACTIVATED
    deactivated = await gql.as_user(good).execute(ME)
    assert deactivated["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
