"""The authors' side: one announcement, the announcements sent (`sentAnnouncements`), and a sent
one's recipients with their deliveries. Counts, deliveries and recipients are for its author,
the class's teachers, staff and admins (access.py); a recipient sees the rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, exists, select

from config import Settings
from errors import BadInput, Forbidden
from loaders.roster import keyset_page, text_order
from models import Announcement, AnnouncementAttachment, Communication, Delivery, User
from models.enums import (
    AnnouncementScope,
    AnnouncementStatus,
    CommunicationChannel,
    DeliveryStatus,
    Role,
)
from resolvers.announcements.access import RECEIVERS_ONLY, require_visible, sees_everything
from resolvers.attachments import URL_SECONDS
from resolvers.classes import decode_position, page_of
from resolvers.ids import decode_id_of
from resolvers.pagination import Page, newest_first, page_size
from resolvers.people import account_pk
from resolvers.policy import SCHOOL_WIDE_ROLES, require_user
from stores.media import sign_url

if TYPE_CHECKING:
    from context import Context

AUTHORS_ONLY = "Only its author, the class's teachers and the school's staff and admins see this."


@dataclass(frozen=True)
class SentFilter:
    statuses: list[AnnouncementStatus] | None = None
    class_id: str | None = None
    scopes: list[AnnouncementScope] | None = None
    author_id: str | None = None


async def get_announcement(ctx: Context, global_id: str) -> Announcement:
    row = await ctx.loaders.announcements.announcement_by_id.load(decode_id_of(global_id, "Announcement"))
    return await require_visible(ctx, row)


async def require_sees_everything(ctx: Context, announcement: Announcement) -> None:
    """For the fields a recipient does not see (null, with a FORBIDDEN error)."""
    if not await sees_everything(ctx, announcement):
        raise Forbidden(AUTHORS_ONLY)


async def sent_announcements(
    ctx: Context, where: SentFilter, first: int | None, after: str | None
) -> Page[Announcement]:
    """Teachers: their own; staff and admins: every one of the school. Newest first."""
    user = require_user(ctx)
    if user.role not in {Role.TEACHER, *SCHOOL_WIDE_ROLES}:
        raise Forbidden(RECEIVERS_ONLY)
    conditions: list[ColumnElement[bool]] = [Announcement.school_id == user.school_id]
    if user.role == Role.TEACHER:
        conditions.append(Announcement.author_id == user.id)
    if where.statuses:
        conditions.append(Announcement.status.in_(where.statuses))
    if where.scopes:
        conditions.append(Announcement.scope.in_(where.scopes))
    if where.class_id is not None:
        conditions.append(Announcement.class_id == decode_id_of(where.class_id, "Class"))
    if where.author_id is not None:
        author = account_pk(where.author_id)
        if author is None:
            raise BadInput("Not a person's id.")
        conditions.append(Announcement.author_id == author)
    limit = page_size(first, ctx.settings.max_page_size)
    async with ctx.session_factory() as session:
        page = await newest_first(
            session, select(Announcement).where(*conditions), Announcement.id, limit, after
        )
    for row in page.items:
        ctx.loaders.announcements.announcement_by_id.prime(row.id, row)
    return page


async def recipients(
    ctx: Context,
    announcement: Announcement,
    *,
    read: bool | None,
    delivery_status: DeliveryStatus | None,
    channel: CommunicationChannel | None,
    first: int | None,
    after: str | None,
) -> Page[Communication]:
    """The announcement's copies by recipient name: `read` (READ/UNREAD), and those with a
    delivery in `delivery_status` (on `channel`, when given) or on `channel`."""
    await require_sees_everything(ctx, announcement)
    conditions: list[ColumnElement[bool]] = [Communication.announcement_id == announcement.id]
    if read is not None:
        conditions.append(Communication.read_at.is_not(None) if read else Communication.read_at.is_(None))
    if delivery_status is not None or channel is not None:
        delivered = [Delivery.communication_id == Communication.id]
        if delivery_status is not None:
            delivered.append(Delivery.status == delivery_status)
        if channel is not None:
            delivered.append(Delivery.channel == channel)
        conditions.append(exists().where(*delivered))
    query = select(Communication).join(User, User.id == Communication.recipient_id).where(*conditions)
    sort = text_order(User.name, postgres=not ctx.settings.is_sqlite)
    limit = page_size(first, ctx.settings.max_page_size)
    async with ctx.session_factory() as session:
        found = await keyset_page(
            session, query, sort, Communication.id, first=limit, after=decode_position(after)
        )
    for row in found.rows:
        ctx.loaders.announcements.communication_by_id.prime(row.id, row)
    return page_of(found)


def attachment_url(settings: Settings, row: AnnouncementAttachment) -> str:
    """A signed link for an hour, as for chat files: images inline, the rest downloaded."""
    url, _ = sign_url(
        settings,
        row.storage_key,
        filename=row.filename,
        content_type=row.content_type,
        expires_in_seconds=URL_SECONDS,
        disposition="inline" if row.content_type.startswith("image/") else "attachment",
    )
    return url
