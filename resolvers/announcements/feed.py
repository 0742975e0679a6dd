"""The recipients' side: the caller's copies (`announcements`), marking them read (with their
in-app notifications), and new copies live from every process (`announcementPublished`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, func, select, update

from errors import BadInput, Forbidden, Problem
from models import Communication, Notification
from models.base import utcnow
from models.enums import NotificationCategory
from resolvers import audit
from resolvers.pagination import Page, newest_first, page_size
from resolvers.people import account_pk
from resolvers.policy import NOT_VISIBLE, require_user
from resolvers.roster_rules import decode_or_none, not_found
from subscriptions.channels import user_announcements_channel
from subscriptions.events import AnnouncementPublished

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from context import Context


@dataclass
class Feed:
    page: Page[Communication]
    unread_count: int


async def feed(
    ctx: Context,
    *,
    first: int | None,
    after: str | None,
    unread_only: bool,
    category: NotificationCategory | None,
    student_global_id: str | None,
) -> Feed:
    """The caller's copies, newest first; `unread_count` counts the unread ones of the same
    category and student, however they are paged."""
    user = require_user(ctx)
    conditions: list[ColumnElement[bool]] = [Communication.recipient_id == user.id]
    if category is not None:
        conditions.append(Communication.category == category)
    if student_global_id is not None:
        student_id = account_pk(student_global_id)
        if student_id is None:
            raise BadInput("Not a student id.")
        if student_id not in await ctx.loaders.student_ids_by_guardian.load(user.id):
            raise Forbidden(NOT_VISIBLE)
        conditions.append(Communication.student_id == student_id)
    query = select(Communication).where(*conditions)
    if unread_only:
        query = query.where(Communication.read_at.is_(None))
    limit = page_size(first, ctx.settings.max_page_size)
    async with ctx.session_factory() as session:
        page = await newest_first(session, query, Communication.id, limit, after)
        unread = await _unread(session, conditions)
    for row in page.items:
        ctx.loaders.announcements.communication_by_id.prime(row.id, row)
    return Feed(page, unread)


async def _unread(session: AsyncSession, conditions: list[ColumnElement[bool]]) -> int:
    query = (
        select(func.count()).select_from(Communication).where(*conditions, Communication.read_at.is_(None))
    )
    return await session.scalar(query) or 0


async def mark_read(ctx: Context, ids: list[str] | None, mark_all: bool) -> tuple[int, list[Problem]]:
    """Marks some (`ids`) or all of the caller's copies read, and their in-app notifications;
    returns the caller's unread copies left. An id that is not one of the caller's copies is
    NOT_FOUND, and then nothing changes."""
    user = require_user(ctx)
    mine = [Communication.recipient_id == user.id]
    if not mark_all and not ids:
        return 0, [Problem("Give the ids to mark read, or all: true.", "INVALID", ("input", "ids"))]
    if ids and len(ids) > ctx.settings.max_page_size:
        raise BadInput(f"At most {ctx.settings.max_page_size} ids at once.")
    wanted = [decode_or_none(global_id, "Communication") for global_id in ids or []]
    now = utcnow()
    async with ctx.writer.begin() as session:
        target = [*mine, Communication.read_at.is_(None)]
        if not mark_all:
            pks = [pk for pk in wanted if pk is not None]
            owned = set(
                await session.scalars(select(Communication.id).where(*mine, Communication.id.in_(pks)))
            )
            problems = [
                not_found(("input", "ids", index), "announcement copy")
                for index, pk in enumerate(wanted)
                if pk not in owned
            ]
            if problems:
                return await _unread(session, mine), problems
            target.append(Communication.id.in_(owned))
        notification_ids = select(Communication.notification_id).where(
            *target, Communication.notification_id.is_not(None)
        )
        await session.execute(
            update(Notification)
            .where(Notification.id.in_(notification_ids.scalar_subquery()), Notification.read_at.is_(None))
            .values(read_at=now)
            .execution_options(synchronize_session=False)
        )
        marked = await session.execute(
            update(Communication)
            .where(*target)
            .values(read_at=now)
            .execution_options(synchronize_session=False)
        )
        audit.record(
            session, ctx, "announcements.read", "User", user.id,
            detail={"all": mark_all, "marked": marked.rowcount},  # type: ignore[attr-defined]
        )  # fmt: skip
        return await _unread(session, mine), []


async def announcement_events(ctx: Context) -> AsyncGenerator[Communication, None]:
    """The caller's new copies, from every process, each read fresh from the database."""
    user = require_user(ctx)
    async with ctx.bus.subscribe(user_announcements_channel(user.id), AnnouncementPublished) as events:
        async for event in events:
            copy = await ctx.fresh_loaders().announcements.communication_by_id.load(event.communication_id)
            if copy is not None and copy.recipient_id == user.id:
                yield copy
