"""Each recipient's copy of a message the school sends (a Communication) and its deliveries: the
one place they are made, for announcements, platform notices and (later) payment reminders.

`make_copies` writes, in the caller's transaction, each copy and one Delivery per channel, as the
recipient's preferences (resolvers/delivery_rules.py) say:

- IN_APP: an in-app notification (kind: the copy's), the delivery DELIVERED at once; SKIPPED
  (PREFERENCE_OFF) when the recipient turned the category's IN_APP off (SAFETY cannot be).
- EMAIL and SMS: SKIPPED (PREFERENCE_OFF) when turned off, SKIPPED (NO_ADDRESS) without an e-mail
  address or phone number; else QUEUED to the address, due at once, or when the recipient's
  quiet hours end (`held_until`). The delivery outbox (resolvers/delivery/) sends them.

Rows are inserted a statement per table, however many copies: ids come back by content (as
`add_each` does), equal copies being interchangeable. After commit the caller tells the
recipients (`announce_copies`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from models import Communication, Delivery
from models.base import utcnow
from models.enums import CommunicationChannel, DeliveryStatus, NotificationCategory, SkipReason
from resolvers.delivery_rules import RecipientRules, delivery_rules
from resolvers.notifications import NewNotification, add_each
from subscriptions.bus import EventBus
from subscriptions.channels import user_announcements_channel, user_notifications_channel
from subscriptions.events import AnnouncementPublished, NotificationAdded

MAX_TITLE = 200  # Communication.title, Notification.title
# The ORM's bulk INSERT leaves out None values by default, one statement per set of columns given:
# rows with and without an address, a student, a notification... would each take a statement.
ONE_STATEMENT = {"render_nulls": True}


@dataclass(frozen=True)
class NewCopy:
    """One recipient's copy, rendered (and translated, `translated`) for them."""

    school_id: int
    recipient_id: int
    kind: str
    category: NotificationCategory
    title: str
    body: str
    language: str
    channels: tuple[CommunicationChannel, ...]
    translated: bool = False
    sender_id: int | None = None
    announcement_id: int | None = None
    student_id: int | None = None


@dataclass(frozen=True)
class MadeCopy:
    communication_id: int
    recipient_id: int
    announcement_id: int | None
    notification_id: int | None  # its in-app notification, when one was made


@dataclass(frozen=True)
class MadeCopies:
    copies: list[MadeCopy]

    @property
    def in_app(self) -> list[MadeCopy]:
        return [copy for copy in self.copies if copy.notification_id is not None]


def _row(copy: NewCopy, notification_id: int | None, sent_at: datetime) -> dict[str, Any]:
    return {
        "school_id": copy.school_id,
        "recipient_id": copy.recipient_id,
        "student_id": copy.student_id,
        "sender_id": copy.sender_id,
        "announcement_id": copy.announcement_id,
        "notification_id": notification_id,
        "kind": copy.kind,
        "category": copy.category,
        "title": copy.title[:MAX_TITLE],
        "body": copy.body,
        "language": copy.language,
        "translated": copy.translated,
        "sent_at": sent_at,
    }


# The columns that tell inserted copies apart (`sent_at` is the same for all of them).
_KEY = (
    "recipient_id",
    "student_id",
    "announcement_id",
    "notification_id",
    "kind",
    "title",
    "body",
    "language",
)


async def make_copies(
    session: AsyncSession,
    settings: Settings,
    copies: Sequence[NewCopy],
    *,
    rules: Mapping[int, RecipientRules] | None = None,
    now: datetime | None = None,
) -> MadeCopies:
    """The copies and their deliveries (see the module's docstring), in the caller's transaction.
    `rules`: the recipients' delivery rules when the caller has them already (else read here)."""
    if not copies:
        return MadeCopies([])
    now = now or utcnow()
    if rules is None:
        rules = await delivery_rules(session, {copy.recipient_id for copy in copies})
    in_app = [
        CommunicationChannel.IN_APP in copy.channels
        and rules[copy.recipient_id].allows(copy.category, CommunicationChannel.IN_APP)
        for copy in copies
    ]
    notes = [
        NewNotification(copy.recipient_id, copy.kind, copy.title[:MAX_TITLE], copy.body)
        for copy, shown in zip(copies, in_app, strict=True)
        if shown
    ]
    # The switches are applied above (category None): one id for each note.
    notification_ids = iter(await add_each(session, settings, notes, category=None))
    rows = [
        _row(copy, next(notification_ids) if shown else None, now)
        for copy, shown in zip(copies, in_app, strict=True)
    ]
    inserted = await session.execute(
        insert(Communication).returning(Communication.id, *(getattr(Communication, name) for name in _KEY)),
        rows,
        execution_options=ONE_STATEMENT,
    )
    ids_of: defaultdict[tuple[Any, ...], list[int]] = defaultdict(list)
    for communication_id, *key in inserted:
        ids_of[tuple(key)].append(communication_id)
    ids = [ids_of[tuple(row[name] for name in _KEY)].pop() for row in rows]
    deliveries = [
        _delivery(communication_id, copy, rules[copy.recipient_id], channel, now)
        for communication_id, copy in zip(ids, copies, strict=True)
        for channel in copy.channels
    ]
    if deliveries:
        await session.execute(insert(Delivery), deliveries, execution_options=ONE_STATEMENT)
    return MadeCopies(
        [
            MadeCopy(communication_id, copy.recipient_id, copy.announcement_id, row["notification_id"])
            for communication_id, copy, row in zip(ids, copies, rows, strict=True)
        ]
    )


def _delivery(
    communication_id: int,
    copy: NewCopy,
    rules: RecipientRules,
    channel: CommunicationChannel,
    now: datetime,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "communication_id": communication_id,
        "channel": channel,
        "translated": copy.translated,
        "attempts": 0,
        "skip_reason": None,
        "address": None,
        "held_until": None,
        "next_attempt_at": None,
        "sent_at": None,
        "delivered_at": None,
    }
    if not rules.allows(copy.category, channel):
        return row | {"status": DeliveryStatus.SKIPPED, "skip_reason": SkipReason.PREFERENCE_OFF}
    if channel == CommunicationChannel.IN_APP:
        return row | {"status": DeliveryStatus.DELIVERED, "sent_at": now, "delivered_at": now}
    address = rules.email if channel == CommunicationChannel.EMAIL else rules.phone
    if not address:
        return row | {"status": DeliveryStatus.SKIPPED, "skip_reason": SkipReason.NO_ADDRESS}
    held_until = rules.held_until(channel, copy.category, now)
    return row | {
        "status": DeliveryStatus.QUEUED,
        "address": address,
        "held_until": held_until,
        "next_attempt_at": held_until or now,
    }


async def announce_copies(bus: EventBus, made: MadeCopies) -> None:
    """After commit: each recipient of an in-app copy hears of its notification and, for an
    announcement's copy, of the copy (announcementPublished), on every process."""
    events: list[tuple[str, BaseModel]] = []
    for copy in made.in_app:
        assert copy.notification_id is not None
        events.append(
            (
                user_notifications_channel(copy.recipient_id),
                NotificationAdded(notification_id=copy.notification_id),
            )
        )
        if copy.announcement_id is not None:
            events.append(
                (
                    user_announcements_channel(copy.recipient_id),
                    AnnouncementPublished(communication_id=copy.communication_id),
                )
            )
    await bus.publish_many(events)
