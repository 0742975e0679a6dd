"""Logout ends the session's access token at once on every server process: logged out through
one process, the token is refused over HTTP and in a new WebSocket's connection_init by another
(the database says the session ended), and the session's open sockets close (through Redis; without
it, on the same process). A second session of the same user goes on."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from tests.clients import TransportWSClient
from tests.contract.documents import contract_operation
from tests.factories import PASSWORD, Factory

LOGIN = contract_operation("Login")
LOGOUT = contract_operation("Logout")
NOTIFICATIONS = "subscription { notificationAdded { id title } }"
TRANSPORT_WS = websockets.Subprotocol("graphql-transport-ws")


async def me(server: Any, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        answer = await http.post(
            "/graphql", json={"query": "{ me { email } }"}, headers={"Authorization": f"Bearer {token}"}
        )
    body: dict[str, Any] = answer.json()
    return body


async def close_code_after_init(url: str, token: str) -> int | None:
    async with websockets.connect(url, subprotocols=[TRANSPORT_WS]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"accessToken": token}}))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(socket.recv(), 5)
    return socket.close_code


async def test_logout_ends_the_access_token_on_every_process(
    start_server: Any, factory: Factory, settings: Any
) -> None:
    await factory.school("north")
    first = start_server()
    second = start_server()
    socket_server = second if settings.redis_url else first
    async with httpx.AsyncClient(base_url=first.base_url) as http:

        async def sign_in() -> dict[str, Any]:
            variables = {"input": {"email": "student@north.test", "password": PASSWORD}}
            answer = await http.post("/graphql", json={"query": LOGIN, "variables": variables})
            tokens: dict[str, Any] = answer.json()["data"]["login"]
            return tokens

        session, other_device = await sign_in(), await sign_in()
        token = session["accessToken"]
        assert (await me(second, token))["data"]["me"]["email"] == "student@north.test"
        live = await TransportWSClient.connect(socket_server.ws_url, {"accessToken": token})
        kept = await TransportWSClient.connect(
            socket_server.ws_url, {"accessToken": other_device["accessToken"]}
        )
        await live.subscribe(NOTIFICATIONS)
        await live.send({"type": "ping"})
        assert (await live.receive())["type"] == "pong", "the subscription is live"

        logout = await http.post(
            "/graphql",
            json={"query": LOGOUT, "variables": {"input": {"refreshToken": session["refreshToken"]}}},
        )
        assert logout.json()["data"]["logout"] == {"ok": True, "userErrors": []}

        for server in (second, first):
            refused = await me(server, token)
            assert refused["data"] == {"me": None}
            assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
            assert await close_code_after_init(server.ws_url, token) == 4403
        await asyncio.wait_for(live.connection.wait_closed(), 2)
        assert (live.connection.close_code, live.connection.close_reason) == (4403, "Session ended")

        assert (await me(second, other_device["accessToken"]))["data"]["me"]["email"] == "student@north.test"
        await kept.send({"type": "ping"})
        assert (await kept.receive())["type"] == "pong", "the other session's socket stays open"
        await kept.close()
