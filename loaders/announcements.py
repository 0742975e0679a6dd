"""Batched reads behind announcements and their copies: announcements, their files, read counts
and delivery summaries, copies by id (for live events) and each copy's deliveries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loaders.base import RowByKeyLoader, RowsByKeyLoader, SessionLoader
from models import Announcement, AnnouncementAttachment, Communication, Delivery, MessageTemplate
from models.enums import CommunicationChannel, DeliveryStatus


@dataclass(frozen=True)
class DeliveryCount:
    """How many of an announcement's deliveries on `channel` are in `status`."""

    channel: CommunicationChannel
    status: DeliveryStatus
    count: int


class ReadCountLoader(SessionLoader[int, int]):
    """Copies of each announcement read in the app."""

    async def batch_load_fn(self, keys: Sequence[int]) -> list[int]:
        query = (
            select(Communication.announcement_id, func.count())
            .where(Communication.announcement_id.in_(keys), Communication.read_at.is_not(None))
            .group_by(Communication.announcement_id)
        )
        async with self._session_factory() as session:
            counts: dict[int | None, int] = dict((await session.execute(query)).all())
        return [counts.get(key, 0) for key in keys]


class DeliverySummaryLoader(SessionLoader[int, list[DeliveryCount]]):
    """Each announcement's deliveries counted by channel and status, in that order."""

    async def batch_load_fn(self, keys: Sequence[int]) -> list[list[DeliveryCount]]:
        query = (
            select(Communication.announcement_id, Delivery.channel, Delivery.status, func.count())
            .join(Communication, Communication.id == Delivery.communication_id)
            .where(Communication.announcement_id.in_(keys))
            .group_by(Communication.announcement_id, Delivery.channel, Delivery.status)
        )
        async with self._session_factory() as session:
            rows = (await session.execute(query)).all()
        grouped: defaultdict[int | None, list[DeliveryCount]] = defaultdict(list)
        for announcement_id, channel, status, count in rows:
            grouped[announcement_id].append(DeliveryCount(channel, status, count))
        order = list(CommunicationChannel), list(DeliveryStatus)
        return [
            sorted(grouped.get(key, []), key=lambda c: (order[0].index(c.channel), order[1].index(c.status)))
            for key in keys
        ]


class AnnouncementLoaders:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self.announcement_by_id: RowByKeyLoader[int, Announcement] = RowByKeyLoader(
            session_factory, Announcement.id
        )
        self.attachments_by_announcement: RowsByKeyLoader[int, AnnouncementAttachment] = RowsByKeyLoader(
            session_factory, AnnouncementAttachment.announcement_id, order_by=[AnnouncementAttachment.id]
        )
        self.template_by_id: RowByKeyLoader[int, MessageTemplate] = RowByKeyLoader(
            session_factory, MessageTemplate.id
        )
        self.communication_by_id: RowByKeyLoader[int, Communication] = RowByKeyLoader(
            session_factory, Communication.id
        )
        self.deliveries_by_communication: RowsByKeyLoader[int, Delivery] = RowsByKeyLoader(
            session_factory, Delivery.communication_id, order_by=[Delivery.id]
        )
        self.read_count = ReadCountLoader(session_factory)
        self.delivery_summary = DeliverySummaryLoader(session_factory)
