"""What the delivery tests share: a school, copies with their QUEUED deliveries made directly (as
resolvers/copies.py makes them), an AppState to deliver with, and the app served on a real port
whose PUBLIC_URL is its own address (for the SMS provider's status callbacks)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from context import AppState, build_state, close_state
from models import Announcement, AnnouncementAttachment, Communication, Delivery
from models.base import utcnow
from models.enums import AnnouncementScope, AnnouncementStatus, CommunicationChannel, DeliveryStatus
from server import create_app
from services.simulator import bind
from stores.media import MediaStore
from tests.factories import Factory, SchoolData


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


@dataclass(frozen=True)
class File:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Made:
    announcement_id: int
    copy_ids: list[int]
    delivery_ids: list[int]


async def queue(
    session_factory: async_sessionmaker[AsyncSession],
    settings: Settings,
    school: SchoolData,
    channel: CommunicationChannel,
    addresses: Sequence[str],
    *,
    title: str = "Field trip on Friday",
    body: str = "Bring a packed lunch.",
    files: Sequence[File] = (),
) -> Made:
    """A sent announcement of `school.teacher` with one copy per address (each for `school.student`,
    the recipient does not matter here) and its QUEUED `channel` delivery, due now."""
    store = MediaStore(settings.media_dir)
    now = utcnow()
    async with session_factory.begin() as session:
        announcement = Announcement(
            school_id=school.school.id,
            author_id=school.teacher.id,
            title=title,
            body=body,
            channels=["IN_APP", channel.name],
            scope=AnnouncementScope.CLASS,
            class_id=school.klass.id,
            status=AnnouncementStatus.SENT,
            sent_at=now,
            recipient_count=len(addresses),
        )
        session.add(announcement)
        await session.flush()
        for file in files:
            key = store.save(file.data, suffix="." + file.filename.rsplit(".", 1)[-1])
            session.add(
                AnnouncementAttachment(
                    announcement_id=announcement.id,
                    filename=file.filename,
                    content_type=file.content_type,
                    size=len(file.data),
                    storage_key=key,
                    sha256="0" * 64,
                )
            )
        copies = [
            Communication(
                school_id=school.school.id,
                recipient_id=school.student.id,
                sender_id=school.teacher.id,
                announcement_id=announcement.id,
                kind="announcement",
                category=announcement.category,
                title=title,
                body=body,
                language="en",
                sent_at=now,
            )
            for _ in addresses
        ]
        session.add_all(copies)
        await session.flush()
        deliveries = [
            Delivery(communication_id=copy.id, channel=channel, address=address, next_attempt_at=now)
            for copy, address in zip(copies, addresses, strict=True)
        ]
        session.add_all(deliveries)
        await session.flush()
        return Made(announcement.id, [c.id for c in copies], [d.id for d in deliveries])


async def rows(session_factory: async_sessionmaker[AsyncSession], ids: Sequence[int]) -> list[Delivery]:
    async with session_factory() as session:
        found = await session.scalars(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id))
        return list(found)


async def row(session_factory: async_sessionmaker[AsyncSession], delivery_id: int) -> Delivery:
    [delivery] = await rows(session_factory, [delivery_id])
    return delivery


def untouched(delivery: Delivery) -> bool:
    return (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.QUEUED, 0, None)


@contextlib.asynccontextmanager
async def app_state(settings: Settings) -> AsyncIterator[AppState]:
    """A process's AppState (its own engine), as the worker builds it."""
    state = build_state(settings)
    try:
        yield state
    finally:
        await close_state(state)


@contextlib.asynccontextmanager
async def serving_app(settings_for: Callable[[str], Settings]) -> AsyncIterator[AppState]:
    """The app on a free loopback port, built with `settings_for(its own base URL)`; its AppState.
    No lifespan: the test delivers by itself, no background loop competes with it."""
    with bind("127.0.0.1", 0) as sock:
        application = create_app(settings_for(f"http://127.0.0.1:{sock.getsockname()[1]}"))
        server = uvicorn.Server(uvicorn.Config(application, lifespan="off", ws="none", log_level="warning"))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        state: AppState = application.state.campus
        try:
            while not server.started:
                assert not task.done(), "the app stopped before it started"
                await asyncio.sleep(0.01)
            yield state
        finally:
            server.should_exit = True
            await task
            await close_state(state)
