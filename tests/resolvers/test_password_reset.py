"""Account recovery end to end through a real SMTP sink: the link arrives, works once, ends every
session, and neither the answer nor the mail tells whether an address has an account."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import AuditEntry, Communication, PasswordReset, User
from models.base import utcnow
from models.enums import UserStatus
from tests.clients import GraphQLClient
from tests.conftest import http_client_for
from tests.contract.documents import contract_operation
from tests.factories import PASSWORD, Factory, SchoolData
from tests.smtp_sink import SmtpSink

REQUEST = contract_operation("RequestPasswordReset")
RESET = contract_operation("ResetPassword")
LOGIN = contract_operation("Login")
REFRESH = contract_operation("RefreshToken")
ME = contract_operation("Me")
FRONTEND = "https://app.campus.test"
NEW_PASSWORD = "a brand new passphrase"
LINK = re.compile(r"(\S+/reset-password\?token=(\S+))")
OK = {"ok": True, "userErrors": []}
INVALID_TOKEN = {
    "field": ["input", "token"],
    "message": "This reset link is not valid: it may have expired or been used. Ask for a new one.",
    "code": "INVALID_TOKEN",
}


@pytest.fixture
async def mail_gql(settings: Settings, sink: SmtpSink) -> AsyncIterator[GraphQLClient]:
    mail_settings = settings.model_copy(update={**sink.settings(), "frontend_url": FRONTEND})
    async with http_client_for(mail_settings) as http:
        yield GraphQLClient(http)


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def ask(gql: GraphQLClient, email: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await gql.data(REQUEST, {"input": {"email": email}}))["requestPasswordReset"]
    return payload


async def reset(gql: GraphQLClient, token: str, password: str = NEW_PASSWORD) -> dict[str, Any]:
    variables = {"input": {"token": token, "newPassword": password}}
    payload: dict[str, Any] = (await gql.data(RESET, variables))["resetPassword"]
    return payload


async def login(gql: GraphQLClient, email: str, password: str) -> dict[str, Any]:
    payload: dict[str, Any] = (await gql.data(LOGIN, {"input": {"email": email, "password": password}}))[
        "login"
    ]
    return payload


def links(sink: SmtpSink, address: str) -> list[str]:
    """The reset links mailed to `address`, oldest first."""
    found = []
    for message in sink.to(address):
        body = message.get_body(("plain",))
        assert body is not None
        match = LINK.search(body.get_content())
        assert match is not None, body.get_content()
        found.append(match.group(1))
    return found


def token_of(link: str) -> str:
    return httpx.URL(link).params["token"]


async def test_the_mailed_link_resets_the_password_once_and_ends_every_session(
    mail_gql: GraphQLClient,
    north: SchoolData,
    sink: SmtpSink,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    session = await login(mail_gql, "student@north.test", PASSWORD)
    assert (await mail_gql.as_user(session["accessToken"]).data(ME))["me"]["email"] == "student@north.test"

    assert await ask(mail_gql, "student@north.test") == OK
    [message] = sink.to("student@north.test")
    assert message["Subject"] == "Reset your CampusGraph password"
    [link] = links(sink, "student@north.test")
    assert link.startswith(f"{FRONTEND}/reset-password?token=")
    assert "30 minutes" in str(message.get_body(("plain",)))

    assert await reset(mail_gql, token_of(link)) == OK
    assert (await login(mail_gql, "student@north.test", PASSWORD))["userErrors"][0]["code"] == (
        "INVALID_CREDENTIALS"
    )
    refused = await mail_gql.as_user(session["accessToken"]).execute(ME)
    assert refused["data"] == {"me": None}
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    refreshed = (await mail_gql.data(REFRESH, {"input": {"refreshToken": session["refreshToken"]}}))[
        "refreshToken"
    ]
    assert refreshed["userErrors"][0]["code"] == "INVALID_TOKEN"

    again = await reset(mail_gql, token_of(link), "yet another passphrase")
    assert again == {"ok": False, "userErrors": [INVALID_TOKEN]}
    # Access tokens carry whole seconds: one from the second of the reset is refused too.
    await asyncio.sleep(1.05 - time.time() % 1)
    fresh = await login(mail_gql, "student@north.test", NEW_PASSWORD)
    assert fresh["userErrors"] == []
    assert (await mail_gql.as_user(fresh["accessToken"]).data(ME))["me"]["email"] == "student@north.test"

    async with session_factory() as db:
        actions = (await db.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
        copies = await db.scalar(select(func.count()).select_from(Communication))
    assert "password_reset.requested" in actions
    assert "password.reset" in actions
    assert copies == 0, "a reset mail is no communication of the school's"


async def test_unknown_and_inactive_addresses_get_the_same_answer_and_no_mail(
    mail_gql: GraphQLClient,
    north: SchoolData,
    sink: SmtpSink,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    async with session_factory.begin() as db:
        await db.execute(update(User).where(User.id == north.mentor.id).values(status=UserStatus.DEACTIVATED))
    known = await mail_gql.http.post(
        "/graphql", json={"query": REQUEST, "variables": {"input": {"email": "Teacher@North.TEST "}}}
    )
    unknown = await mail_gql.http.post(
        "/graphql", json={"query": REQUEST, "variables": {"input": {"email": "nobody@north.test"}}}
    )
    inactive = await mail_gql.http.post(
        "/graphql", json={"query": REQUEST, "variables": {"input": {"email": "mentor@north.test"}}}
    )
    assert known.content == unknown.content == inactive.content
    assert known.json()["data"]["requestPasswordReset"] == OK
    assert [message["To"] for message in sink.messages] == ["teacher@north.test"], (
        "matched without regard to case"
    )


async def test_the_answer_does_the_same_work_for_any_address(
    settings: Settings, sink: SmtpSink, north: SchoolData
) -> None:
    """No statement at all while answering: the lookup, the token and the mail come after it."""
    metered = settings.model_copy(update={**sink.settings(), "debug_metrics": True})
    async with http_client_for(metered) as http:
        for email in ("teacher@north.test", "nobody@north.test"):
            body = (
                await http.post("/graphql", json={"query": REQUEST, "variables": {"input": {"email": email}}})
            ).json()
            assert body["data"]["requestPasswordReset"] == OK
            assert body["extensions"]["metrics"]["sqlStatements"] == 0, email
    assert [message["To"] for message in sink.messages] == ["teacher@north.test"]


async def test_expired_and_tampered_tokens_are_invalid_alike(
    mail_gql: GraphQLClient,
    north: SchoolData,
    sink: SmtpSink,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await ask(mail_gql, "teacher@north.test")
    await ask(mail_gql, "staff@north.test")
    teacher_token = token_of(links(sink, "teacher@north.test")[0])
    staff_token = token_of(links(sink, "staff@north.test")[0])
    async with session_factory.begin() as db:
        staff_reset = await db.scalar(
            select(PasswordReset)
            .join(User, User.id == PasswordReset.user_id)
            .where(User.email == "staff@north.test")
        )
        assert staff_reset is not None
        assert staff_reset.expires_at - staff_reset.created_at == timedelta(minutes=30)
        assert staff_reset.token_hash != staff_token, "only a hash is kept"
        staff_reset.expires_at = utcnow() - timedelta(seconds=1)

    tampered = teacher_token[:-1] + ("A" if teacher_token[-1] != "A" else "B")
    for token in (staff_token, tampered, teacher_token + "x", "", "x" * 5000):
        assert await reset(mail_gql, token) == {"ok": False, "userErrors": [INVALID_TOKEN]}
    assert await reset(mail_gql, teacher_token) == OK, "the untampered link still works"


async def test_the_password_rules_apply_and_leave_the_token_usable(
    mail_gql: GraphQLClient, north: SchoolData, sink: SmtpSink
) -> None:
    await ask(mail_gql, "teacher@north.test")
    token = token_of(links(sink, "teacher@north.test")[0])
    for password in ("short", "x" * 257):
        answer = await reset(mail_gql, token, password)
        assert answer["ok"] is False
        assert [(e["code"], e["field"]) for e in answer["userErrors"]] == [
            ("INVALID", ["input", "newPassword"])
        ]
    assert await reset(mail_gql, token, "x" * 256) == OK


async def test_of_two_concurrent_resets_with_one_token_exactly_one_wins(
    mail_gql: GraphQLClient, north: SchoolData, sink: SmtpSink
) -> None:
    await ask(mail_gql, "teacher@north.test")
    token = token_of(links(sink, "teacher@north.test")[0])
    passwords = ["first passphrase here", "second passphrase here"]
    answers = await asyncio.gather(*(reset(mail_gql, token, password) for password in passwords))
    assert sorted(answer["ok"] for answer in answers) == [False, True]
    winner = passwords[[answer["ok"] for answer in answers].index(True)]
    loser = passwords[1 - passwords.index(winner)]
    assert (await login(mail_gql, "teacher@north.test", winner))["userErrors"] == []
    assert (await login(mail_gql, "teacher@north.test", loser))["userErrors"][0][
        "code"
    ] == "INVALID_CREDENTIALS"


async def test_older_links_work_until_one_is_used_then_all_are_spent(
    mail_gql: GraphQLClient, north: SchoolData, sink: SmtpSink
) -> None:
    await ask(mail_gql, "teacher@north.test")
    await ask(mail_gql, "teacher@north.test")
    first, second = (token_of(link) for link in links(sink, "teacher@north.test"))
    assert await reset(mail_gql, first) == OK, "a newer request does not cancel an older link"
    assert await reset(mail_gql, second, "another new passphrase") == {
        "ok": False,
        "userErrors": [INVALID_TOKEN],
    }


async def test_at_most_three_mails_per_address_an_hour_even_when_asked_at_once(
    mail_gql: GraphQLClient, north: SchoolData, sink: SmtpSink
) -> None:
    answers = await asyncio.gather(*(ask(mail_gql, "teacher@north.test") for _ in range(6)))
    assert answers == [OK] * 6, "more requests still answer ok"
    assert len(sink.to("teacher@north.test")) == 3


async def test_more_than_twenty_requests_an_hour_from_one_ip_are_rate_limited(
    mail_gql: GraphQLClient, north: SchoolData, sink: SmtpSink
) -> None:
    answers = await asyncio.gather(*(ask(mail_gql, f"person{n}@elsewhere.test") for n in range(25)))
    codes = [tuple(error["code"] for error in answer["userErrors"]) for answer in answers]
    assert codes.count(()) == 20
    assert codes.count(("RATE_LIMITED",)) == 5
    assert all(answer["ok"] is False for answer in answers if answer["userErrors"])
    assert (await ask(mail_gql, "teacher@north.test"))["userErrors"][0]["code"] == "RATE_LIMITED"
    assert sink.messages == [], "whatever the address"


async def test_ten_bad_tokens_from_one_ip_lock_out_even_a_good_one(
    mail_gql: GraphQLClient, north: SchoolData, sink: SmtpSink
) -> None:
    await ask(mail_gql, "teacher@north.test")
    token = token_of(links(sink, "teacher@north.test")[0])
    answers = await asyncio.gather(*(reset(mail_gql, f"guess-{n}") for n in range(10)))
    assert all(answer["userErrors"] == [INVALID_TOKEN] for answer in answers)
    limited = await reset(mail_gql, token)
    assert limited["ok"] is False
    assert [error["code"] for error in limited["userErrors"]] == ["RATE_LIMITED"]
