"""The contract's announcement operations, and short ways to run them and to read what they wrote."""

from __future__ import annotations

import io
import json
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import AuditEntry, Communication, Delivery
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation

FEED = contract_operation("AnnouncementFeed")
SENT = contract_operation("SentAnnouncements")
DETAIL = contract_operation("AnnouncementDetail")
RECIPIENTS = contract_operation("AnnouncementRecipients")
CREATE = contract_operation("CreateAnnouncement")
UPDATE = contract_operation("UpdateAnnouncement")
PUBLISH = contract_operation("PublishAnnouncement")
CANCEL = contract_operation("CancelAnnouncement")
MARK_READ = contract_operation("MarkAnnouncementsRead")
PUBLISHED = contract_operation("AnnouncementPublished")
HISTORY = contract_operation("CommunicationHistory")


def class_audience(class_id: int, **included: bool) -> dict[str, Any]:
    return {"scope": "CLASS", "classId": encode_id("Class", class_id)} | included


def new_announcement(audience: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A CreateAnnouncementInput: in-app only, with a title and a body, unless told otherwise."""
    return {
        "audience": audience,
        "title": "Field trip",
        "body": "Bring a lunch.",
        "channels": ["IN_APP"],
    } | fields


async def create(client: GraphQLClient, input: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(CREATE, {"input": input}))["createAnnouncement"]
    return payload


async def created(client: GraphQLClient, input: dict[str, Any]) -> dict[str, Any]:
    """The announcement createAnnouncement made (asserting it answered no userErrors)."""
    payload = await create(client, input)
    assert payload["userErrors"] == [], payload
    announcement: dict[str, Any] = payload["announcement"]
    return announcement


async def update(client: GraphQLClient, announcement_id: str, **fields: Any) -> dict[str, Any]:
    variables = {"input": {"announcementId": announcement_id} | fields}
    payload: dict[str, Any] = (await client.data(UPDATE, variables))["updateAnnouncement"]
    return payload


async def publish(client: GraphQLClient, announcement_id: str, **fields: Any) -> dict[str, Any]:
    variables = {"input": {"announcementId": announcement_id} | fields}
    payload: dict[str, Any] = (await client.data(PUBLISH, variables))["publishAnnouncement"]
    return payload


async def sent(client: GraphQLClient, input: dict[str, Any]) -> dict[str, Any]:
    """An announcement created and published now (asserting neither answered userErrors)."""
    announcement = await created(client, input)
    payload = await publish(client, announcement["id"])
    assert payload["userErrors"] == [], payload
    published: dict[str, Any] = payload["announcement"]
    return published


async def cancel(client: GraphQLClient, announcement_id: str) -> dict[str, Any]:
    variables = {"input": {"announcementId": announcement_id}}
    payload: dict[str, Any] = (await client.data(CANCEL, variables))["cancelAnnouncement"]
    return payload


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["userErrors"]]


def error_codes(result: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors", [])]


async def copies_of(
    session_factory: async_sessionmaker[AsyncSession], announcement_id: int
) -> list[Communication]:
    async with session_factory() as session:
        query = select(Communication).where(Communication.announcement_id == announcement_id)
        return list(await session.scalars(query.order_by(Communication.recipient_id, Communication.id)))


async def deliveries_of(
    session_factory: async_sessionmaker[AsyncSession], communication_id: int
) -> dict[str, Delivery]:
    """A copy's deliveries by channel name."""
    async with session_factory() as session:
        rows = await session.scalars(select(Delivery).where(Delivery.communication_id == communication_id))
        return {row.channel.value: row for row in rows}


async def audit_actions(session_factory: async_sessionmaker[AsyncSession], subject_type: str) -> list[str]:
    async with session_factory() as session:
        query = select(AuditEntry.action).where(AuditEntry.subject_type == subject_type)
        return list(await session.scalars(query.order_by(AuditEntry.id)))


PREFLIGHT = {"Apollo-Require-Preflight": "true"}


async def multipart(
    http: httpx.AsyncClient,
    token: str,
    query: str,
    input: dict[str, Any],
    field: str,
    files: list[tuple[str, bytes]],
) -> dict[str, Any]:
    """An operation with `files` as input.<field> (a GraphQL multipart request): its JSON answer."""
    variables = {"input": input | {field: [None] * len(files)}}
    mapping = {str(n): [f"variables.input.{field}.{n}"] for n in range(len(files))}
    response = await http.post(
        "/graphql",
        data={"operations": json.dumps({"query": query, "variables": variables}), "map": json.dumps(mapping)},
        files={
            str(n): (name, content, "application/octet-stream") for n, (name, content) in enumerate(files)
        },
        headers={"Authorization": f"Bearer {token}"} | PREFLIGHT,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (10, 200, 30)).save(buffer, "PNG")
    return buffer.getvalue()


async def count(session_factory: async_sessionmaker[AsyncSession], model: Any) -> int:
    async with session_factory() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0
