"""Notifications as the API shows them: the caller's feed, read marks, and new ones live."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from models import Notification as NotificationModel
from resolvers import notifications
from resolvers.ids import encode_id
from schema.base import Connection, Info, Node, UserError, connection_of, user_errors


@strawberry.type
class Notification(Node):
    kind: str = strawberry.field(description="What caused it: grade_posted, message, school_message...")
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def from_model(cls, row: NotificationModel) -> Notification:
        return cls(
            id=strawberry.ID(encode_id("Notification", row.id)),
            kind=row.kind,
            title=row.title,
            body=row.body,
            created_at=row.created_at,
            read_at=row.read_at,
        )


@strawberry.type
class NotificationConnection(Connection[Notification]):
    unread_count: int = strawberry.field(description="All of the caller's unread notifications.")


@strawberry.input
class MarkNotificationsReadInput:
    ids: list[strawberry.ID] | None = None
    all: bool | None = strawberry.field(default=None, description="true: every notification of the caller.")


@strawberry.type
class MarkNotificationsReadPayload:
    unread_count: int
    user_errors: list[UserError]


@strawberry.type
class NotificationQueries:
    @strawberry.field(description="The caller's notifications, newest first.")
    async def notifications(
        self, info: Info, first: int | None = None, after: str | None = None, unread_only: bool | None = None
    ) -> NotificationConnection:
        feed = await notifications.feed(info.context, first=first, after=after, unread_only=bool(unread_only))
        page = connection_of(feed.page, Notification.from_model)
        return NotificationConnection(
            total_count=page.total_count,
            page_info=page.page_info,
            edges=page.edges,
            unread_count=feed.unread_count,
        )


@strawberry.type
class NotificationMutations:
    @strawberry.mutation(description="Marks the given notifications (or all) read; returns the unread count.")
    async def mark_notifications_read(
        self, info: Info, input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadPayload:
        ids = [str(pk) for pk in input.ids] if input.ids else None
        unread, problems = await notifications.mark_read(info.context, ids, bool(input.all))
        return MarkNotificationsReadPayload(unread_count=unread, user_errors=user_errors(problems))


@strawberry.type
class NotificationSubscriptions:
    @strawberry.subscription(description="The caller's new notifications, as they are created.")
    async def notification_added(self, info: Info) -> AsyncGenerator[Notification, None]:
        rows = notifications.notification_events(info.context)
        async with contextlib.aclosing(rows):  # unsubscribed with the subscription, not by the collector
            async for row in rows:
                yield Notification.from_model(row)
