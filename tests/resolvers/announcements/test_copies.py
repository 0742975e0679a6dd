"""make_copies on its own, as a platform notice or a payment reminder uses it: a copy and one
delivery per channel as the recipient's rules say, equal copies kept apart, a bounded number of
statements, and after commit a notification event (announcementPublished only for announcements)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from config import Settings
from context import AppState
from models import Communication, Delivery, Notification
from models.enums import CommunicationChannel, DeliveryStatus, NotificationCategory, SkipReason
from resolvers.copies import NewCopy, announce_copies, make_copies
from resolvers.delivery_rules import RecipientRules
from subscriptions.channels import user_announcements_channel, user_notifications_channel
from subscriptions.events import AnnouncementPublished, NotificationAdded
from tests.factories import Factory, SchoolData

CHANNELS = (CommunicationChannel.IN_APP, CommunicationChannel.EMAIL, CommunicationChannel.SMS)
FINANCE = NotificationCategory.FINANCE


def reminder(school: SchoolData, recipient_id: int, **fields: object) -> NewCopy:
    copy = NewCopy(
        school_id=school.school.id, recipient_id=recipient_id, kind="payment_reminder", category=FINANCE,
        title="Tuition due", body="Please pay by Friday.", language="en", channels=CHANNELS,
    )  # fmt: skip
    return NewCopy(**(copy.__dict__ | fields))  # type: ignore[arg-type]


async def test_each_channel_follows_the_recipients_rules(
    factory: Factory,
    north: SchoolData,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
) -> None:
    now = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)
    rules = {
        north.guardian.id: RecipientRules(
            north.guardian.id, "en", "UTC", "guardian@north.test", "+15551234567",
            quiet_start=time(22), quiet_end=time(7),
            switches={(FINANCE, CommunicationChannel.SMS): True},
        ),
        north.student.id: RecipientRules(
            north.student.id, "en", "UTC", None, None,
            switches={(FINANCE, CommunicationChannel.IN_APP): False},
        ),
    }  # fmt: skip
    copies = [
        reminder(north, north.guardian.id),
        reminder(north, north.guardian.id),
        reminder(north, north.student.id),
    ]
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        async with session_factory.begin() as session:
            made = await make_copies(session, settings, copies, rules=rules, now=now)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert len(inserts) == 3, "notifications, copies and deliveries: a statement each"

    assert len({copy.communication_id for copy in made.copies}) == 3, "equal copies are two copies"
    assert [copy.recipient_id for copy in made.in_app] == [north.guardian.id, north.guardian.id]
    async with session_factory() as session:
        deliveries = (
            await session.execute(
                select(Communication.recipient_id, Delivery)
                .join(Communication, Communication.id == Delivery.communication_id)
                .order_by(Delivery.id)
            )
        ).all()
        notifications = list(await session.scalars(select(Notification).order_by(Notification.id)))
    held = datetime(2026, 12, 4, 7, tzinfo=UTC)
    shown = [
        (recipient, d.channel, d.status, d.skip_reason, d.address, d.held_until, d.next_attempt_at)
        for recipient, d in deliveries
    ]
    guardian_rows = [
        (north.guardian.id, CommunicationChannel.IN_APP, DeliveryStatus.DELIVERED, None, None, None, None),
        (
            north.guardian.id,
            CommunicationChannel.EMAIL,
            DeliveryStatus.QUEUED,
            None,
            "guardian@north.test",
            held,
            held,
        ),
        (
            north.guardian.id,
            CommunicationChannel.SMS,
            DeliveryStatus.QUEUED,
            None,
            "+15551234567",
            held,
            held,
        ),
    ]
    skipped = DeliveryStatus.SKIPPED
    off, no_address = SkipReason.PREFERENCE_OFF, SkipReason.NO_ADDRESS
    assert shown == guardian_rows * 2 + [
        (north.student.id, CommunicationChannel.IN_APP, skipped, off, None, None, None),
        (north.student.id, CommunicationChannel.EMAIL, skipped, no_address, None, None, None),
        (north.student.id, CommunicationChannel.SMS, skipped, off, None, None, None),
    ]
    assert [(n.user_id, n.kind, n.title) for n in notifications] == [
        (north.guardian.id, "payment_reminder", "Tuition due")
    ] * 2


async def test_recipients_hear_of_their_in_app_copies_after_commit(
    state: AppState, factory: Factory, north: SchoolData, settings: Settings
) -> None:
    async with state.writer_session_factory.begin() as session:
        made = await make_copies(
            session, settings, [reminder(north, north.guardian.id, channels=(CommunicationChannel.IN_APP,))]
        )
    (copy,) = made.in_app
    async with (
        state.bus.subscribe(user_notifications_channel(north.guardian.id), NotificationAdded) as notes,
        state.bus.subscribe(user_announcements_channel(north.guardian.id), AnnouncementPublished) as copies,
    ):
        await announce_copies(state.bus, made)
        heard = await asyncio.wait_for(anext(notes), 5)
        assert heard == NotificationAdded(notification_id=copy.notification_id)
        announced = asyncio.ensure_future(anext(copies))
        await asyncio.sleep(0.3)
        assert not announced.done(), "a payment reminder is not an announcement"
        announced.cancel()
        await asyncio.gather(announced, return_exceptions=True)
