"""The e-mail/SMS outbox: the QUEUED EMAIL and SMS deliveries whose `next_attempt_at` has come are
sent, by every server process and `server.py worker` (worker.py's "deliveries" loop), at least
once and never twice per delivery.

Leasing. One conditional UPDATE moves the due rows' `next_attempt_at` to the end of a lease
(`lease_length`: longer than the batch can take to send) and returns them; on PostgreSQL the
rows it picks are locked with SKIP LOCKED, and a row another process leased meanwhile no longer
matches `next_attempt_at <= now`, so two processes never take the same row; on SQLite the write
transaction is the lock. No transaction stays open while sending. Each outcome is recorded as
soon as its send is done, not at the end of the batch, and only if the row still holds this
lease (`next_attempt_at` = its end): a worker that died or stalled past its lease has lost the row
to the next, and its late answer changes nothing. A worker that dies (or is stopped) mid-batch
leaves only the rows it had not recorded to be sent again once the lease is over; and an SMS
provider's status report can only come before its message id is recorded in the moment between
the provider's answer and that write, not while the rest of the batch is sent.

Outcomes (`attempts` counts every try):
- sent → SENT (`sent_at`; for SMS the provider's message id, which its status callbacks name);
- e-mail refused with a 5xx for the recipient → BOUNCED; SMS refused with a 4xx other than 429 →
  FAILED; neither is tried again;
- anything else (an SMTP 4xx, 429 or 5xx from the SMS API, no answer, an attachment that cannot
  be read) → tried again `delivery_first_retry_seconds * 2**(attempts - 1)` later, with
  `last_error`; the fifth failed try → FAILED, `last_error` kept.

A channel that is not configured in this process (no SMTP_HOST; no SMS sid, token and sender)
is not taken at all: its rows stay QUEUED, their tries untouched, for a process where it is
configured, or for this one once it is again. publishAnnouncement refuses such a channel
(CHANNEL_UNAVAILABLE), so only a configuration changed after publishing, or processes configured
differently, leave rows waiting; failing them would lose messages over a deployment mistake.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from config import Settings
from models import AnnouncementAttachment, Communication, Delivery
from models.base import utcnow
from models.enums import CommunicationChannel, DeliveryStatus
from resolvers.delivery.email import UnreadableAttachment, email_for, read_attachments
from resolvers.delivery.sms import sms_for
from services.email import EmailAttachment, EmailOutcome
from services.sms import SmsClient, SmsOutcome
from stores.media import MediaStore

if TYPE_CHECKING:
    from context import AppState

SEND_BATCH = 50  # deliveries leased at a time
PARALLEL_SENDS = 10  # of which this many are being sent at once
MAX_TRIES = 5
LEASE_MARGIN = timedelta(minutes=1)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Leased:
    """A delivery this process holds until the lease ends, as it was when leased."""

    id: int
    channel: CommunicationChannel
    address: str | None
    attempts: int
    communication_id: int


@dataclass(frozen=True)
class Attempt:
    """What one try came to: `status` SENT, BOUNCED or FAILED, or None for "try again later"."""

    status: DeliveryStatus | None
    error: str | None = None
    provider_message_id: str | None = None


def retry_delay(settings: Settings, attempts: int) -> timedelta:
    """After the `attempts`-th failed try: the first retry delay, doubling with each try."""
    return timedelta(seconds=settings.delivery_first_retry_seconds * 2 ** (attempts - 1))


def send_deadline(settings: Settings) -> float:
    """The longest one send may take, in seconds; an SMTP exchange is several timed steps."""
    return 3 * max(settings.smtp_timeout_seconds, settings.sms_timeout_seconds)


def lease_length(settings: Settings, batch: int) -> timedelta:
    """Longer than `batch` sends take, PARALLEL_SENDS at a time, each at most `send_deadline`."""
    rounds = -(-batch // PARALLEL_SENDS)
    return timedelta(seconds=rounds * send_deadline(settings)) + LEASE_MARGIN


def configured_channels(state: AppState) -> list[CommunicationChannel]:
    channels = []
    if state.mailer.enabled:
        channels.append(CommunicationChannel.EMAIL)
    if state.settings.sms_enabled:
        channels.append(CommunicationChannel.SMS)
    return channels


async def deliver_due(state: AppState, *, batch: int = SEND_BATCH, now: datetime | None = None) -> int:
    """Leases up to `batch` due deliveries of the configured channels, sends them, records each
    outcome; returns how many it tried (a full `batch`: more may be due). `now` is for tests."""
    channels = configured_channels(state)
    if not channels:
        return 0
    now = now or utcnow()
    lease_until = now + lease_length(state.settings, batch)
    leased = await lease_due(state, channels, now=now, until=lease_until, batch=batch)
    if not leased:
        return 0

    async def recorded(item: Leased, attempt: Attempt) -> None:
        await record(state, [item], [attempt], lease_until=lease_until, now=now)

    await send_all(state, leased, then=recorded)
    return len(leased)


async def lease_due(
    state: AppState,
    channels: Sequence[CommunicationChannel],
    *,
    now: datetime,
    until: datetime,
    batch: int,
) -> list[Leased]:
    """The due QUEUED deliveries of `channels` (oldest due first), now this process's until `until`."""
    due = (
        select(Delivery.id)
        .where(
            Delivery.status == DeliveryStatus.QUEUED,
            Delivery.channel.in_(channels),
            Delivery.next_attempt_at <= now,
        )
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(batch)
    )
    # Most rounds find nothing: a plain read says so without a write transaction (on SQLite, the
    # database's one write lock, taken every second by every process otherwise).
    async with state.session_factory() as session:
        if await session.scalar(due.limit(1)) is None:
            return []
    if not state.settings.is_sqlite:
        due = due.with_for_update(skip_locked=True)
    # A CTE, not `IN (subquery)`: PostgreSQL may run such a subquery once per candidate row, so its
    # LIMIT held for none of them and one round leased every due row (seen after a large
    # announcement, before the table's statistics caught up); a CTE that locks rows is computed once.
    chosen = due.cte("chosen")
    take = (
        update(Delivery)
        .where(
            Delivery.id.in_(select(chosen.c.id)),
            Delivery.status == DeliveryStatus.QUEUED,
            Delivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=until)
        .returning(
            Delivery.id, Delivery.channel, Delivery.address, Delivery.attempts, Delivery.communication_id
        )
        .execution_options(synchronize_session=False)
    )
    async with state.writer_session_factory.begin() as session:
        rows = (await session.execute(take)).all()
    return sorted((Leased(*row) for row in rows), key=lambda leased: leased.id)


