"""Announcements as the API shows them: the announcement, each recipient's copy (a Communication)
and its deliveries, the recipients' feed, the authors' list and `announcementPublished`. The
mutations are in schema/announcement_drafts.py."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from models import Announcement as AnnouncementModel
from models import AnnouncementAttachment as AttachmentModel
from models import Communication as CommunicationModel
from models import Delivery as DeliveryModel

# GraphQL enums (schema/enums.py registers them).
from models.enums import (
    AnnouncementScope,
    AnnouncementStatus,
    CommunicationChannel,
    DeliveryStatus,
    NotificationCategory,
    SkipReason,
)
from resolvers.announcements import detail, feed
from resolvers.announcements.audience import Audience, describe
from resolvers.announcements.detail import SentFilter, attachment_url, require_sees_everything
from resolvers.announcements.drafts import channels_of
from resolvers.ids import encode_id
from schema.academics import Class
from schema.base import Connection, Info, Node, connection_of
from schema.enums import ReceiptStatus
from schema.students import Student
from schema.templates import MessageTemplate
from schema.users import User


@strawberry.type(description="A file sent with an announcement; `url` is signed and works for an hour.")
class AnnouncementAttachment(Node):
    filename: str
    content_type: str
    size: int
    url: str

    @classmethod
    def from_model(cls, info: Info, row: AttachmentModel) -> AnnouncementAttachment:
        return cls(
            id=strawberry.ID(encode_id("AnnouncementAttachment", row.id)),
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            url=attachment_url(info.context.settings, row),
        )


@strawberry.type(description="Whom an announcement is for; its recipients are resolved when it is sent.")
class AnnouncementAudience:
    scope: AnnouncementScope
    grade_levels: list[int] | None
    class_: Class | None = strawberry.field(name="class")
    include_students: bool
    include_guardians: bool
    include_staff: bool
    description: str = strawberry.field(description='For people: "Students and guardians of Algebra A".')


@strawberry.type(description="How many of an announcement's deliveries on a channel are in a status.")
class DeliveryCount:
    channel: CommunicationChannel
    status: DeliveryStatus
    count: int


@strawberry.type(description="One channel of one copy: where it went and how it went.")
class Delivery(Node):
    channel: CommunicationChannel
    status: DeliveryStatus
    skip_reason: SkipReason | None
    address: str | None = strawberry.field(description="The e-mail address or phone number it went to.")
    attempts: int
    last_error: str | None
    held_until: datetime | None = strawberry.field(description="The end of the recipient's quiet hours.")
    next_attempt_at: datetime | None
    provider_message_id: str | None
    translated: bool
    sent_at: datetime | None
    delivered_at: datetime | None

    @classmethod
    def from_model(cls, row: DeliveryModel) -> Delivery:
        return cls(
            id=strawberry.ID(encode_id("Delivery", row.id)),
            channel=row.channel,
            status=row.status,
            skip_reason=row.skip_reason,
            address=row.address,
            attempts=row.attempts,
            last_error=row.last_error,
            held_until=row.held_until,
            next_attempt_at=row.next_attempt_at,
            provider_message_id=row.provider_message_id,
            translated=row.translated,
            sent_at=row.sent_at,
            delivered_at=row.delivered_at,
        )


@strawberry.type(
    description="One recipient's copy of a message the school sent (an announcement, a notice, a "
    "payment reminder): rendered for them and, when it was, translated into their language."
)
class Communication(Node):
    kind: str = strawberry.field(description="announcement, notice or payment_reminder.")
    category: NotificationCategory
    title: str
    body: str
    language: str
    translated: bool
    sent_at: datetime
    read_at: datetime | None = strawberry.field(description="When its recipient read it in the app.")
    row: strawberry.Private[CommunicationModel]

    @classmethod
    def from_model(cls, row: CommunicationModel) -> Communication:
        return cls(
            id=strawberry.ID(encode_id("Communication", row.id)),
            kind=row.kind,
            category=row.category,
            title=row.title,
            body=row.body,
            language=row.language,
            translated=row.translated,
            sent_at=row.sent_at,
            read_at=row.read_at,
            row=row,
        )

    @strawberry.field
    async def recipient(self, info: Info) -> User:
        return User.from_model(await info.context.loaders.user_by_id.load_existing(self.row.recipient_id))

    @strawberry.field(description="The student a guardian's copy is about.")
    async def student(self, info: Info) -> Student | None:
        if self.row.student_id is None:
            return None
        loaders = info.context.loaders
        account = await loaders.user_by_id.load(self.row.student_id)
        profile = await loaders.student_profile_by_user_id.load(self.row.student_id)
        return Student.from_model(account, profile) if account and profile else None

    @strawberry.field(description="Who sent it; null for the platform's own notices.")
    async def sender(self, info: Info) -> User | None:
        return await User.by_id(info, self.row.sender_id)

    @strawberry.field
    async def announcement(self, info: Info) -> Announcement | None:
        if self.row.announcement_id is None:
            return None
        row = await info.context.loaders.announcements.announcement_by_id.load(self.row.announcement_id)
        return Announcement.from_model(row) if row else None

    @strawberry.field
    async def deliveries(self, info: Info) -> list[Delivery]:
        rows = await info.context.loaders.announcements.deliveries_by_communication.load(self.row.id)
        return [Delivery.from_model(row) for row in rows]


@strawberry.type
class Announcement(Node):
    title: str
    body: str
    language: str
    category: NotificationCategory
    channels: list[CommunicationChannel]
    status: AnnouncementStatus
    version: int
    created_at: datetime
    updated_at: datetime
    scheduled_at: datetime | None
    sent_at: datetime | None
    cancelled_at: datetime | None
    row: strawberry.Private[AnnouncementModel]

    @classmethod
    def from_model(cls, row: AnnouncementModel) -> Announcement:
        return cls(
            id=strawberry.ID(encode_id("Announcement", row.id)),
            title=row.title,
            body=row.body,
            language=row.language,
            category=row.category,
            channels=list(channels_of(row)),
            status=row.status,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            scheduled_at=row.scheduled_at,
            sent_at=row.sent_at,
            cancelled_at=row.cancelled_at,
            row=row,
        )

    async def _class(self, info: Info) -> Class | None:
        if self.row.class_id is None:
            return None
        klass = await info.context.loaders.class_by_id.load(self.row.class_id)
        return Class.from_model(klass) if klass else None

    @strawberry.field
    async def audience(self, info: Info) -> AnnouncementAudience:
        klass = await self._class(info)
        audience = Audience.of(self.row)
        return AnnouncementAudience(
            scope=audience.scope,
            grade_levels=list(audience.grade_levels) or None,
            class_=klass,
            include_students=audience.include_students,
            include_guardians=audience.include_guardians,
            include_staff=audience.include_staff,
            description=describe(audience, klass.title if klass else None),
        )

    @strawberry.field(name="class", description="The class it is for (scope CLASS).")
    async def class_(self, info: Info) -> Class | None:
        return await self._class(info)

    @strawberry.field(description="Null when the author's account is gone.")
    async def author(self, info: Info) -> User | None:
        return await User.by_id(info, self.row.author_id)

    @strawberry.field(description="The template it was started from (its text was copied then).")
    async def template(self, info: Info) -> MessageTemplate | None:
        if self.row.template_id is None:
            return None
        row = await info.context.loaders.announcements.template_by_id.load(self.row.template_id)
        return MessageTemplate.from_model(row) if row else None

    @strawberry.field
    async def attachments(self, info: Info) -> list[AnnouncementAttachment]:
        rows = await info.context.loaders.announcements.attachments_by_announcement.load(self.row.id)
        return [AnnouncementAttachment.from_model(info, row) for row in rows]

    @strawberry.field(
        description="Copies made when it was sent (null before). Its author, the class's teachers, "
        "staff and admins."
    )
    async def recipient_count(self, info: Info) -> int | None:
        await require_sees_everything(info.context, self.row)
        return self.row.recipient_count

    @strawberry.field(
        description="Copies read in the app. Its author, the class's teachers, staff and admins."
    )
    async def read_count(self, info: Info) -> int | None:
        await require_sees_everything(info.context, self.row)
        count: int = await info.context.loaders.announcements.read_count.load(self.row.id)
        return count

    @strawberry.field(
        description="Deliveries by channel and status. Its author, the class's teachers, staff, admins."
    )
    async def delivery_summary(self, info: Info) -> list[DeliveryCount] | None:
        await require_sees_everything(info.context, self.row)
        counts = await info.context.loaders.announcements.delivery_summary.load(self.row.id)
        return [DeliveryCount(channel=c.channel, status=c.status, count=c.count) for c in counts]

    @strawberry.field(description="The copies by recipient name, with their deliveries (as recipientCount).")
    async def recipients(
        self,
        info: Info,
        status: ReceiptStatus | None = None,
        delivery_status: DeliveryStatus | None = None,
        channel: CommunicationChannel | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Communication] | None:
        page = await detail.recipients(
            info.context,
            self.row,
            read=None if status is None else status == ReceiptStatus.READ,
            delivery_status=delivery_status,
            channel=channel,
            first=first,
            after=after,
        )
        return connection_of(page, Communication.from_model)


@strawberry.type
class AnnouncementFeed(Connection[Communication]):
    unread_count: int = strawberry.field(
        description="The caller's unread copies of the category and student asked for (however paged)."
    )


@strawberry.input
class SentAnnouncementFilter:
    status: list[AnnouncementStatus] | None = None
    class_id: strawberry.ID | None = None
    scope: list[AnnouncementScope] | None = None
    author_id: strawberry.ID | None = strawberry.field(default=None, description="Staff and admins.")


@strawberry.type
class AnnouncementQueries:
    @strawberry.field(
        description="The caller's announcement copies, newest first; studentId: a guardian's copies "
        "about one of their students."
    )
    async def announcements(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        unread_only: bool | None = None,
        category: NotificationCategory | None = None,
        student_id: strawberry.ID | None = None,
    ) -> AnnouncementFeed:
        found = await feed.feed(
            info.context,
            first=first,
            after=after,
            unread_only=bool(unread_only),
            category=category,
            student_global_id=str(student_id) if student_id is not None else None,
        )
        page = connection_of(found.page, Communication.from_model)
        return AnnouncementFeed(
            total_count=page.total_count,
            page_info=page.page_info,
            edges=page.edges,
            unread_count=found.unread_count,
        )

    @strawberry.field(
        description="Teachers: their own announcements; staff and admins: the school's. Newest first."
    )
    async def sent_announcements(
        self,
        info: Info,
        filter: SentAnnouncementFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Announcement]:
        where = SentFilter(
            statuses=filter.status if filter else None,
            class_id=str(filter.class_id) if filter and filter.class_id is not None else None,
            scopes=filter.scope if filter else None,
            author_id=str(filter.author_id) if filter and filter.author_id is not None else None,
        )
        page = await detail.sent_announcements(info.context, where, first, after)
        return connection_of(page, Announcement.from_model)

    @strawberry.field(description="An announcement the caller wrote, may see, or received.")
    async def announcement(self, info: Info, id: strawberry.ID) -> Announcement | None:
        return Announcement.from_model(await detail.get_announcement(info.context, str(id)))


@strawberry.type
class AnnouncementSubscriptions:
    @strawberry.subscription(description="The caller's new announcement copies, from any server process.")
    async def announcement_published(self, info: Info) -> AsyncGenerator[Communication, None]:
        rows = feed.announcement_events(info.context)
        async with contextlib.aclosing(rows):  # unsubscribed with the subscription, not by the collector
            async for row in rows:
                yield Communication.from_model(row)
