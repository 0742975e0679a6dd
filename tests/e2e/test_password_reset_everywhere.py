"""A password reset through real server processes and a real SMTP sink: one process mails the
link, the reset goes through another (with Redis; without it, through the socket's own), and every
session of the user ends at once on both: HTTP refuses the old access token and the user's open
WebSocket closes."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from tests.clients import TransportWSClient
from tests.contract.documents import contract_operation
from tests.factories import PASSWORD, Factory
from tests.smtp_sink import SmtpSink

LOGIN = contract_operation("Login")
REQUEST = contract_operation("RequestPasswordReset")
RESET = contract_operation("ResetPassword")
TOKEN = re.compile(r"/reset-password\?token=(\S+)")


async def post(
    base_url: str, query: str, variables: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        answer = await http.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    body: dict[str, Any] = answer.json()
    return body


async def mailed_token(sink: SmtpSink, address: str) -> str:
    """The token of the link mailed to `address` (sent after the answer: waited for)."""
    for _ in range(100):
        if sink.to(address):
            body = sink.to(address)[0].get_body(("plain",))
            assert body is not None
            match = TOKEN.search(body.get_content())
            assert match is not None
            return match.group(1)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no mail to {address}")


async def test_a_reset_ends_the_users_sessions_and_sockets_on_every_process(
    start_server: Any, factory: Factory, settings: Any, sink: SmtpSink
) -> None:
    await factory.school("north")
    first = start_server(**sink.env())
    second = start_server(**sink.env())
    # The socket's process hears of the reset through Redis; without it, only its own resets.
    resetting = second if settings.redis_url else first
    credentials = {"input": {"email": "student@north.test", "password": PASSWORD}}
    session = (await post(first.base_url, LOGIN, credentials))["data"]["login"]
    live = await TransportWSClient.connect(first.ws_url, {"accessToken": session["accessToken"]})
    await live.subscribe("subscription { notificationAdded { id } }")
    await live.send({"type": "ping"})
    assert (await live.receive())["type"] == "pong"

    asked = await post(second.base_url, REQUEST, {"input": {"email": "student@north.test"}})
    assert asked["data"]["requestPasswordReset"] == {"ok": True, "userErrors": []}
    token = await mailed_token(sink, "student@north.test")
    variables = {"input": {"token": token, "newPassword": "a brand new passphrase"}}
    assert (await post(resetting.base_url, RESET, variables))["data"]["resetPassword"]["ok"] is True

    await asyncio.wait_for(live.connection.wait_closed(), 5)
    assert (live.connection.close_code, live.connection.close_reason) == (4403, "Session ended")
    for server in (first, second):
        refused = await post(server.base_url, "{ me { email } }", {}, session["accessToken"])
        assert refused["data"] == {"me": None}
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