async def send_all(
    state: AppState,
    leased: Sequence[Leased],
    *,
    then: Callable[[Leased, Attempt], Awaitable[None]] | None = None,
) -> list[Attempt]:
    """Each delivery sent, PARALLEL_SENDS at a time, each within `send_deadline`, and `then` awaited
    with its Attempt as soon as it is known: the Attempts, in order."""
    copies, files = await _copies(state, leased)
    attachments = await _read_files(MediaStore(state.settings.media_dir), files)
    sms = SmsClient(state.settings, state.http)
    deadline = send_deadline(state.settings)
    limit = asyncio.Semaphore(PARALLEL_SENDS)

    async def send(item: Leased) -> Attempt:
        copy = copies[item.communication_id]
        if not item.address:
            return Attempt(DeliveryStatus.FAILED, "no address")
        if item.channel is CommunicationChannel.SMS:
            answer = await sms.send(sms_for(state.settings, item.address, copy))
            return Attempt(SMS_STATUS[answer.outcome], answer.error, answer.message_id)
        attached = attachments.get(copy.announcement_id, []) if copy.announcement_id else []
        if isinstance(attached, UnreadableAttachment):
            return Attempt(None, str(attached))
        result = await state.mailer.send(email_for(item.id, item.address, copy, attached))
        return Attempt(EMAIL_STATUS[result.outcome], result.error)

    async def bounded(item: Leased) -> Attempt:
        async with limit:
            try:
                attempt = await asyncio.wait_for(send(item), deadline)
            except TimeoutError:
                attempt = Attempt(None, f"no answer within {deadline:g} seconds")
            except Exception as error:  # one broken message must not keep the batch from being recorded
                log.exception("delivery %d could not be sent", item.id)
                attempt = Attempt(None, f"internal error: {type(error).__name__}")
            if then is not None:
                await then(item, attempt)
            return attempt

    return list(await asyncio.gather(*(bounded(item) for item in leased)))


