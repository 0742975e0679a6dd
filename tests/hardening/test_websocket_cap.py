"""The per-user cap on open WebSockets (issue 22, item 10: 60 sockets of one student were
accepted), against real server processes: of MAX_WEBSOCKETS_PER_USER + 5 connections of one user
opened at once exactly the cap is acknowledged and the rest closed with 4429; a slot comes back
however its connection ends (closed by the client, dropped without a close frame, closed by the
server at logout); another user is unaffected; two processes sharing Redis share the cap; and the
connections of a process killed with SIGKILL stop counting once their lease has passed."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from typing import Any

import httpx
import pytest
import websockets

from config import Settings
from tests.clients import TransportWSClient
from tests.contract.documents import contract_operation
from tests.factories import PASSWORD, Factory

CAP = 10
TOO_MANY = (4429, "Too many connections")
TRANSPORT_WS = websockets.Subprotocol("graphql-transport-ws")
LEGACY_WS = websockets.Subprotocol("graphql-ws")
LOGIN = contract_operation("Login")
LOGOUT = contract_operation("Logout")

Refusal = tuple[int | None, str | None]


async def connect(url: str, token: str) -> TransportWSClient | Refusal:
    """A socket through connection_init: the acknowledged client, or the close code and reason."""
    connection = await websockets.connect(url, subprotocols=[TRANSPORT_WS])
    await connection.send(json.dumps({"type": "connection_init", "payload": {"accessToken": token}}))
    try:
        message = json.loads(await asyncio.wait_for(connection.recv(), 10))
    except websockets.ConnectionClosed:
        return connection.close_code, connection.close_reason
    assert message == {"type": "connection_ack"}, message
    return TransportWSClient(connection)


async def connect_all(urls: list[str], token: str) -> tuple[list[TransportWSClient], list[Refusal]]:
    """One connection per url, all at once."""
    results = await asyncio.gather(*(connect(url, token) for url in urls))
    accepted = [result for result in results if isinstance(result, TransportWSClient)]
    return accepted, [result for result in results if not isinstance(result, TransportWSClient)]


async def connect_once_freed(url: str, token: str, within: float) -> tuple[TransportWSClient, float]:
    """Connects as soon as a slot is free (refused with 4429 until then); the seconds it took."""
    started = time.monotonic()
    while True:
        result = await connect(url, token)
        if isinstance(result, TransportWSClient):
            return result, time.monotonic() - started
        assert result == TOO_MANY
        assert time.monotonic() - started < within, f"no slot freed within {within} s"
        await asyncio.sleep(0.05)


async def close_all(clients: list[TransportWSClient]) -> None:
    await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)


async def sign_in(base_url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url) as http:
        variables = {"input": {"email": "student@north.test", "password": PASSWORD}}
        answer = await http.post("/graphql", json={"query": LOGIN, "variables": variables})
    tokens: dict[str, Any] = answer.json()["data"]["login"]
    return tokens


def test_the_default_cap_is_ten() -> None:
    assert Settings.model_fields["max_websockets_per_user"].default == CAP


async def test_one_process_admits_exactly_the_cap_and_a_slot_comes_back_however_a_socket_ends(
    start_server: Any, factory: Factory
) -> None:
    north = await factory.school("north")
    server = start_server()
    session = await sign_in(server.base_url)
    other_device = factory.token(north.student)  # the same user, another session

    accepted, refused = await connect_all([server.ws_url] * (CAP + 5), session["accessToken"])
    assert (len(accepted), refused) == (CAP, [TOO_MANY] * 5)

    async with websockets.connect(server.ws_url, subprotocols=[LEGACY_WS]) as legacy:
        await legacy.send(json.dumps({"type": "connection_init", "payload": {"accessToken": other_device}}))
        refusal = json.loads(await asyncio.wait_for(legacy.recv(), 5))
        assert refusal == {"type": "connection_error", "payload": {"message": "Too many connections"}}
        await asyncio.wait_for(legacy.wait_closed(), 5)
    assert (legacy.close_code, legacy.close_reason) == TOO_MANY, "graphql-ws (legacy) too"

    teacher = await connect(server.ws_url, factory.token(north.teacher))
    assert isinstance(teacher, TransportWSClient), "another user is unaffected"
    await teacher.send({"type": "ping"})
    assert (await teacher.receive())["type"] == "pong"
    await teacher.close()

    await accepted.pop().close()
    kept, freed_after = await connect_once_freed(server.ws_url, other_device, within=5)
    assert freed_after < 2, "a closed socket's slot comes back at once"
    assert await connect(server.ws_url, other_device) == TOO_MANY, "one out, one in"

    accepted.pop().connection.transport.abort()  # gone without a close frame
    dropped_kept, _ = await connect_once_freed(server.ws_url, other_device, within=5)
    assert await connect(server.ws_url, other_device) == TOO_MANY

    async with httpx.AsyncClient(base_url=server.base_url) as http:
        variables = {"input": {"refreshToken": session["refreshToken"]}}
        logout = await http.post("/graphql", json={"query": LOGOUT, "variables": variables})
    assert logout.json()["data"]["logout"]["ok"] is True
    for client in accepted:
        await asyncio.wait_for(client.connection.wait_closed(), 5)
        assert (client.connection.close_code, client.connection.close_reason) == (4403, "Session ended")
    reopened = [(await connect_once_freed(server.ws_url, other_device, within=5))[0] for _ in accepted]
    assert await connect(server.ws_url, other_device) == TOO_MANY, "the server's closes gave back theirs"

    for client in (kept, dropped_kept):
        await client.send({"type": "ping"})
        assert (await client.receive())["type"] == "pong", "the other session's sockets stay open"
    await close_all([kept, dropped_kept, *reopened])


async def test_two_processes_sharing_redis_share_the_cap(
    start_server: Any, factory: Factory, settings: Settings
) -> None:
    if settings.redis_url is None:
        pytest.skip("REDIS_URL is not set: each process counts its own")
    north = await factory.school("north")
    first, second = start_server(), start_server()
    token = factory.token(north.student)

    urls = [(first, second)[n % 2].ws_url for n in range(CAP + 5)]
    accepted, refused = await connect_all(urls, token)
    assert (len(accepted), refused) == (CAP, [TOO_MANY] * 5)
    assert await connect(first.ws_url, token) == TOO_MANY
    assert await connect(second.ws_url, token) == TOO_MANY

    on_first = next(client for client, url in zip(accepted, urls, strict=False) if url == first.ws_url)
    accepted.remove(on_first)
    await on_first.close()
    moved, _ = await connect_once_freed(second.ws_url, token, within=5)
    assert await connect(first.ws_url, token) == TOO_MANY, "the slot freed on one is taken on the other"
    await close_all([*accepted, moved])


async def test_a_killed_processes_sockets_stop_counting_after_the_lease(
    start_server: Any, factory: Factory, settings: Settings
) -> None:
    if settings.redis_url is None:
        pytest.skip("REDIS_URL is not set: a process's count dies with it")
    lease = 3.0
    north = await factory.school("north")
    doomed = start_server(WEBSOCKET_LEASE_SECONDS=str(lease))
    survivor = start_server(WEBSOCKET_LEASE_SECONDS=str(lease))
    token = factory.token(north.student)

    held, refused = await connect_all([doomed.ws_url] * CAP, token)
    assert (len(held), refused) == (CAP, [])
    await asyncio.sleep(2 * lease)
    assert await connect(survivor.ws_url, token) == TOO_MANY, "live sockets are renewed past the lease"

    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait()
    killed_at = time.monotonic()
    assert await connect(survivor.ws_url, token) == TOO_MANY, "within the lease they still count"
    first, _ = await connect_once_freed(survivor.ws_url, token, within=lease + 3)
    freed_after = time.monotonic() - killed_at
    assert freed_after <= lease + 1.5, freed_after
    rest, refused = await connect_all([survivor.ws_url] * CAP, token)
    assert (len(rest), refused) == (CAP - 1, [TOO_MANY]), "all of the dead process's slots expired"
    await close_all([first, *rest])
    for client in held:
        client.connection.transport.abort()
