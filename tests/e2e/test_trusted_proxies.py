"""`X-Forwarded-For` is believed only from TRUSTED_PROXIES, against a real server process: the
per-address sign-in limit (30 failed sign-ins) counts the connection's peer unless the peer is
a trusted proxy. Before, uvicorn's default believed the header from loopback with no setting,
so a client on the same host (or behind a local proxy that passed the header on) had as many
addresses as it liked to spread its guesses over."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from config import Settings
from tests.contract.documents import contract_operation
from tests.factories import Factory

LOGIN = contract_operation("Login")
ADDRESS_LIMIT = int(Settings.model_fields["failed_logins_per_ip"].default.split("/")[0])
# The limit's windows are aligned on the clock (stores/attempts.py): over a day instead of a
# quarter of an hour, a burst is all but never split by a window's end (it was, once).
A_DAY = {"FAILED_LOGINS_PER_IP": f"{ADDRESS_LIMIT}/day"}


async def failed_login(base_url: str, n: int, forwarded_for: str) -> str:
    """A wrong password for an account that does not exist, sent with this X-Forwarded-For."""
    variables = {"input": {"email": f"nobody{n}@north.test", "password": "guess"}}
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        answer = await http.post(
            "/graphql",
            json={"query": LOGIN, "variables": variables},
            headers={"X-Forwarded-For": forwarded_for},
        )
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    return str(body["data"]["login"]["userErrors"][0]["code"])


async def test_without_trusted_proxies_a_spoofed_forwarded_for_is_ignored(
    start_server: Any, factory: Factory
) -> None:
    await factory.school("north")
    server = start_server(**A_DAY)
    # Each guess claims another address: all of them are the peer's (127.0.0.1) all the same.
    answers = await asyncio.gather(
        *(failed_login(server.base_url, n, f"198.51.100.{n}") for n in range(ADDRESS_LIMIT))
    )
    assert answers == ["INVALID_CREDENTIALS"] * ADDRESS_LIMIT
    assert await failed_login(server.base_url, 99, "203.0.113.99") == "RATE_LIMITED"


async def test_a_trusted_proxy_gives_the_address_it_forwards_for(start_server: Any, factory: Factory) -> None:
    await factory.school("north")
    server = start_server(TRUSTED_PROXIES="127.0.0.1", **A_DAY)
    answers = await asyncio.gather(
        *(failed_login(server.base_url, n, "198.51.100.7") for n in range(ADDRESS_LIMIT))
    )
    assert answers == ["INVALID_CREDENTIALS"] * ADDRESS_LIMIT
    assert await failed_login(server.base_url, 98, "198.51.100.7") == "RATE_LIMITED"
    # Another client behind the same proxy has its own limit.
    assert await failed_login(server.base_url, 99, "198.51.100.8") == "INVALID_CREDENTIALS"
