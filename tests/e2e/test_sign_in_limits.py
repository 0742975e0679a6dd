"""The attacker's concurrent sign-in guesses, against two real server processes sharing Redis:
60 guesses at one account sent at once, half to each process, check no more passwords than the
account's limit; 60 guesses at 60 accounts check no more than the address's limit."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from config import Settings
from tests.contract.documents import contract_operation
from tests.factories import PASSWORD, Factory

LOGIN = contract_operation("Login")
ACCOUNT_LIMIT = int(Settings.model_fields["failed_logins_per_account"].default.split("/")[0])
ADDRESS_LIMIT = int(Settings.model_fields["failed_logins_per_ip"].default.split("/")[0])


async def login_code(base_url: str, email: str, password: str) -> str:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        answer = await http.post(
            "/graphql", json={"query": LOGIN, "variables": {"input": {"email": email, "password": password}}}
        )
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    payload = body["data"]["login"]
    return "OK" if payload["accessToken"] else str(payload["userErrors"][0]["code"])


async def test_guesses_sent_at_once_to_two_processes_check_no_more_than_the_limits(
    start_server: Any, factory: Factory, settings: Settings
) -> None:
    if settings.redis_url is None:
        pytest.skip("two processes share their limits through Redis: needs REDIS_URL")
    await factory.school("north")
    servers = [start_server(), start_server()]
    guesses = [f"guess {n}" for n in range(59)] + [PASSWORD]
    answers = await asyncio.gather(
        *(login_code(servers[n % 2].base_url, "teacher@north.test", guess) for n, guess in enumerate(guesses))
    )
    assert len([answer for answer in answers if answer != "RATE_LIMITED"]) == ACCOUNT_LIMIT, answers
    spread = await asyncio.gather(
        *(login_code(servers[n % 2].base_url, f"nobody{n}@north.test", "guess") for n in range(60))
    )
    checked_before = ACCOUNT_LIMIT - answers.count("OK")  # the address's attempts the first burst kept
    assert spread.count("INVALID_CREDENTIALS") == ADDRESS_LIMIT - checked_before, spread
    assert spread.count("RATE_LIMITED") == 60 - (ADDRESS_LIMIT - checked_before)
