"""Notifications: the one place they are created, the caller's feed, and their delivery to the
Notifications service (services.md) through an outbox.

`add_notifications` writes the rows in the caller's transaction and, when the service is on,
an outbox row for each in the same transaction: a notification that commits is delivered at
least once, one that rolls back never is. Callers publish NotificationAdded on the user's
notifications channel after commit (`announce`). Each notice has a category (NotificationCategory):
a user who turned IN_APP off for it gets none (resolvers/delivery_rules.py; SAFETY is never off).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import ColumnElement, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from config import Settings
from errors import BadInput, Problem
from models import Communication, Notification, NotificationOutbox
from models.base import utcnow
from models.enums import NotificationCategory
from resolvers.delivery_rules import muted_in_app
from resolvers.ids import decode_id_of, encode_id
from resolvers.pagination import Page, newest_first, page_size
from resolvers.policy import require_user
from services.clients import ServiceCallError, ServiceClients
from subscriptions.channels import user_notifications_channel
from subscriptions.events import NotificationAdded

if TYPE_CHECKING:
    from context import AppState, Context

# How long a worker owns the rows it took; one that dies meanwhile leaves them to the next.
LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY = timedelta(hours=6)
PARALLEL_DELIVERIES = 10
DELIVERY_BATCH = 100

log = logging.getLogger(__name__)


class NewNotification(NamedTuple):
    user_id: int
    kind: str
    title: str
    body: str


async def add_each(
    session: AsyncSession,
    settings: Settings,
    notes: list[NewNotification],
    *,
    category: NotificationCategory | None,
) -> list[int | None]:
    """The notifications, in the caller's transaction, in one statement (and one more to read the
    switches): their ids, in order; None for a note whose user turned IN_APP off for `category`
    (it is not made). `category` None: the caller has applied the users' switches itself.

    Ids are matched to notes by content rather than by asking for RETURNING in parameter order,
    which SQLAlchemy can only do on SQLite one row per statement; equal notes are
    interchangeable, so which of their ids each gets does not matter."""
    if not notes:
        return []
    muted = set() if category is None else await muted_in_app(session, {n.user_id for n in notes}, category)
    kept = [note for note in notes if note.user_id not in muted]
    if not kept:
        return [None] * len(notes)
    created_at = utcnow()
    inserted = await session.execute(
        insert(Notification).returning(
            Notification.id, Notification.user_id, Notification.kind, Notification.title, Notification.body
        ),
        [note._asdict() | {"created_at": created_at} for note in kept],
    )
    ids_of: defaultdict[NewNotification, list[int]] = defaultdict(list)
    for notification_id, user_id, kind, title, body in inserted:
        ids_of[NewNotification(user_id, kind, title, body)].append(notification_id)
    ids = [None if note.user_id in muted else ids_of[note].pop() for note in notes]
    if settings.services["notifications"].enabled:
        await session.execute(
            insert(NotificationOutbox),
            [
                {"notification_id": notification_id, "next_attempt_at": created_at}
                for notification_id in ids
                if notification_id is not None
            ],
        )
    return ids


async def add_notifications(
    session: AsyncSession,
    settings: Settings,
    user_ids: Iterable[int],
    kind: str,
    title: str,
    body: str,
    *,
    category: NotificationCategory,
) -> dict[int, int]:
    """The same notification for each user who has IN_APP on for `category`: {user id: notification id}."""
    users = list(dict.fromkeys(user_ids))
    notes = [NewNotification(user_id, kind, title, body) for user_id in users]
    ids = await add_each(session, settings, notes, category=category)
    return {
        user_id: notification_id
        for user_id, notification_id in zip(users, ids, strict=True)
        if notification_id is not None
    }


async def announce(ctx: Context, notified: dict[int, int]) -> None:
    """After commit: each user's feed hears of their new notification."""
    for user_id, notification_id in notified.items():
        await ctx.bus.publish(
            user_notifications_channel(user_id), NotificationAdded(notification_id=notification_id)
        )


@dataclass
class NotificationFeed:
    page: Page[Notification]
    unread_count: int


def _mine(user_id: int, *, unread_only: bool = False) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [Notification.user_id == user_id]
    if unread_only:
        conditions.append(Notification.read_at.is_(None))
    return conditions


async def feed(ctx: Context, *, first: int | None, after: str | None, unread_only: bool) -> NotificationFeed:
    """The caller's notifications, newest first."""
    user = require_user(ctx)
    limit = page_size(first, ctx.settings.max_page_size)
    query = select(Notification).where(*_mine(user.id, unread_only=unread_only))
    async with ctx.session_factory() as session:
        page = await newest_first(session, query, Notification.id, limit, after)
        unread = await _unread_count(session, user.id)
    return NotificationFeed(page, unread)


async def _unread_count(session: AsyncSession, user_id: int) -> int:
    query = select(func.count()).select_from(Notification).where(*_mine(user_id, unread_only=True))
    return (await session.scalar(query)) or 0


