"""The caller's sessions: logout and revokeSession end access tokens at once; mySessions lists
the active ones, the most recently used first, in a bounded number of statements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import AuditEntry, RefreshToken
from resolvers.ids import encode_id, encode_key
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import PASSWORD, Factory
from tests.statements import metered_client, statements

LOGIN = contract_operation("Login")
LOGOUT = contract_operation("Logout")
REFRESH = contract_operation("RefreshToken")
ME = contract_operation("Me")
MY_SESSIONS = contract_operation("MySessions")
REVOKE = contract_operation("RevokeSession")
INVITE = contract_operation("InviteUser")
ACCEPT = contract_operation("AcceptInvitation")


async def login(gql: GraphQLClient, email: str, user_agent: str = "pytest") -> dict[str, Any]:
    response = await gql.http.post(
        "/graphql",
        json={"query": LOGIN, "variables": {"input": {"email": email, "password": PASSWORD}}},
        headers={"User-Agent": user_agent},
    )
    payload: dict[str, Any] = response.json()["data"]["login"]
    assert payload["userErrors"] == []
    return payload


def codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors", [])]


async def sessions_of(gql: GraphQLClient, token: str, **variables: Any) -> dict[str, Any]:
    listed: dict[str, Any] = (await gql.as_user(token).data(MY_SESSIONS, variables))["mySessions"]
    return listed


async def revoke(gql: GraphQLClient, token: str, session_id: str) -> dict[str, Any]:
    variables = {"input": {"sessionId": session_id}}
    payload: dict[str, Any] = (await gql.as_user(token).data(REVOKE, variables))["revokeSession"]
    return payload


async def test_logout_refuses_the_sessions_access_token_at_once(gql: GraphQLClient, factory: Factory) -> None:
    await factory.school("north")
    session = await login(gql, "student@north.test")
    other_device = await login(gql, "student@north.test")
    signed_in = gql.as_user(session["accessToken"])
    assert (await signed_in.data(ME))["me"]["email"] == "student@north.test"
    logout = await gql.data(LOGOUT, {"input": {"refreshToken": session["refreshToken"]}})
    assert logout["logout"] == {"ok": True, "userErrors": []}
    refused = await signed_in.execute(ME)
    assert refused["data"] == {"me": None}
    assert codes(refused) == ["UNAUTHENTICATED"]
    assert codes(await signed_in.execute(MY_SESSIONS)) == ["UNAUTHENTICATED"]
    # The other device's session, and a session of someone else, go on.
    assert (await gql.as_user(other_device["accessToken"]).data(ME))["me"]["email"] == "student@north.test"
    teacher = await login(gql, "teacher@north.test")
    assert (await gql.as_user(teacher["accessToken"]).data(ME))["me"]["email"] == "teacher@north.test"


async def test_my_sessions_lists_the_active_ones_most_recently_used_first(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await factory.school("north")
    laptop = await login(gql, "student@north.test", "Laptop browser")
    phone = await login(gql, "student@north.test", "Phone app")
    ended = await login(gql, "student@north.test", "Old tablet")
    await gql.data(LOGOUT, {"input": {"refreshToken": ended["refreshToken"]}})
    await login(gql, "teacher@north.test", "Someone else's")
    expired = await login(gql, "student@north.test", "Expired")
    async with session_factory.begin() as db:
        newest = await db.scalar(select(RefreshToken).order_by(RefreshToken.id.desc()).limit(1))
        assert newest is not None
        newest.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert (await gql.as_user(expired["accessToken"]).data(ME))["me"] is not None

    listed = await sessions_of(gql, laptop["accessToken"])
    assert listed["totalCount"] == 2
    assert listed["pageInfo"]["hasNextPage"] is False
    nodes = listed["nodes"]
    assert [(n["userAgent"], n["current"]) for n in nodes] == [("Phone app", False), ("Laptop browser", True)]
    for node in nodes:
        assert node["signInMethod"] == "PASSWORD"
        assert node["ssoProvider"] is None
        assert node["ip"]
        assert node["createdAt"] == node["lastUsedAt"]
        expires_at = datetime.fromisoformat(node["expiresAt"])
        assert timedelta(days=29) < expires_at - datetime.now(UTC) <= timedelta(days=30)
    # The phone's view marks the phone.
    phones = await sessions_of(gql, phone["accessToken"])
    assert [n["current"] for n in phones["nodes"]] == [True, False]

    # A refresh of the laptop makes it the most recently used; its start stays.
    refreshed = await gql.http.post(
        "/graphql",
        json={"query": REFRESH, "variables": {"input": {"refreshToken": laptop["refreshToken"]}}},
        headers={"User-Agent": "Laptop browser"},
    )
    assert refreshed.json()["data"]["refreshToken"]["userErrors"] == []
    after_refresh = (await sessions_of(gql, laptop["accessToken"]))["nodes"]
    assert [n["userAgent"] for n in after_refresh] == ["Laptop browser", "Phone app"]
    assert after_refresh[0]["id"] == nodes[1]["id"], "the session keeps its id across refreshes"
    assert after_refresh[0]["createdAt"] == nodes[1]["createdAt"]
    assert after_refresh[0]["lastUsedAt"] > after_refresh[0]["createdAt"]
    assert after_refresh[0]["current"] is True


async def test_my_sessions_pages(gql: GraphQLClient, factory: Factory) -> None:
    await factory.school("north")
    devices = [await login(gql, "student@north.test", f"device {n}") for n in range(3)]
    token = devices[0]["accessToken"]
    first = await sessions_of(gql, token, first=2)
    assert first["totalCount"] == 3
    assert first["pageInfo"]["hasNextPage"] is True
    assert [n["userAgent"] for n in first["nodes"]] == ["device 2", "device 1"]
    rest = await sessions_of(gql, token, first=2, after=first["pageInfo"]["endCursor"])
    assert rest["totalCount"] == 3
    assert rest["pageInfo"]["hasNextPage"] is False
    assert [(n["userAgent"], n["current"]) for n in rest["nodes"]] == [("device 0", True)]
    too_many = await gql.as_user(token).execute(MY_SESSIONS, {"first": 1000})
    assert codes(too_many) == ["BAD_USER_INPUT"]
    garbage = await gql.as_user(token).execute(MY_SESSIONS, {"after": "not a cursor"})
    assert codes(garbage) == ["BAD_USER_INPUT"]


async def test_my_sessions_costs_the_same_statements_however_many(
    factory: Factory, settings: Settings, gql: GraphQLClient
) -> None:
    await factory.school("north")
    token = (await login(gql, "student@north.test"))["accessToken"]
    async with metered_client(settings) as http:
        few = await statements(http, token, MY_SESSIONS)
        for n in range(6):
            await login(gql, "student@north.test", f"device {n}")
        many = await statements(http, token, MY_SESSIONS)
    assert few == many <= 3


async def test_my_sessions_needs_a_sign_in(gql: GraphQLClient) -> None:
    assert codes(await gql.execute(MY_SESSIONS)) == ["UNAUTHENTICATED"]
    revoked = await gql.execute(REVOKE, {"input": {"sessionId": encode_key("UserSession", "ab")}})
    assert codes(revoked) == ["UNAUTHENTICATED"]


async def test_revoking_the_other_session_ends_it_at_once(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    laptop = await login(gql, "student@north.test", "Laptop")
    phone = await login(gql, "student@north.test", "Phone")
    listed = (await sessions_of(gql, laptop["accessToken"]))["nodes"]
    phone_id = next(n["id"] for n in listed if not n["current"])
    payload = await revoke(gql, laptop["accessToken"], phone_id)
    assert payload == {"session": {"id": phone_id}, "userErrors": []}
    # The phone's access token is refused, and its refresh token.
    refused = await gql.as_user(phone["accessToken"]).execute(ME)
    assert (refused["data"], codes(refused)) == ({"me": None}, ["UNAUTHENTICATED"])
    renewed = await gql.data(REFRESH, {"input": {"refreshToken": phone["refreshToken"]}})
    assert renewed["refreshToken"]["accessToken"] is None
    assert renewed["refreshToken"]["userErrors"][0]["code"] == "INVALID_TOKEN"
    # The laptop goes on; the phone is no longer listed; ending it again is NOT_FOUND.
    remaining = await sessions_of(gql, laptop["accessToken"])
    assert [n["userAgent"] for n in remaining["nodes"]] == ["Laptop"]
    again = await revoke(gql, laptop["accessToken"], phone_id)
    assert again["session"] is None
    assert [(e["code"], e["field"]) for e in again["userErrors"]] == [("NOT_FOUND", ["input", "sessionId"])]
    async with session_factory() as db:
        entries = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "session.revoked"))).all()
    assert [(e.actor_id, e.subject_id, e.school_id) for e in entries] == [
        (north.student.id, north.student.id, north.school.id)
    ]


async def test_another_users_session_is_not_found_and_goes_on(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await factory.school("north")
    await factory.school("south")
    student = await login(gql, "student@north.test")
    teacher = await login(gql, "teacher@north.test")
    foreign = await login(gql, "student@south.test")
    teachers_id = (await sessions_of(gql, teacher["accessToken"]))["nodes"][0]["id"]
    foreign_id = (await sessions_of(gql, foreign["accessToken"]))["nodes"][0]["id"]
    for session_id in (
        teachers_id,
        foreign_id,
        encode_key("UserSession", "0" * 32),
        encode_id("User", 1),
        "garbage!",
    ):
        payload = await revoke(gql, student["accessToken"], session_id)
        assert payload["session"] is None
        assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"], session_id
    for other in (teacher, foreign):
        assert (await gql.as_user(other["accessToken"]).data(ME))["me"] is not None
        assert len((await sessions_of(gql, other["accessToken"]))["nodes"]) == 1
    async with session_factory() as db:
        assert await db.scalar(select(RefreshToken).where(RefreshToken.revoked_at.is_not(None))) is None
        assert await db.scalar(select(AuditEntry).where(AuditEntry.action == "session.revoked")) is None


async def test_an_expired_session_is_not_found(
    gql: GraphQLClient, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await factory.school("north")
    laptop = await login(gql, "student@north.test")
    await login(gql, "student@north.test")
    old_id = (await sessions_of(gql, laptop["accessToken"]))["nodes"][0]["id"]
    async with session_factory.begin() as db:
        newest = await db.scalar(select(RefreshToken).order_by(RefreshToken.id.desc()).limit(1))
        assert newest is not None
        await db.execute(
            update(RefreshToken)
            .where(RefreshToken.family_id == newest.family_id)
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    payload = await revoke(gql, laptop["accessToken"], old_id)
    assert [e["code"] for e in payload["userErrors"]] == ["NOT_FOUND"]


async def test_revoking_the_current_session_signs_the_caller_out(
    gql: GraphQLClient, factory: Factory
) -> None:
    await factory.school("north")
    laptop = await login(gql, "student@north.test")
    own_id = (await sessions_of(gql, laptop["accessToken"]))["nodes"][0]["id"]
    assert (await revoke(gql, laptop["accessToken"], own_id))["userErrors"] == []
    assert codes(await gql.as_user(laptop["accessToken"]).execute(ME)) == ["UNAUTHENTICATED"]


async def test_a_session_begun_by_accepting_an_invitation_says_so(
    gql: GraphQLClient, factory: Factory
) -> None:
    north = await factory.school("north")
    staff = gql.as_user(factory.token(north.staff))
    invited = await staff.data(
        INVITE, {"input": {"email": "new.teacher@north.test", "name": "New Teacher", "role": "TEACHER"}}
    )
    code = invited["inviteUser"]["invitation"]["code"]
    accepted = await gql.data(ACCEPT, {"input": {"code": code, "password": "a brand new password"}})
    token = accepted["acceptInvitation"]["accessToken"]
    listed = await sessions_of(gql, token)
    assert [(n["signInMethod"], n["current"]) for n in listed["nodes"]] == [("INVITATION", True)]
    renewed = await gql.data(
        REFRESH, {"input": {"refreshToken": accepted["acceptInvitation"]["refreshToken"]}}
    )
    after = await sessions_of(gql, renewed["refreshToken"]["accessToken"])
    assert [n["signInMethod"] for n in after["nodes"]] == ["INVITATION"], "a refresh keeps how it began"
