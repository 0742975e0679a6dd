"""publishAnnouncement (send now, or schedule), cancelAnnouncement, and the scheduled sends.

Sending resolves the recipients and renders (and translates) their copies first, outside any
transaction (rendering.py); then one transaction claims the announcement with a conditional
`UPDATE ... SET status = 'SENT' WHERE status = <what it was> AND version = <what was rendered>`
and makes the copies and deliveries (resolvers/copies.py). Only the transaction whose claim
changed the row goes on: so a scheduled announcement that several processes find due at once
is sent by exactly one of them, once; one changed or cancelled meanwhile is not sent as it was.
The recipients hear of their copies after commit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from context import Context
from errors import Problem, ProblemError
from models import Announcement
from models.base import utcnow
from models.enums import AnnouncementStatus, CommunicationChannel
from resolvers import audit
from resolvers.announcements.access import (
    own_announcement,
    require_manager,
    require_may_address,
    require_sender,
)
from resolvers.announcements.audience import Audience
from resolvers.announcements.drafts import EDITABLE, channels_of, forbidden_state, lost_race
from resolvers.announcements.rendering import Prepared, prepare
from resolvers.copies import MadeCopies, announce_copies, make_copies

if TYPE_CHECKING:
    from context import AppState

MAX_AHEAD = timedelta(days=365)
DUE_BATCH = 20  # due announcements looked at a round
ATTEMPTS = 3  # sends now tried again when a concurrent edit changed the announcement meanwhile
FIELD = ("input", "announcementId")


async def publish_announcement(
    ctx: Context, announcement_global_id: str, scheduled_at: datetime | None
) -> Announcement | list[Problem]:
    """A DRAFT sent now (SENT), or SCHEDULED for `scheduled_at`."""
    user = require_sender(ctx)
    for _ in range(ATTEMPTS):
        try:
            async with ctx.session_factory() as session:
                announcement = await own_announcement(session, user, announcement_global_id, FIELD)
                require_manager(user, announcement)
                if announcement.status != AnnouncementStatus.DRAFT:
                    raise ProblemError(forbidden_state(announcement, "published"))
                await require_may_address(session, user, Audience.of(announcement), announcement.category)
            _check_channels(ctx, announcement)
            if scheduled_at is not None:
                return await _schedule(ctx, announcement, scheduled_at)
            prepared = await prepare(ctx.app, announcement)
            if not prepared.copies:
                message = "Nobody is in this audience now: there is no one to send it to."
                raise ProblemError(Problem(message, "NO_RECIPIENTS", FIELD))
            if await send(ctx, prepared, AnnouncementStatus.DRAFT) is not None:
                return await _fresh(ctx, announcement.id)
            async with ctx.session_factory() as session:
                lost = await lost_race(session, announcement.id, "published")
            if lost.code != "VERSION_CONFLICT":
                raise ProblemError(lost)
        except ProblemError as refused:
            return refused.problems
    return [Problem("The announcement keeps changing: publish it again.", "VERSION_CONFLICT", FIELD)]


def _check_channels(ctx: Context, announcement: Announcement) -> None:
    configured = {
        CommunicationChannel.EMAIL: ctx.settings.email_enabled,
        CommunicationChannel.SMS: ctx.settings.sms_enabled,
    }
    missing = [channel.value for channel in channels_of(announcement) if not configured.get(channel, True)]
    if missing:
        message = f"{' and '.join(missing)} is not configured on this server."
        raise ProblemError(Problem(message, "CHANNEL_UNAVAILABLE", None))


async def _schedule(ctx: Context, announcement: Announcement, scheduled_at: datetime) -> Announcement:
    at = scheduled_at if scheduled_at.tzinfo else scheduled_at.replace(tzinfo=UTC)
    now = utcnow()
    if not now < at <= now + MAX_AHEAD:
        message = "Schedule it for a time ahead, at most a year from now."
        raise ProblemError(Problem(message, "INVALID", ("input", "scheduledAt")))
    async with ctx.writer.begin() as session:
        changed = await session.execute(
            update(Announcement)
            .where(
                Announcement.id == announcement.id,
                Announcement.status == AnnouncementStatus.DRAFT,
                Announcement.version == announcement.version,
            )
            .values(
                status=AnnouncementStatus.SCHEDULED,
                scheduled_at=at,
                version=announcement.version + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount == 0:  # type: ignore[attr-defined]
            raise ProblemError(await lost_race(session, announcement.id, "published"))
        audit.record(
            session, ctx, "announcement.scheduled", "Announcement", announcement.id,
            detail={"scheduledAt": at.isoformat()},
        )  # fmt: skip
    return await _fresh(ctx, announcement.id)


async def send(ctx: Context, prepared: Prepared, from_status: AnnouncementStatus) -> MadeCopies | None:
    """Claims the announcement (still `from_status`, at the version rendered) and makes its
    copies, in one transaction; after commit, tells the recipients. None: the claim failed
    (another process sent it, or it was changed or cancelled), and nothing was written."""
    app = ctx.app
    now = utcnow()
    async with app.writer_session_factory.begin() as session:
        claimed = (
            await session.execute(
                update(Announcement)
                .where(
                    Announcement.id == prepared.announcement_id,
                    Announcement.status == from_status,
                    Announcement.version == prepared.version,
                )
                .values(
                    status=AnnouncementStatus.SENT,
                    sent_at=now,
                    recipient_count=len(prepared.copies),
                    version=prepared.version + 1,
                    updated_at=now,
                )
                .returning(Announcement.school_id, Announcement.author_id)
                .execution_options(synchronize_session=False)
            )
        ).one_or_none()
        if claimed is None:
            return None
        made = await make_copies(session, app.settings, prepared.copies, rules=prepared.rules, now=now)
        audit.record(
            session, ctx, "announcement.sent", "Announcement", prepared.announcement_id,
            school_id=claimed.school_id,
            detail={"copies": len(made.copies), "scheduled": from_status == AnnouncementStatus.SCHEDULED},
        )  # fmt: skip
    await announce_copies(app.bus, made)
    return made


async def send_due(state: AppState, *, now: datetime | None = None, batch: int = DUE_BATCH) -> int:
    """Sends the SCHEDULED announcements whose time has come (recipients resolved now); returns
    how many this call sent. Any number of processes may call it at once: each announcement is
    sent by one of them (see the module's docstring). The worker loop calls it every few seconds."""
    due_by = now or utcnow()
    async with state.session_factory() as session:
        due = list(
            await session.scalars(
                select(Announcement)
                .where(
                    Announcement.status == AnnouncementStatus.SCHEDULED, Announcement.scheduled_at <= due_by
                )
                .order_by(Announcement.scheduled_at, Announcement.id)
                .limit(batch)
            )
        )
    ctx = Context(app=state, request=None, response=None)
    sent = 0
    for announcement in due:
        prepared = await prepare(state, announcement)
        if await send(ctx, prepared, AnnouncementStatus.SCHEDULED) is not None:
            sent += 1
    return sent


async def cancel_announcement(ctx: Context, announcement_global_id: str) -> Announcement | list[Problem]:
    """A DRAFT or SCHEDULED announcement CANCELLED: nothing of it is ever sent."""
    user = require_sender(ctx)
    try:
        async with ctx.writer.begin() as session:
            announcement = await own_announcement(session, user, announcement_global_id, FIELD)
            require_manager(user, announcement)
            now = utcnow()
            changed = await session.execute(
                update(Announcement)
                .where(Announcement.id == announcement.id, Announcement.status.in_(EDITABLE))
                .values(
                    status=AnnouncementStatus.CANCELLED,
                    cancelled_at=now,
                    version=Announcement.version + 1,
                    updated_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount == 0:  # type: ignore[attr-defined]
                now_row = await session.get_one(Announcement, announcement.id, populate_existing=True)
                raise ProblemError(forbidden_state(now_row, "cancelled"))
            audit.record(session, ctx, "announcement.cancelled", "Announcement", announcement.id)
    except ProblemError as refused:
        return refused.problems
    return await _fresh(ctx, announcement.id)


async def _fresh(ctx: Context, announcement_id: int) -> Announcement:
    async with ctx.session_factory() as session:
        return await session.get_one(Announcement, announcement_id)
