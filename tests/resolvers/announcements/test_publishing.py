"""publishAnnouncement: sending now (copies, deliveries as each recipient's preferences say, in-app
notifications), scheduling, what is refused, scheduled sends exactly once however many processes
look, and translation (a real local LibreTranslate-shaped provider, or none)."""

from __future__ import annotations

import asyncio
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from context import build_state, close_state
from models import Announcement, AuditEntry, Communication, Enrollment, Notification
from models.base import utcnow
from models.enums import CommunicationChannel, NotificationCategory
from models.preferences import NotificationSettings, NotificationSwitch
from resolvers.announcements.publishing import send_due
from resolvers.ids import decode_id_of
from services.simulator import serving
from tests.clients import GraphQLClient
from tests.conftest import http_client_for
from tests.factories import Factory, SchoolData
from tests.resolvers.announcements.helpers import (
    PUBLISH,
    audit_actions,
    cancel,
    class_audience,
    codes,
    copies_of,
    count,
    created,
    deliveries_of,
    error_codes,
    new_announcement,
    publish,
    sent,
)
from tests.services.test_translation import LIBRE_KEY, Provider, provider_app

ALL_CHANNELS = ["IN_APP", "EMAIL", "SMS"]


async def test_sending_now_makes_a_copy_per_recipient_with_its_deliveries_and_notifications(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    input = new_announcement(
        class_audience(north.klass.id, includeGuardians=True),
        title="{{class.title}}: trip",
        body="Dear {{recipient.name}}, {{student.firstName}} goes with {{teacher.name}} ({{school.name}}).",
        channels=["IN_APP", "EMAIL"],
    )
    announcement = await sent(teacher, input)
    assert announcement["status"] == "SENT"
    assert announcement["sentAt"] is not None
    assert announcement["recipientCount"] == 2
    summary = {(c["channel"], c["status"]): c["count"] for c in announcement["deliverySummary"]}
    assert summary[("IN_APP", "DELIVERED")] == 2
    assert summary.get(("EMAIL", "QUEUED"), 0) + summary.get(("EMAIL", "SENT"), 0) == 2

    copies = await copies_of(session_factory, decode_id_of(announcement["id"], "Announcement"))
    assert [(c.recipient_id, c.student_id, c.kind, c.sender_id) for c in copies] == [
        (north.guardian.id, north.student.id, "announcement", north.teacher.id),
        (north.student.id, None, "announcement", north.teacher.id),
    ]
    assert [c.title for c in copies] == ["Algebra A: trip", "Algebra A: trip"]
    assert copies[0].body == "Dear Guardian of north, Student goes with Teacher of north (North School)."
    for copy in copies:
        deliveries = await deliveries_of(session_factory, copy.id)
        assert deliveries["EMAIL"].address in {"guardian@north.test", "student@north.test"}
        assert (deliveries["IN_APP"].status.value, deliveries["IN_APP"].delivered_at) == (
            "DELIVERED",
            copy.sent_at,
        )
    async with session_factory() as session:
        notes = (
            await session.execute(select(Notification.user_id, Notification.kind, Notification.title))
        ).all()
        linked = set(await session.scalars(select(Communication.notification_id)))
    assert sorted(notes) == [
        (north.guardian.id, "announcement", "Algebra A: trip"),
        (north.student.id, "announcement", "Algebra A: trip"),
    ]
    assert len(linked) == 2
    assert None not in linked
    assert await audit_actions(session_factory, "Announcement") == [
        "announcement.created",
        "announcement.sent",
    ]


async def test_preferences_skip_hold_or_queue_each_channel(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    new_york = ZoneInfo("America/New_York")
    local_now = utcnow().astimezone(new_york).replace(second=0, microsecond=0)
    quiet_end = local_now + timedelta(hours=2)
    async with session_factory.begin() as session:
        session.add_all(
            [
                # The guardian turned e-mail off and SMS on, and has a phone.
                NotificationSwitch(
                    user_id=north.guardian.id, category=NotificationCategory.ANNOUNCEMENTS,
                    channel=CommunicationChannel.EMAIL, enabled=False,
                ),
                NotificationSwitch(
                    user_id=north.guardian.id, category=NotificationCategory.ANNOUNCEMENTS,
                    channel=CommunicationChannel.SMS, enabled=True,
                ),
                NotificationSettings(user_id=north.guardian.id, phone_number="+15551234567"),
                # The student turned in-app off (SAFETY stays on) and is in quiet hours in New York.
                NotificationSwitch(
                    user_id=north.student.id, category=NotificationCategory.ANNOUNCEMENTS,
                    channel=CommunicationChannel.IN_APP, enabled=False,
                ),
                NotificationSwitch(
                    user_id=north.student.id, category=NotificationCategory.SAFETY,
                    channel=CommunicationChannel.IN_APP, enabled=False,
                ),
                NotificationSettings(
                    user_id=north.student.id, time_zone="America/New_York", quiet_hours_enabled=True,
                    quiet_start=(local_now - timedelta(hours=1)).time(), quiet_end=quiet_end.time(),
                ),
            ]
        )  # fmt: skip
    teacher = gql.as_user(factory.token(north.teacher))
    audience = class_audience(north.klass.id, includeGuardians=True)
    announcement = await sent(teacher, new_announcement(audience, channels=ALL_CHANNELS))
    guardian_copy, student_copy = await copies_of(
        session_factory, decode_id_of(announcement["id"], "Announcement")
    )
    guardian = await deliveries_of(session_factory, guardian_copy.id)
    assert guardian["IN_APP"].status.value == "DELIVERED"
    assert (guardian["EMAIL"].status.value, guardian["EMAIL"].skip_reason.value) == (
        "SKIPPED",
        "PREFERENCE_OFF",
    )
    assert guardian["EMAIL"].address is None
    assert guardian["SMS"].address == "+15551234567"
    assert guardian["SMS"].held_until is None
    assert guardian_copy.notification_id is not None

    student = await deliveries_of(session_factory, student_copy.id)
    assert (student["IN_APP"].status.value, student["IN_APP"].skip_reason.value) == (
        "SKIPPED",
        "PREFERENCE_OFF",
    )
    assert student_copy.notification_id is None
    assert (student["SMS"].status.value, student["SMS"].skip_reason.value) == ("SKIPPED", "PREFERENCE_OFF")
    email = student["EMAIL"]
    assert (email.status.value, email.address) == ("QUEUED", "student@north.test")
    assert email.held_until == quiet_end.astimezone(UTC)
    assert email.next_attempt_at == email.held_until

    staff = gql.as_user(factory.token(north.staff))
    safety = await sent(staff, new_announcement(audience, channels=ALL_CHANNELS, category="SAFETY"))
    _, student_copy = await copies_of(session_factory, decode_id_of(safety["id"], "Announcement"))
    student = await deliveries_of(session_factory, student_copy.id)
    assert student["IN_APP"].status.value == "DELIVERED", "SAFETY in the app cannot be turned off"
    assert student["EMAIL"].held_until is None, "SAFETY never waits for quiet hours"
    assert (student["SMS"].status.value, student["SMS"].skip_reason.value) == ("SKIPPED", "NO_ADDRESS")


async def test_what_cannot_be_published_is_refused_and_nothing_is_sent(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    empty = await factory.section(north, "Empty")
    nobody = await created(teacher, new_announcement(class_audience(empty.id)))
    assert codes(await publish(teacher, nobody["id"])) == ["NO_RECIPIENTS"]
    scheduled = await publish(teacher, nobody["id"], scheduledAt=(utcnow() + timedelta(days=1)).isoformat())
    assert scheduled["announcement"]["status"] == "SCHEDULED", "scheduling to nobody (yet) is allowed"

    draft = await created(teacher, new_announcement(class_audience(north.klass.id)))
    for at in (utcnow() - timedelta(minutes=1), utcnow() + timedelta(days=366)):
        refused = await publish(teacher, draft["id"], scheduledAt=at.isoformat())
        assert [(e["field"], e["code"]) for e in refused["userErrors"]] == [
            (["input", "scheduledAt"], "INVALID")
        ]
    other = gql.as_user(factory.token(north.other_teacher))
    refused_teacher = await other.execute(PUBLISH, {"input": {"announcementId": draft["id"]}})
    assert error_codes(refused_teacher) == ["FORBIDDEN"]

    unconfigured = settings.model_copy(update={"smtp_host": None, "sms_account_sid": None})
    async with http_client_for(unconfigured) as http:
        client = GraphQLClient(http, factory.token(north.teacher))
        for channels in (["IN_APP", "EMAIL"], ["SMS"]):
            mailed = await created(
                client, new_announcement(class_audience(north.klass.id), channels=channels)
            )
            refused = await publish(client, mailed["id"])
            assert codes(refused) == ["CHANNEL_UNAVAILABLE"]
    async with session_factory() as session:
        statuses = list(await session.scalars(select(Announcement.status).order_by(Announcement.id)))
    assert [status.value for status in statuses] == ["SCHEDULED", "DRAFT", "DRAFT", "DRAFT"]
    assert await count(session_factory, Communication) == 0


async def test_a_due_announcement_is_sent_once_however_many_processes_look(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    teacher = gql.as_user(factory.token(north.teacher))
    at = utcnow() + timedelta(hours=1)
    due = []
    for title in ("First", "Second", "Cancelled"):
        draft = await created(
            teacher, new_announcement(class_audience(north.klass.id, includeGuardians=True), title=title)
        )
        assert (await publish(teacher, draft["id"], scheduledAt=at.isoformat()))["userErrors"] == []
        due.append(draft)
    assert (await cancel(teacher, due[2]["id"]))["userErrors"] == []

    processes = [build_state(settings) for _ in range(3)]
    for process in processes:
        await process.bus.connect()
    try:
        results = await asyncio.gather(*(send_due(process, now=at) for process in processes))
    finally:
        for process in processes:
            await close_state(process)
    assert sum(results) == 2
    for announcement in due[:2]:
        copies = await copies_of(session_factory, decode_id_of(announcement["id"], "Announcement"))
        assert sorted(c.recipient_id for c in copies) == sorted([north.student.id, north.guardian.id])
    assert await copies_of(session_factory, decode_id_of(due[2]["id"], "Announcement")) == []
    assert await count(session_factory, Notification) == 4
    async with session_factory() as session:
        sent_entries = await session.scalar(
            select(func.count()).where(
                AuditEntry.action == "announcement.sent", AuditEntry.actor_id.is_(None)
            )
        )
        rows = list(await session.scalars(select(Announcement).order_by(Announcement.id)))
    assert sent_entries == 2
    assert [(row.status.value, row.recipient_count) for row in rows] == [
        ("SENT", 2),
        ("SENT", 2),
        ("CANCELLED", None),
    ]


async def test_without_a_provider_copies_are_the_original_not_translated(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory.begin() as session:
        session.add(NotificationSettings(user_id=north.student.id, language="es"))
    announcement = await sent(
        gql.as_user(factory.token(north.teacher)), new_announcement(class_audience(north.klass.id))
    )
    (copy,) = await copies_of(session_factory, decode_id_of(announcement["id"], "Announcement"))
    assert (copy.title, copy.language, copy.translated) == ("Field trip", "en", False)
    assert (await deliveries_of(session_factory, copy.id))["IN_APP"].translated is False


async def test_copies_are_translated_once_per_language_and_values_are_never_sent(
    factory: Factory, north: SchoolData, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    (third,) = await factory.students(north, ["Tom Third"])
    async with session_factory.begin() as session:
        session.add(Enrollment(class_id=north.klass.id, student_id=third.id))
        session.add_all(
            NotificationSettings(user_id=user.id, language="es") for user in (north.student, north.guardian)
        )
    provider = Provider()
    input = new_announcement(
        class_audience(north.klass.id, includeGuardians=True),
        title="Trip for {{student.firstName}}",
        body="Hello {{recipient.firstName}}, bring a lunch.",
    )
    async with serving(provider_app(provider)) as url:
        translating = settings.model_copy(update={"libretranslate_url": url, "libretranslate_key": LIBRE_KEY})
        async with http_client_for(translating) as http:
            announcement = await sent(GraphQLClient(http, factory.token(north.teacher)), input)
            provider.mode = "error"
            failed = await sent(GraphQLClient(http, factory.token(north.teacher)), input)
    copies = await copies_of(session_factory, decode_id_of(announcement["id"], "Announcement"))
    by_recipient = {c.recipient_id: (c.title, c.body, c.language, c.translated) for c in copies}
    assert by_recipient == {
        north.guardian.id: ("«es» TRIP FOR Student", "«es» HELLO Guardian, BRING A LUNCH.", "es", True),
        north.student.id: ("«es» TRIP FOR Student", "«es» HELLO Student, BRING A LUNCH.", "es", True),
        third.id: ("Trip for Tom", "Hello Tom, bring a lunch.", "en", False),
    }
    translate_requests = [r for r in provider.requests if "q" in r]
    assert len(translate_requests) == 2, "one per language, per announcement (the second one failed)"
    assert translate_requests[0]["q"] == ["Trip for [[0]]", "Hello [[0]], bring a lunch."]
    assert translate_requests[0]["target"] == "es"
    assert not any(name in str(provider.requests) for name in ("Student", "Guardian", "Tom"))
    failed_copies = await copies_of(session_factory, decode_id_of(failed["id"], "Announcement"))
    assert {(c.language, c.translated) for c in failed_copies} == {("en", False)}
