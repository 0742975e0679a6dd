"""Notifications: the feed and read marks through the contract, the events that create them,
and delivery to the Notifications service through the outbox (the simulator, made to fail)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config import Settings
from models import Conversation, ConversationParticipant, Message, Notification, NotificationOutbox
from models.base import utcnow
from models.db import create_writer_session_factory
from models.enums import NotificationCategory
from resolvers.ids import encode_id
from resolvers.notifications import add_notifications, deliver_pending, retry_delay
from services.clients import ServiceClients
from services.simulator import running_simulator, service_env
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

NOTIFICATIONS = contract_operation("Notifications")
MARK_READ = contract_operation("MarkNotificationsRead")
START = contract_operation("StartConversation")
SEND = contract_operation("SendMessage")
READ_CONVERSATION = contract_operation("MarkConversationRead")
KEY = "sim-key"
ANNOUNCEMENTS = NotificationCategory.ANNOUNCEMENTS


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def notify(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings, user_id: int, *titles: str
) -> list[int]:
    ids = []
    for title in titles:
        async with session_factory.begin() as session:
            ids.append(
                (
                    await add_notifications(
                        session, settings, [user_id], "school_message", title, "…", category=ANNOUNCEMENTS
                    )
                )[user_id]
            )
    return ids


async def kinds(session_factory: async_sessionmaker[AsyncSession], user_id: int) -> list[str]:
    async with session_factory() as session:
        query = select(Notification.kind).where(Notification.user_id == user_id).order_by(Notification.id)
        return list((await session.scalars(query)).all())


async def test_the_feed_pages_newest_first_and_marks_read(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    ids = await notify(session_factory, settings, north.student.id, "one", "two", "three")
    [foreign] = await notify(session_factory, settings, north.other_student.id, "not yours")
    student = gql.as_user(factory.token(north.student))
    first = (await student.data(NOTIFICATIONS, {"first": 2}))["notifications"]
    assert (first["totalCount"], first["unreadCount"]) == (3, 3)
    assert [n["title"] for n in first["nodes"]] == ["three", "two"]
    assert first["pageInfo"]["hasNextPage"] is True
    rest = (await student.data(NOTIFICATIONS, {"first": 2, "after": first["pageInfo"]["endCursor"]}))[
        "notifications"
    ]
    assert [n["title"] for n in rest["nodes"]] == ["one"]

    marked = (
        await student.data(
            MARK_READ,
            {"input": {"ids": [encode_id("Notification", ids[0]), encode_id("Notification", foreign)]}},
        )
    )["markNotificationsRead"]
    assert marked["unreadCount"] == 2
    assert [(e["code"], e["field"]) for e in marked["userErrors"]] == [("NOT_FOUND", ["input", "ids", "1"])]
    unread = (await student.data(NOTIFICATIONS, {"unreadOnly": True}))["notifications"]
    assert [n["title"] for n in unread["nodes"]] == ["three", "two"]
    everything = (await student.data(MARK_READ, {"input": {"all": True}}))["markNotificationsRead"]
    assert everything == {"unreadCount": 0, "userErrors": []}
    other = (await gql.as_user(factory.token(north.other_student)).data(NOTIFICATIONS, {}))["notifications"]
    assert (other["unreadCount"], [n["readAt"] for n in other["nodes"]]) == (1, [None]), "untouched"
    nothing = (await student.data(MARK_READ, {"input": {}}))["markNotificationsRead"]
    assert nothing["userErrors"][0]["code"] == "INVALID"
    assert (await gql.execute(NOTIFICATIONS, {}))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_message_while_away_notifies_once_until_read(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    mentor = gql.as_user(factory.token(north.mentor))
    student = gql.as_user(factory.token(north.student))
    started = await mentor.data(START, {"input": {"participantIds": [encode_id("User", north.student.id)]}})
    conversation = {"conversationId": started["startConversation"]["conversation"]["id"]}
    for body in ("Are you free Tuesday?", "Or Wednesday?"):
        await mentor.data(SEND, {"input": conversation | {"body": body}})
    assert await kinds(session_factory, north.student.id) == ["message"]
    feed = (await student.data(NOTIFICATIONS, {}))["notifications"]["nodes"]
    assert (feed[0]["title"], feed[0]["body"]) == (
        f"New message from {north.mentor.name}",
        "Are you free Tuesday?",
    )
    # The student reads and answers: they are here now, so the next message notifies nobody.
    await student.data(READ_CONVERSATION, {"input": conversation})
    await student.data(SEND, {"input": conversation | {"body": "Tuesday works"}})
    await mentor.data(SEND, {"input": conversation | {"body": "Great"}})
    assert await kinds(session_factory, north.student.id) == ["message"]
    assert await kinds(session_factory, north.mentor.id) == [], "the mentor has just written: not away"
    # Ten minutes later, the mentor has left: the student's answer notifies them.
    ago = timedelta(minutes=10)
    async with session_factory.begin() as session:
        for message in (await session.scalars(select(Message))).all():
            message.sent_at -= ago
        for started_at in (await session.scalars(select(Conversation))).all():
            started_at.last_message_at = (started_at.last_message_at or utcnow()) - ago
        for member in (await session.scalars(select(ConversationParticipant))).all():
            member.last_read_at = (member.last_read_at or utcnow()) - ago
    await student.data(SEND, {"input": conversation | {"body": "See you"}})
    assert await kinds(session_factory, north.mentor.id) == ["message"]


async def test_outbox_rows_come_with_notifications_only_when_the_service_is_on(
    settings: Settings, session_factory: async_sessionmaker[AsyncSession], north: SchoolData
) -> None:
    await notify(session_factory, settings, north.student.id, "service off")
    on = settings.model_copy(
        update={"notifications_api_url": "http://127.0.0.1:9", "notifications_api_key": "k"}
    )
    [delivered] = await notify(session_factory, on, north.student.id, "service on")
    async with session_factory() as session:
        outbox = (await session.scalars(select(NotificationOutbox))).all()
    assert [row.notification_id for row in outbox] == [delivered]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def simulator() -> AsyncIterator[tuple[str, httpx.AsyncClient]]:
    async with running_simulator(KEY) as base_url, httpx.AsyncClient(base_url=base_url) as admin:
        yield base_url, admin


async def test_delivery_survives_the_service_being_down(
    settings: Settings,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    north: SchoolData,
    simulator: tuple[str, httpx.AsyncClient],
) -> None:
    base_url, admin = simulator
    env = {
        name.lower(): value for name, value in service_env(base_url, KEY).items() if "NOTIFICATIONS" in name
    }
    on = settings.model_copy(update=env)
    ids = await notify(session_factory, on, north.student.id, "a", "b", "c", "d")
    state: Any = SimpleNamespace(settings=on, writer_session_factory=create_writer_session_factory(engine))
    clock = Clock()
    async with httpx.AsyncClient() as http:
        clients = ServiceClients(on, http, clock=clock)
        start = utcnow()
        (await admin.post("/_faults", json={"service": "notifications", "mode": "error"})).raise_for_status()
        assert await deliver_pending(state, clients, now=start) == 0
        async with session_factory() as session:
            pending = (
                await session.scalars(select(NotificationOutbox).order_by(NotificationOutbox.id))
            ).all()
        assert [(row.attempts, row.delivered_at) for row in pending] == [(1, None)] * 4
        assert all(row.next_attempt_at >= start + retry_delay(1) for row in pending)
        assert {row.last_error for row in pending} >= {"notifications: HTTP 500"}
        assert await deliver_pending(state, clients, now=start + timedelta(seconds=1)) == 0, "not due yet"

        (await admin.post("/_faults", json={"service": "notifications", "mode": "ok"})).raise_for_status()
        # The worker's loop: what the half-open circuit breaker lets through is delivered, the
        # rest waits for its next attempt; in the end each row is delivered, and only once.
        now, delivered = start, 0
        for _ in range(10):
            now += timedelta(hours=6, seconds=1)
            clock.now += 60
            delivered += await deliver_pending(state, clients, now=now)
        assert delivered == 4
    received = (
        await admin.get("/notifications/v1/notifications", headers={"Authorization": f"Bearer {KEY}"})
    ).json()
    assert sorted(n["id"] for n in received["notifications"]) == sorted(
        encode_id("Notification", pk) for pk in ids
    )
    assert {n["userId"] for n in received["notifications"]} == {encode_id("User", north.student.id)}
    async with session_factory() as session:
        rows = (await session.scalars(select(NotificationOutbox))).all()
    assert all(row.delivered_at is not None for row in rows)


async def test_nothing_is_sent_while_the_service_is_off(
    settings: Settings,
    engine: AsyncEngine,
    session_factory: async_sessionmaker[AsyncSession],
    north: SchoolData,
) -> None:
    on = settings.model_copy(
        update={"notifications_api_url": "http://127.0.0.1:9", "notifications_api_key": "k"}
    )
    await notify(session_factory, on, north.student.id, "queued")
    state: Any = SimpleNamespace(
        settings=settings, writer_session_factory=create_writer_session_factory(engine)
    )
    async with httpx.AsyncClient() as http:
        assert await deliver_pending(state, ServiceClients(settings, http)) == 0
    async with session_factory() as session:
        [row] = (await session.scalars(select(NotificationOutbox))).all()
    assert (row.attempts, row.delivered_at) == (0, None), "kept for when the service is on again"


def test_retries_back_off_exponentially_up_to_six_hours() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3)] == [30, 60, 120]
    assert retry_delay(40) == timedelta(hours=6)