async def mark_read(ctx: Context, ids: list[str] | None, mark_all: bool) -> tuple[int, list[Problem]]:
    """Marks some (`ids`) or all of the caller's notifications read; returns the unread count left.
    Ids that are not the caller's notifications are reported and change nothing."""
    user = require_user(ctx)
    if not mark_all and not ids:
        return 0, [Problem("Give the ids to mark read, or all: true.", "INVALID", ("input", "ids"))]
    wanted: dict[int, int] = {}
    problems: list[Problem] = []
    for index, global_id in enumerate(ids or []):
        try:
            wanted[decode_id_of(global_id, "Notification")] = index
        except BadInput:
            problems.append(Problem("Not a notification id.", "INVALID", ("input", "ids", str(index))))
    now = utcnow()
    async with ctx.writer.begin() as session:
        target = update(Notification).where(*_mine(user.id, unread_only=True))
        if not mark_all:
            owned = set(
                (
                    await session.scalars(
                        select(Notification.id).where(
                            Notification.user_id == user.id, Notification.id.in_(wanted)
                        )
                    )
                ).all()
            )
            problems += [
                Problem("No such notification.", "NOT_FOUND", ("input", "ids", str(index)))
                for pk, index in wanted.items()
                if pk not in owned
            ]
            target = target.where(Notification.id.in_(owned))
        marked = (
            await session.scalars(
                target.values(read_at=now)
                .returning(Notification.id)
                .execution_options(synchronize_session=False)
            )
        ).all()
        if marked:  # an announcement's in-app copy is read with its notification
            await session.execute(
                update(Communication)
                .where(Communication.notification_id.in_(marked), Communication.read_at.is_(None))
                .values(read_at=now)
                .execution_options(synchronize_session=False)
            )
        unread = await _unread_count(session, user.id)
    return unread, sorted(problems, key=lambda p: int(p.field[-1]) if p.field else 0)


async def notification_events(ctx: Context) -> AsyncGenerator[Notification, None]:
    """The caller's new notifications, from every process, each read fresh from the database."""
    user = require_user(ctx)
    async with ctx.bus.subscribe(user_notifications_channel(user.id), NotificationAdded) as events:
        async for event in events:
            notification = await ctx.fresh_loaders().chat.notification_by_id.load(event.notification_id)
            if notification is not None and notification.user_id == user.id:
                yield notification


# --- Delivery to the Notifications service -------------------------------------------------------


def delivery_payload(notification: Notification) -> dict[str, str]:
    """services.md's body. `id` is stable across retries, so the service can drop duplicates."""
    return {
        "id": encode_id("Notification", notification.id),
        "userId": encode_id("User", notification.user_id),
        "kind": notification.kind,
        "title": notification.title,
        "body": notification.body,
        "createdAt": notification.created_at.isoformat(),
    }


def retry_delay(attempts: int) -> timedelta:
    """30 s after the first failure, doubling each time, at most six hours."""
    delay: timedelta = FIRST_RETRY * 2 ** (attempts - 1)
    return min(delay, MAX_RETRY)


async def deliver_pending(
    app_state: AppState, clients: ServiceClients, *, batch: int = DELIVERY_BATCH, now: datetime | None = None
) -> int:
    """Hands due outbox rows to the Notifications service; returns how many it accepted.

    Rows are first leased (their next attempt moved `LEASE` ahead) in a short transaction
    (with FOR UPDATE SKIP LOCKED on PostgreSQL), so that concurrent workers never send the same
    row and no transaction stays open during the calls; then sent, then marked delivered or
    given their next attempt with an exponential backoff. A worker that dies mid-batch leaves
    its rows to be sent again after the lease: delivery is at least once, never lost.
    A worker loop calls it again at once while it returns `batch`, and otherwise waits a second:

        while True:
            if await deliver_pending(state, state.services) < 100:
                await asyncio.sleep(1)

    `now` is for tests. With the service off, it does nothing (rows wait until it is on).
    """
    if not clients.enabled("notifications"):
        return 0
    now = now or utcnow()
    due = await _lease(app_state, batch, now)
    if not due:
        return 0
    limit = asyncio.Semaphore(PARALLEL_DELIVERIES)

    async def send(notification: Notification) -> str | None:
        async with limit:
            try:
                await clients.deliver_notification(delivery_payload(notification))
            except ServiceCallError as error:
                return str(error)[:500]
        return None

    failures = await asyncio.gather(*(send(notification) for _, notification in due))
    async with app_state.writer_session_factory.begin() as session:
        for (outbox, _), failure in zip(due, failures, strict=True):
            values: dict[str, object] = {"delivered_at": utcnow()}
            if failure is not None:
                attempts = outbox.attempts + 1
                values = {
                    "attempts": attempts,
                    "next_attempt_at": now + retry_delay(attempts),
                    "last_error": failure,
                }
            await session.execute(
                update(NotificationOutbox).where(NotificationOutbox.id == outbox.id).values(**values)
            )
    return failures.count(None)


async def _lease(
    app_state: AppState, batch: int, now: datetime
) -> list[tuple[NotificationOutbox, Notification]]:
    query = (
        select(NotificationOutbox, Notification)
        .join(Notification, Notification.id == NotificationOutbox.notification_id)
        .where(NotificationOutbox.delivered_at.is_(None), NotificationOutbox.next_attempt_at <= now)
        .order_by(NotificationOutbox.next_attempt_at, NotificationOutbox.id)
        .limit(batch)
    )
    if not app_state.settings.is_sqlite:
        query = query.with_for_update(skip_locked=True, of=NotificationOutbox)
    async with app_state.writer_session_factory.begin() as session:
        due = [(outbox, notification) for outbox, notification in (await session.execute(query)).all()]
        if due:
            await session.execute(
                update(NotificationOutbox)
                .where(NotificationOutbox.id.in_([outbox.id for outbox, _ in due]))
                .values(next_attempt_at=now + LEASE)
            )
    return due
