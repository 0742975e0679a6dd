"""Hostile and malformed input against a real server process: each gets a clear answer, and the
server is healthy afterwards."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from resolvers.ids import encode_id
from tests.clients import TransportWSClient
from tests.factories import Factory

TRANSPORT_WS = websockets.Subprotocol("graphql-transport-ws")
PREFLIGHT = {"Apollo-Require-Preflight": "true"}
DEEP = "[" * 50_000 + "]" * 50_000

HTTP_CASES: list[tuple[str, dict[str, Any], int, str]] = [
    ("invalid JSON", {"content": b"{nope", "headers": {"content-type": "application/json"}}, 400, "parse"),
    (
        "invalid UTF-8",
        {"content": b'{"query": "{ me { id } }\xff"}', "headers": {"content-type": "application/json"}},
        400,
        "parse",
    ),
    (
        "wrong content type",
        {"content": b"<q/>", "headers": {"content-type": "application/xml"}},
        400,
        "content type",
    ),
    ("no query", {"json": {}}, 400, "No GraphQL query"),
    ("query not a string", {"json": {"query": 5}}, 400, "must be a string"),
    (
        "variables not an object",
        {"json": {"query": "{ me { id } }", "variables": [1]}},
        400,
        "must be an object",
    ),
    (
        "nested 50,000 deep",
        {
            "content": f'{{"query": "{{ me {{ id }} }}", "variables": {{"v": {DEEP}}}}}'.encode(),
            "headers": {"content-type": "application/json"},
        },
        400,
        "parse",
    ),
    (
        "huge variables",
        {"json": {"query": "{ me { id } }", "variables": {"v": "x" * 2_000_000}}},
        413,
        "over",
    ),
    (
        "malformed multipart map",
        {
            "data": {"operations": "{}", "map": "not json"},
            "files": {"0": ("a.txt", b"x")},
            "headers": PREFLIGHT,
        },
        400,
        "parse",
    ),
    (
        "multipart map to a missing file",
        {
            "data": {
                "operations": json.dumps({"query": "{ me { id } }"}),
                "map": json.dumps({"1": ["variables.x"]}),
            },
            "files": {"0": ("a.txt", b"x")},
            "headers": PREFLIGHT,
        },
        400,
        "missing",
    ),
]


@pytest.fixture
def server(start_server: Any) -> Any:
    return start_server(WS_CONNECTION_INIT_TIMEOUT_SECONDS="1")


async def assert_healthy(server: Any) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.post("/graphql", json={"query": "{ me { id } }"})).json() == {
            "data": {"me": None}
        }


async def test_bad_http_requests_get_clear_answers(server: Any) -> None:
    """One server for every case, checked healthy after each."""
    for name, request_kwargs, status, says in HTTP_CASES:
        async with httpx.AsyncClient(base_url=server.base_url) as client:
            response = await client.post("/graphql", **request_kwargs)
        assert response.status_code == status, name
        assert says.lower() in response.text.lower(), (name, response.text)
        await assert_healthy(server)


async def test_duplicate_subscription_ids_close_the_socket(server: Any, factory: Factory) -> None:
    north = await factory.school("north")
    client = await TransportWSClient.connect(server.ws_url, {"accessToken": factory.token(north.teacher)})
    query = "subscription($c: ID!) { gradebookEvents(classId: $c) { __typename } }"
    variables = {"c": encode_id("Class", north.klass.id)}
    message = {"id": "same", "type": "subscribe", "payload": {"query": query, "variables": variables}}
    await client.send(message)
    await client.send(message)
    await asyncio.wait_for(client.connection.wait_closed(), 5)
    assert client.connection.close_code == 4409
    await assert_healthy(server)


async def test_garbage_frames_close_the_socket(server: Any) -> None:
    async with websockets.connect(server.ws_url, subprotocols=[TRANSPORT_WS]) as socket:
        await socket.send("this is not json")
        await asyncio.wait_for(socket.wait_closed(), 5)
    assert socket.close_code == 4400
    await assert_healthy(server)


async def test_a_flood_of_pings_is_answered_and_the_server_stays_up(server: Any, factory: Factory) -> None:
    north = await factory.school("north")
    client = await TransportWSClient.connect(server.ws_url, {"accessToken": factory.token(north.student)})
    for _ in range(2000):
        await client.send({"type": "ping"})
    pongs = 0
    while pongs < 2000:
        message = await client.receive(wait=10)
        pongs += message["type"] == "pong"
    await client.close()
    await assert_healthy(server)
