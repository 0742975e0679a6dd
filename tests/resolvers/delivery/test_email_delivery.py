"""E-mail deliveries through a real SMTP server (tests/smtp_sink.py): sent with the announcement's
files, bounced, retried with backoff while the server is down and delivered once when it is back,
failed after five tries, and never sent twice by concurrent workers."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models.base import utcnow
from models.enums import CommunicationChannel, DeliveryStatus
from resolvers.delivery.outbox import (
    Attempt,
    deliver_due,
    lease_due,
    lease_length,
    record,
    retry_delay,
)
from stores.media import MediaStore
from tests.factories import SchoolData
from tests.resolvers.delivery.conftest import File, app_state, queue, row, rows, untouched
from tests.smtp_sink import SmtpSink

EMAIL = CommunicationChannel.EMAIL
PDF = File("trip.pdf", "application/pdf", b"%PDF-1.4 permission slip")


@pytest.fixture
def mail_settings(settings: Settings, sink: SmtpSink) -> Settings:
    return settings.model_copy(update=sink.settings())


async def test_each_copy_is_mailed_once_with_the_announcements_files(
    session_factory: async_sessionmaker[AsyncSession],
    mail_settings: Settings,
    north: SchoolData,
    sink: SmtpSink,
) -> None:
    made = await queue(
        session_factory, mail_settings, north, EMAIL, ["ana@home.test", "ben@home.test"], files=[PDF]
    )
    async with app_state(mail_settings) as state:
        assert await deliver_due(state) == 2
        assert await deliver_due(state) == 0, "nothing is due any more"
    assert sorted(message["To"] for message in sink.messages) == ["ana@home.test", "ben@home.test"]
    [message] = sink.to("ana@home.test")
    assert message["Subject"] == "Field trip on Friday"
    assert re.fullmatch(
        rf"<delivery-{made.delivery_ids[0]}\.\d{{20}}@campusgraph\.local>", message["Message-ID"]
    )
    text = message.get_body(("plain",))
    assert text is not None
    assert text.get_content().strip() == "Bring a packed lunch."
    [attachment] = list(message.iter_attachments())
    assert (attachment.get_filename(), attachment.get_content_type()) == ("trip.pdf", "application/pdf")
    assert attachment.get_content() == PDF.data
    for delivery in await rows(session_factory, made.delivery_ids):
        assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.SENT, 1, None)
        assert delivery.sent_at is not None
        assert delivery.next_attempt_at is None


async def test_a_recipient_the_server_refuses_bounces_and_is_not_tried_again(
    session_factory: async_sessionmaker[AsyncSession],
    mail_settings: Settings,
    north: SchoolData,
    sink: SmtpSink,
) -> None:
    sink.handler.refuse["gone@home.test"] = "550 No such user"
    made = await queue(session_factory, mail_settings, north, EMAIL, ["gone@home.test", "ana@home.test"])
    async with app_state(mail_settings) as state:
        assert await deliver_due(state) == 2
        assert await deliver_due(state, now=utcnow() + timedelta(days=1)) == 0
    bounced, sent = await rows(session_factory, made.delivery_ids)
    assert (bounced.status, bounced.attempts, bounced.next_attempt_at) == (DeliveryStatus.BOUNCED, 1, None)
    assert bounced.last_error == "550 No such user"
    assert bounced.sent_at is None
    assert sent.status is DeliveryStatus.SENT
    assert [message["To"] for message in sink.messages] == ["ana@home.test"]


async def test_while_the_server_is_down_mail_waits_and_is_delivered_once_when_it_is_back(
    session_factory: async_sessionmaker[AsyncSession],
    mail_settings: Settings,
    north: SchoolData,
    sink: SmtpSink,
) -> None:
    made = await queue(session_factory, mail_settings, north, EMAIL, ["ana@home.test", "ben@home.test"])
    sink.stop()
    start = utcnow()
    async with app_state(mail_settings) as state:
        assert await deliver_due(state, now=start) == 2
        for delivery in await rows(session_factory, made.delivery_ids):
            assert (delivery.status, delivery.attempts) == (DeliveryStatus.QUEUED, 1)
            assert delivery.last_error is not None
            assert "ConnectionRefused" in delivery.last_error or "connect" in delivery.last_error.lower()
            assert delivery.next_attempt_at == start + timedelta(seconds=30)
        assert await deliver_due(state, now=start + timedelta(seconds=29)) == 0, "not due yet"

        sink.start()
        assert await deliver_due(state, now=start + timedelta(seconds=30)) == 2
        for later in (31, 3600, 86400):
            assert await deliver_due(state, now=start + timedelta(seconds=later)) == 0
    assert sorted(message["To"] for message in sink.messages) == ["ana@home.test", "ben@home.test"]
    for delivery in await rows(session_factory, made.delivery_ids):
        assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == (
            DeliveryStatus.SENT,
            2,
            None,
        )
        assert delivery.last_error is not None, "why it took two tries stays visible"


async def test_five_failed_tries_fail_the_delivery(
    session_factory: async_sessionmaker[AsyncSession],
    mail_settings: Settings,
    north: SchoolData,
    sink: SmtpSink,
) -> None:
    sink.handler.refuse["full@home.test"] = "452 Mailbox full, try later"
    [delivery_id] = (
        await queue(session_factory, mail_settings, north, EMAIL, ["full@home.test"])
    ).delivery_ids
    now = utcnow()
    waits = []
    async with app_state(mail_settings) as state:
        for tries in range(1, 5):
            assert await deliver_due(state, now=now) == 1
            delivery = await row(session_factory, delivery_id)
            assert (delivery.status, delivery.attempts) == (DeliveryStatus.QUEUED, tries)
            assert delivery.next_attempt_at is not None
            waits.append((delivery.next_attempt_at - now).total_seconds())
            now = delivery.next_attempt_at
        assert await deliver_due(state, now=now) == 1
        assert await deliver_due(state, now=now + timedelta(days=30)) == 0
    assert waits == [30, 60, 120, 240]
    assert [retry_delay(mail_settings, n).total_seconds() for n in (1, 2, 3, 4)] == waits
    failed = await row(session_factory, delivery_id)
    assert (failed.status, failed.attempts, failed.next_attempt_at) == (DeliveryStatus.FAILED, 5, None)
    assert failed.last_error == "452 Mailbox full, try later"
    assert sink.messages == []


async def test_mail_whose_file_is_gone_waits_instead_of_going_without_it(
    session_factory: async_sessionmaker[AsyncSession],
    mail_settings: Settings,
    north: SchoolData,
    sink: SmtpSink,
) -> None:
    made = await queue(session_factory, mail_settings, north, EMAIL, ["ana@home.test"], files=[PDF])
    store = MediaStore(mail_settings.media_dir)
    [path] = list(store.root.rglob("*.pdf"))
    data = path.read_bytes()
    path.unlink()
    start = utcnow()
    async with app_state(mail_settings) as state:
        assert await deliver_due(state, now=start) == 1
        waiting = await row(session_factory, made.delivery_ids[0])
        assert (waiting.status, waiting.attempts) == (DeliveryStatus.QUEUED, 1)
        assert waiting.last_error == "the attachment trip.pdf cannot be read"
        path.write_bytes(data)
        assert await deliver_due(state, now=start + timedelta(seconds=30)) == 1
    [message] = sink.messages
    assert [a.get_filename() for a in message.iter_attachments()] == ["trip.pdf"]


async def test_without_smtp_nothing_is_taken(
    session_factory: async_sessionmaker[AsyncSession], settings: Settings, north: SchoolData
) -> None:
    made = await queue(session_factory, settings, north, EMAIL, ["ana@home.test"])
    async with app_state(settings) as state:
        assert not state.mailer.enabled
        assert await deliver_due(state) == 0
    assert untouched(await row(session_factory, made.delivery_ids[0])), (
        "kept, tries untouched, for when it is on"
    )


async def test_concurrent_workers_send_each_delivery_once(
    session_factory: async_sessionmaker[AsyncSession],
    mail_settings: Settings,
    north: SchoolData,
    sink: SmtpSink,
) -> None:
    addresses = [f"parent{n}@home.test" for n in range(24)]
    made = await queue(session_factory, mail_settings, north, EMAIL, addresses)
    # Two processes (two engines, two pools), each running two rounds at once, small batches.
    async with app_state(mail_settings) as one, app_state(mail_settings) as two:
        tried = 0
        for _ in range(len(addresses)):  # at most; each round takes at least one
            rounds = await asyncio.gather(*(deliver_due(state, batch=3) for state in (one, two, one, two)))
            tried += sum(rounds)
            if not any(rounds):
                break
    assert tried == len(addresses)
    assert sorted(message["To"] for message in sink.messages) == sorted(addresses)
    for delivery in await rows(session_factory, made.delivery_ids):
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)


async def test_a_worker_that_dies_leaves_its_deliveries_to_the_next_after_the_lease(
    session_factory: async_sessionmaker[AsyncSession],
    mail_settings: Settings,
    north: SchoolData,
    sink: SmtpSink,
) -> None:
    [delivery_id] = (
        await queue(session_factory, mail_settings, north, EMAIL, ["ana@home.test"])
    ).delivery_ids
    now = utcnow()
    lease = lease_length(mail_settings, 50)
    async with app_state(mail_settings) as state:
        # A worker leases the delivery and stalls (or dies) before it records anything.
        stalled = await lease_due(state, [EMAIL], now=now, until=now + lease, batch=50)
        assert [item.id for item in stalled] == [delivery_id]
        assert await deliver_due(state, now=now + lease - timedelta(seconds=1)) == 0, "still leased"
        # After the lease another worker takes it (and dies too); the first one's late answer
        # is not recorded: the row is no longer under its lease.
        taken = await lease_due(state, [EMAIL], now=now + lease, until=now + 2 * lease, batch=50)
        assert [item.id for item in taken] == [delivery_id]
        late = [Attempt(DeliveryStatus.BOUNCED, "550 late")]
        await record(state, stalled, late, lease_until=now + lease, now=now + lease)
        assert untouched(await row(session_factory, delivery_id))
        assert await deliver_due(state, now=now + 2 * lease) == 1
    delivery = await row(session_factory, delivery_id)
    assert (delivery.status, delivery.attempts, delivery.last_error) == (DeliveryStatus.SENT, 1, None)
    assert [message["To"] for message in sink.messages] == ["ana@home.test"]


async def test_each_outcome_is_recorded_once_known_so_a_worker_dying_mid_batch_resends_nothing_sent(
    session_factory: async_sessionmaker[AsyncSession],
    mail_settings: Settings,
    north: SchoolData,
    sink: SmtpSink,
) -> None:
    """The server holds one recipient's mail while the batch's other one goes through; the worker
    is stopped (a deploy) before the slow one finishes. The mail that went is SENT already, so the
    next worker sends only the other one."""
    release = threading.Event()
    accept = sink.handler.handle_RCPT

    async def slow_for_one(server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address == "slow@home.test":
            await asyncio.get_running_loop().run_in_executor(None, release.wait, 10)
        return await accept(server, session, envelope, address, options)

    sink.handler.handle_RCPT = slow_for_one  # type: ignore[method-assign]
    fast_id, slow_id = (
        await queue(session_factory, mail_settings, north, EMAIL, ["ana@home.test", "slow@home.test"])
    ).delivery_ids
    try:
        async with app_state(mail_settings) as state:
            worker = asyncio.create_task(deliver_due(state))
            for _ in range(200):
                if (await row(session_factory, fast_id)).status is DeliveryStatus.SENT:
                    break
                assert not worker.done()
                await asyncio.sleep(0.025)
            assert (await row(session_factory, fast_id)).status is DeliveryStatus.SENT, (
                "recorded while the batch still waits for the slow one"
            )
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
            release.set()
            after_lease = utcnow() + lease_length(mail_settings, 50) + timedelta(seconds=1)
            assert await deliver_due(state, now=after_lease) == 1
    finally:
        release.set()
    assert sorted(message["To"] for message in sink.messages) == ["ana@home.test", "slow@home.test"]
    for delivery in await rows(session_factory, [fast_id, slow_id]):
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 1)


async def test_a_round_leases_its_batch_and_no_more_after_a_large_announcement(
    session_factory: async_sessionmaker[AsyncSession], mail_settings: Settings, north: SchoolData
) -> None:
    """Right after many deliveries are queued (the table's statistics not yet updated), a round
    takes `batch` of them, leaving the rest to other processes and later rounds."""
    made = await queue(session_factory, mail_settings, north, EMAIL, [f"p{n}@home.test" for n in range(120)])
    async with app_state(mail_settings) as state:
        now = utcnow()
        first = await lease_due(state, [EMAIL], now=now, until=now + timedelta(minutes=5), batch=50)
        second = await lease_due(state, [EMAIL], now=now, until=now + timedelta(minutes=5), batch=50)
    assert len(first) == len(second) == 50
    assert {leased.id for leased in first}.isdisjoint(leased.id for leased in second)
    assert {leased.id for leased in first} | {leased.id for leased in second} < set(made.delivery_ids)
