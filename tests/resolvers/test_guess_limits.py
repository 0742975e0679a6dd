"""Guesses sent at once (the attacker's 100 concurrent sign-ins): each limit counts the attempt
before the secret is checked, so no more than the limit are ever checked, and a right secret
gives its attempt back. Before, the limit was read before the ~50 ms password hash and counted
after it, and every one of 100 guesses sent together was checked."""

from __future__ import annotations

import asyncio
from typing import Any

from config import Settings
from resolvers.invitations import FAILED_CODES_PER_IP
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import PASSWORD, Factory

LOGIN = contract_operation("Login")
RESET = contract_operation("ResetPassword")
PREVIEW = contract_operation("InvitationPreview")
CHANGE_PASSWORD = """
mutation ChangePassword($input: ChangePasswordInput!) {
  changePassword(input: $input) { ok userErrors { field message code } }
}"""
ACCOUNT_LIMIT = int(Settings.model_fields["failed_logins_per_account"].default.split("/")[0])
ADDRESS_LIMIT = int(Settings.model_fields["failed_logins_per_ip"].default.split("/")[0])
TOKEN_LIMIT = int(Settings.model_fields["bad_reset_tokens_per_ip"].default.split("/")[0])


async def login_code(gql: GraphQLClient, email: str, password: str) -> str:
    payload = (await gql.data(LOGIN, {"input": {"email": email, "password": password}}))["login"]
    return "OK" if payload["accessToken"] else str(payload["userErrors"][0]["code"])


def tally(answers: list[str]) -> dict[str, int]:
    return {code: answers.count(code) for code in sorted(set(answers))}


async def test_sign_ins_sent_at_once_check_no_more_guesses_than_the_account_limit(
    gql: GraphQLClient, factory: Factory
) -> None:
    await factory.school("north")
    guesses = [f"guess {n}" for n in range(49)] + [PASSWORD]
    answers = await asyncio.gather(*(login_code(gql, "teacher@north.test", guess) for guess in guesses))
    checked = [answer for answer in answers if answer != "RATE_LIMITED"]
    assert len(checked) == ACCOUNT_LIMIT, tally(answers)
    assert answers.count("RATE_LIMITED") == len(guesses) - ACCOUNT_LIMIT
    if "OK" not in checked:  # the right password was among the refused: it is refused afterwards too
        assert await login_code(gql, "teacher@north.test", PASSWORD) == "RATE_LIMITED"


async def test_a_right_password_gives_its_attempt_back_to_the_address(
    gql: GraphQLClient, factory: Factory
) -> None:
    await factory.school("north")
    for n in range(ADDRESS_LIMIT - 1):
        assert await login_code(gql, f"nobody{n}@north.test", "guess") == "INVALID_CREDENTIALS"
    for _ in range(3):  # each takes the last attempt of the address and gives it back
        assert await login_code(gql, "teacher@north.test", PASSWORD) == "OK"
    assert await login_code(gql, "last@north.test", "guess") == "INVALID_CREDENTIALS"
    assert await login_code(gql, "teacher@north.test", PASSWORD) == "RATE_LIMITED"


async def test_wrong_current_passwords_are_limited_even_at_once(gql: GraphQLClient, factory: Factory) -> None:
    north = await factory.school("north")
    teacher = gql.as_user(factory.token(north.teacher))

    async def change(current: str) -> str:
        variables = {"input": {"currentPassword": current, "newPassword": "a brand new password"}}
        payload: dict[str, Any] = (await teacher.data(CHANGE_PASSWORD, variables))["changePassword"]
        return "OK" if payload["ok"] else str(payload["userErrors"][0]["code"])

    answers = await asyncio.gather(*(change(f"guess {n}") for n in range(20)))
    assert tally(answers) == {"INVALID_CREDENTIALS": ACCOUNT_LIMIT, "RATE_LIMITED": 20 - ACCOUNT_LIMIT}
    assert await change(PASSWORD) == "RATE_LIMITED"
    assert await login_code(gql, "teacher@north.test", PASSWORD) == "OK", "sign-in is limited apart"


async def test_reset_tokens_sent_at_once_are_limited_per_address(
    gql: GraphQLClient, factory: Factory
) -> None:
    await factory.school("north")

    async def reset(token: str) -> str:
        variables = {"input": {"token": token, "newPassword": "a brand new password"}}
        payload: dict[str, Any] = (await gql.data(RESET, variables))["resetPassword"]
        return "OK" if payload["ok"] else str(payload["userErrors"][0]["code"])

    answers = await asyncio.gather(*(reset(f"forged token {n}") for n in range(25)))
    assert tally(answers) == {"INVALID_TOKEN": TOKEN_LIMIT, "RATE_LIMITED": 25 - TOKEN_LIMIT}


async def test_invitation_codes_sent_at_once_are_limited_per_address(
    gql: GraphQLClient, factory: Factory
) -> None:
    await factory.school("north")
    allowed = int(FAILED_CODES_PER_IP.split("/")[0])

    async def preview(code: str) -> str:
        result = await gql.as_user(None).execute(PREVIEW, {"code": code})
        errors = result.get("errors") or []
        return str(errors[0]["extensions"]["code"]) if errors else "NOT_FOUND"

    answers = await asyncio.gather(*(preview(f"guess {n}") for n in range(allowed + 15)))
    assert tally(answers) == {"NOT_FOUND": allowed, "RATE_LIMITED": 15}
