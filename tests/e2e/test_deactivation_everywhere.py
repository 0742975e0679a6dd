"""Deactivation closes the account's open WebSockets on every server process: a live subscription
on one process, the deactivation through another (with Redis; without it, the same process)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from resolvers.ids import encode_id
from tests.clients import TransportWSClient
from tests.contract.documents import contract_operation
from tests.factories import PASSWORD, Factory

LOGIN = contract_operation("Login")
DEACTIVATE = contract_operation("DeactivateUser")
NOTIFICATIONS = "subscription { notificationAdded { id title } }"


async def test_a_deactivated_accounts_sockets_close_on_every_process(
    start_server: Any, factory: Factory, settings: Any
) -> None:
    north = await factory.school("north")
    socket_server = start_server()
    http_server = start_server() if settings.redis_url else socket_server
    async with httpx.AsyncClient(base_url=http_server.base_url) as http:
        signed_in = (
            await http.post(
                "/graphql",
                json={
                    "query": LOGIN,
                    "variables": {"input": {"email": "student@north.test", "password": PASSWORD}},
                },
            )
        ).json()["data"]["login"]
        student = await TransportWSClient.connect(
            socket_server.ws_url, {"accessToken": signed_in["accessToken"]}
        )
        bystander = await TransportWSClient.connect(
            socket_server.ws_url, {"accessToken": factory.token(north.other_student)}
        )
        await student.subscribe(NOTIFICATIONS)
        await bystander.subscribe(NOTIFICATIONS)
        await student.send({"type": "ping"})
        assert (await student.receive())["type"] == "pong", "the subscription is live"
        deactivation = {"input": {"userId": encode_id("User", north.student.id), "reason": "moved away"}}
        answer = await http.post(
            "/graphql",
            json={"query": DEACTIVATE, "variables": deactivation},
            headers={"Authorization": f"Bearer {factory.token(north.staff)}"},
        )
        assert answer.json()["data"]["deactivateUser"]["userErrors"] == []
        deactivated_at = time.monotonic()
        await asyncio.wait_for(student.connection.wait_closed(), 2)
        closed_after = time.monotonic() - deactivated_at
        assert student.connection.close_code == 4403
        assert student.connection.close_reason == "Session ended"
        assert closed_after < 2
        await bystander.send({"type": "ping"})
        assert (await bystander.receive())["type"] == "pong", "other accounts' sockets stay open"
        await bystander.close()
        refused = await http.post(
            "/graphql",
            json={"query": "{ me { id } }"},
            headers={"Authorization": f"Bearer {signed_in['accessToken']}"},
        )
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