EMAIL_STATUS: dict[EmailOutcome, DeliveryStatus | None] = {
    EmailOutcome.SENT: DeliveryStatus.SENT,
    EmailOutcome.BOUNCED: DeliveryStatus.BOUNCED,
    EmailOutcome.RETRY: None,
}
SMS_STATUS: dict[SmsOutcome, DeliveryStatus | None] = {
    SmsOutcome.SENT: DeliveryStatus.SENT,
    SmsOutcome.FAILED: DeliveryStatus.FAILED,
    SmsOutcome.RETRY: None,
}


async def _copies(
    state: AppState, leased: Sequence[Leased]
) -> tuple[dict[int, Communication], dict[int, list[AnnouncementAttachment]]]:
    """The leased deliveries' copies by id, and the files of the announcements their e-mails carry."""
    async with state.session_factory() as session:
        ids = {item.communication_id for item in leased}
        found = await session.scalars(select(Communication).where(Communication.id.in_(ids)))
        copies = {copy.id: copy for copy in found}
        mailed = {
            copy.announcement_id
            for item in leased
            if item.channel is CommunicationChannel.EMAIL
            and (copy := copies.get(item.communication_id)) is not None
            and copy.announcement_id is not None
        }
        files: defaultdict[int, list[AnnouncementAttachment]] = defaultdict(list)
        if mailed:
            query = (
                select(AnnouncementAttachment)
                .where(AnnouncementAttachment.announcement_id.in_(mailed))
                .order_by(AnnouncementAttachment.id)
            )
            for file in await session.scalars(query):
                files[file.announcement_id].append(file)
    return copies, files


async def _read_files(
    store: MediaStore, files: dict[int, list[AnnouncementAttachment]]
) -> dict[int, list[EmailAttachment] | UnreadableAttachment]:
    """Each announcement's files read once for all its e-mails of the batch."""
    read: dict[int, list[EmailAttachment] | UnreadableAttachment] = {}
    for announcement_id, rows in files.items():
        try:
            read[announcement_id] = await read_attachments(store, rows)
        except UnreadableAttachment as unreadable:
            log.warning("announcement %d: %s", announcement_id, unreadable)
            read[announcement_id] = unreadable
    return read


async def record(
    state: AppState,
    leased: Sequence[Leased],
    attempts: Sequence[Attempt],
    *,
    lease_until: datetime,
    now: datetime,
) -> None:
    """Each outcome, on the rows this lease still holds (one lost to another worker is left as is)."""
    async with state.writer_session_factory.begin() as session:
        for item, attempt in zip(leased, attempts, strict=True):
            values = _outcome(state.settings, item.attempts + 1, attempt, now)
            kept = await session.scalar(
                update(Delivery)
                .where(
                    Delivery.id == item.id,
                    Delivery.status == DeliveryStatus.QUEUED,
                    Delivery.next_attempt_at == lease_until,
                )
                .values(**values)
                .returning(Delivery.id)
                .execution_options(synchronize_session=False)
            )
            if kept is None:
                log.warning("delivery %d: lease lost before its outcome was recorded", item.id)


def _outcome(settings: Settings, tries: int, attempt: Attempt, now: datetime) -> dict[str, object]:
    values: dict[str, object] = {"attempts": tries, "next_attempt_at": None}
    if attempt.status is DeliveryStatus.SENT:
        return values | {
            "status": DeliveryStatus.SENT,
            "sent_at": utcnow(),
            "provider_message_id": attempt.provider_message_id,
        }
    values["last_error"] = (attempt.error or "failed")[:500]
    if attempt.status is not None:
        return values | {"status": attempt.status}
    if tries >= MAX_TRIES:
        return values | {"status": DeliveryStatus.FAILED}
    return values | {"next_attempt_at": now + retry_delay(settings, tries)}
