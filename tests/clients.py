"""Test clients: GraphQL over HTTP (in-process ASGI or a real socket) and graphql-transport-ws."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets


class GraphQLClient:
    """Posts operations to /graphql; `token` signs in as a user (Authorization: Bearer)."""

    def __init__(self, http: httpx.AsyncClient, token: str | None = None) -> None:
        self.http = http
        self.token = token

    def as_user(self, token: str | None) -> GraphQLClient:
        return GraphQLClient(self.http, token)

    async def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, operation_name: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        body: dict[str, Any] = {"query": query, "variables": variables or {}}
        if operation_name:
            body["operationName"] = operation_name
        response = await self.http.post("/graphql", json=body, headers=headers)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def data(
        self, query: str, variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """Executes and asserts there were no errors."""
        result = await self.execute(query, variables, **kwargs)
        assert "errors" not in result, result["errors"]
        data: dict[str, Any] = result["data"]
        return data


async def post_graphql(
    base_url: str, token: str, query: str, variables: dict[str, Any], *, wait: float = 5.0
) -> dict[str, Any]:
    """One operation against a real server (`wait`: httpx's timeout, in seconds), asserting there
    were no errors; its `data`."""
    async with httpx.AsyncClient(base_url=base_url, timeout=wait) as http:
        response = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


class TransportWSClient:
    """A minimal graphql-transport-ws client over a real WebSocket."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self._next_id = 0

    @classmethod
    async def connect(cls, url: str, payload: dict[str, Any] | None = None) -> TransportWSClient:
        connection = await websockets.connect(
            url, subprotocols=[websockets.Subprotocol("graphql-transport-ws")]
        )
        client = cls(connection)
        await client.send({"type": "connection_init", "payload": payload or {}})
        ack = await client.receive()
        assert ack["type"] == "connection_ack", ack
        return client

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def receive(self, wait: float = 5.0) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.connection.recv(), wait)
        message: dict[str, Any] = json.loads(raw)
        return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        self._next_id += 1
        operation_id = str(self._next_id)
        await self.send(
            {
                "id": operation_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables or {}},
            }
        )
        return operation_id

    async def close(self) -> None:
        await self.connection.close()


async def next_gradebook_event(client: TransportWSClient, typename: str) -> dict[str, Any]:
    """The next gradebookEvents event of this __typename, the others skipped (each within 5 s)."""
    while True:
        message = await client.receive(wait=5)
        assert message["type"] == "next", message
        event: dict[str, Any] = message["payload"]["data"]["gradebookEvents"]
        if event["__typename"] == typename:
            return event
