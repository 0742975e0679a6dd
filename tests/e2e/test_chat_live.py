"""Live chat across two real server processes (sharing the database, and Redis when REDIS_URL
is set; without Redis both "processes" are one, as the embedded default is)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from config import Settings
from resolvers.ids import encode_id
from tests.clients import TransportWSClient, post_graphql
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

MESSAGE_ADDED = contract_operation("MessageAdded")
NOTIFICATION_ADDED = contract_operation("NotificationAdded")
START = contract_operation("StartConversation")
SEND = contract_operation("SendMessage")


async def graphql(server: Any, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    return await post_graphql(server.base_url, token, query, variables)


async def start(server: Any, factory: Factory, school: SchoolData) -> str:
    variables = {"input": {"participantIds": [encode_id("User", school.student.id)]}}
    started = await graphql(server, factory.token(school.mentor), START, variables)
    conversation_id: str = started["startConversation"]["conversation"]["id"]
    return conversation_id


async def test_a_message_sent_through_one_process_reaches_a_subscriber_on_another(
    start_server: Any, factory: Factory, settings: Settings
) -> None:
    north = await factory.school("north")
    server_a = start_server()
    server_b = start_server() if settings.redis_url else server_a
    conversation_id = await start(server_a, factory, north)
    student = await TransportWSClient.connect(server_b.ws_url, {"accessToken": factory.token(north.student)})
    await student.subscribe(MESSAGE_ADDED, {"conversationId": conversation_id})
    await student.subscribe(NOTIFICATION_ADDED)
    # The subscription is live once the server has subscribed to the bus; give it a moment.
    await asyncio.sleep(0.5)

    started = time.monotonic()
    variables = {"input": {"conversationId": conversation_id, "body": "How did the exam go?"}}
    sent = await graphql(server_a, factory.token(north.mentor), SEND, variables)
    received: dict[str, dict[str, Any]] = {}
    while len(received) < 2:
        message = await student.receive(wait=5)
        assert message["type"] == "next", message
        received.update(message["payload"]["data"])
    assert time.monotonic() - started < 2.0
    assert received["messageAdded"]["id"] == sent["sendMessage"]["message"]["id"]
    assert received["messageAdded"]["body"] == "How did the exam go?"
    assert received["messageAdded"]["author"]["name"] == north.mentor.name
    assert received["messageAdded"]["attachments"] == []
    assert received["notificationAdded"]["kind"] == "message"
    assert received["notificationAdded"]["title"] == f"New message from {north.mentor.name}"
    await student.close()


async def test_only_participants_may_subscribe_to_a_conversation(start_server: Any, factory: Factory) -> None:
    north = await factory.school("north")
    server = start_server()
    conversation_id = await start(server, factory, north)
    for outsider in (north.other_student, north.teacher):
        client = await TransportWSClient.connect(server.ws_url, {"accessToken": factory.token(outsider)})
        await client.subscribe(MESSAGE_ADDED, {"conversationId": conversation_id})
        message = await client.receive()
        assert message["type"] in ("error", "next")
        errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"
        await client.close()
