"""A real `server.py serve` process over real sockets: HTTP, WebSocket protocols and their auth."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from tests.clients import TransportWSClient
from tests.factories import PASSWORD, Factory

TRANSPORT_WS = websockets.Subprotocol("graphql-transport-ws")


async def test_real_server_answers_http_and_graphql(start_server: Any) -> None:
    server = start_server()
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/readyz")).status_code == 200
        result = await client.post("/graphql", json={"query": "{ me { id } }"})
    assert result.json() == {"data": {"me": None}}


async def test_graphql_transport_ws_handshake_ping_and_errors(start_server: Any, factory: Factory) -> None:
    north = await factory.school("north")
    server = start_server()
    client = await TransportWSClient.connect(server.ws_url, {"accessToken": factory.token(north.student)})
    try:
        await client.send({"type": "ping"})
        assert (await client.receive())["type"] == "pong"
        operation_id = await client.subscribe("subscription { nothingHere }")
        error = await client.receive()
        assert error["id"] == operation_id
        assert error["type"] == "error"
    finally:
        await client.close()


async def test_legacy_graphql_ws_protocol_is_accepted(start_server: Any, factory: Factory) -> None:
    north = await factory.school("north")
    server = start_server()
    subprotocol = websockets.Subprotocol("graphql-ws")
    async with websockets.connect(server.ws_url, subprotocols=[subprotocol]) as socket:
        payload = {"authorization": f"Bearer {factory.token(north.teacher)}"}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        ack = json.loads(await asyncio.wait_for(socket.recv(), 5))
    assert ack["type"] == "connection_ack"


async def close_code_after_init(url: str, payload: dict[str, Any]) -> int | None:
    async with websockets.connect(url, subprotocols=[TRANSPORT_WS]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(socket.recv(), 5)
    return socket.close_code


async def test_sockets_without_a_valid_token_are_closed_with_4403(
    start_server: Any, factory: Factory
) -> None:
    north = await factory.school("north")
    server = start_server()
    assert await close_code_after_init(server.ws_url, {}) == 4403
    assert await close_code_after_init(server.ws_url, {"accessToken": "forged"}) == 4403
    expired = factory.token(north.student, minutes=-1)
    assert await close_code_after_init(server.ws_url, {"accessToken": expired}) == 4403


async def test_subscribing_before_connection_init_is_refused(start_server: Any) -> None:
    server = start_server()
    async with websockets.connect(server.ws_url, subprotocols=[TRANSPORT_WS]) as socket:
        subscribe = {"id": "1", "type": "subscribe", "payload": {"query": "subscription { x }"}}
        await socket.send(json.dumps(subscribe))
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(socket.recv(), 5)
    assert socket.close_code == 4401


async def test_a_socket_without_connection_init_is_closed_with_4408(start_server: Any) -> None:
    server = start_server(WS_CONNECTION_INIT_TIMEOUT_SECONDS="0.5")
    async with websockets.connect(server.ws_url, subprotocols=[TRANSPORT_WS]) as socket:
        await asyncio.wait_for(socket.wait_closed(), 5)
    assert socket.close_code == 4408


async def test_a_socket_is_closed_when_its_token_expires(start_server: Any, factory: Factory) -> None:
    north = await factory.school("north")
    server = start_server()
    client = await TransportWSClient.connect(
        server.ws_url, {"accessToken": factory.token(north.student, minutes=0.02)}
    )
    await asyncio.wait_for(client.connection.wait_closed(), 5)
    assert client.connection.close_code == 4403
    assert client.connection.close_reason == "Token expired"


async def test_logout_ends_the_sessions_sockets_on_every_process(
    start_server: Any, factory: Factory, settings: Any
) -> None:
    """With Redis the logout goes through another process than the socket's; without, the same."""
    await factory.school("north")
    socket_server = start_server()
    http_server = start_server() if settings.redis_url else socket_server
    login = {
        "query": "mutation($i: LoginInput!) { login(input: $i) { accessToken refreshToken } }",
        "variables": {"i": {"email": "student@north.test", "password": PASSWORD}},
    }
    async with httpx.AsyncClient(base_url=http_server.base_url) as http:
        first = (await http.post("/graphql", json=login)).json()["data"]["login"]
        second = (await http.post("/graphql", json=login)).json()["data"]["login"]
        ending = await TransportWSClient.connect(socket_server.ws_url, {"accessToken": first["accessToken"]})
        staying = await TransportWSClient.connect(
            socket_server.ws_url, {"accessToken": second["accessToken"]}
        )
        logout = {
            "query": "mutation($i: LogoutInput!) { logout(input: $i) { ok } }",
            "variables": {"i": {"refreshToken": first["refreshToken"]}},
        }
        assert (await http.post("/graphql", json=logout)).json()["data"]["logout"]["ok"] is True
    await asyncio.wait_for(ending.connection.wait_closed(), 5)
    assert ending.connection.close_code == 4403
    assert ending.connection.close_reason == "Session ended"
    await staying.send({"type": "ping"})
    assert (await staying.receive())["type"] == "pong"
    await staying.close()
