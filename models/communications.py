"""School communications: message templates, announcements and their files, each recipient's
copy (a Communication) and one Delivery per copy and channel, which is also the e-mail/SMS
outbox (leased, retried with backoff, like notification_outbox)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin, enum_column, utcnow
from models.enums import (
    AnnouncementScope,
    AnnouncementStatus,
    CommunicationChannel,
    DeliveryStatus,
    NotificationCategory,
    SkipReason,
)


class MessageTemplate(IdMixin, CreatedMixin, Base):
    """A school's reusable title and body with {{variables}}; archived ones start nothing new."""

    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("school_id", "name"),)

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[NotificationCategory] = mapped_column(enum_column(NotificationCategory))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16), default="en")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]


class Announcement(IdMixin, CreatedMixin, Base):
    """What an author writes for an audience on some channels. Its recipients are resolved when it
    is sent (`recipient_count` is then fixed); a SCHEDULED one is sent by the first process that
    moves it from SCHEDULED to SENT with a conditional UPDATE."""

    __tablename__ = "announcements"
    __table_args__ = (
        Index("ix_announcements_school_id", "school_id", "id"),
        Index("ix_announcements_due", "status", "scheduled_at"),
    )

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    template_id: Mapped[int | None] = mapped_column(ForeignKey("message_templates.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16), default="en")
    category: Mapped[NotificationCategory] = mapped_column(
        enum_column(NotificationCategory), default=NotificationCategory.ANNOUNCEMENTS
    )
    # The channels' names, e.g. ["IN_APP", "EMAIL"].
    channels: Mapped[list[str]] = mapped_column(JSON)
    scope: Mapped[AnnouncementScope] = mapped_column(enum_column(AnnouncementScope))
    grade_levels: Mapped[list[int] | None] = mapped_column(JSON)
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="SET NULL"), index=True)
    include_students: Mapped[bool] = mapped_column(Boolean, default=True)
    include_guardians: Mapped[bool] = mapped_column(Boolean, default=False)
    include_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[AnnouncementStatus] = mapped_column(
        enum_column(AnnouncementStatus), default=AnnouncementStatus.DRAFT
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    scheduled_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    recipient_count: Mapped[int | None] = mapped_column(Integer)


class AnnouncementAttachment(IdMixin, Base):
    """A file sent with an announcement, stored under an opaque key (stores/media.py)."""

    __tablename__ = "announcement_attachments"

    announcement_id: Mapped[int] = mapped_column(
        ForeignKey("announcements.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int] = mapped_column(BigInteger)
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    sha256: Mapped[str] = mapped_column(String(64))


class Communication(IdMixin, Base):
    """One recipient's copy of a message the school sent: an announcement (`kind` "announcement"),
    a platform notice ("notice") or a payment reminder ("payment_reminder"), rendered and perhaps
    translated for them; `student_id` says which ward a guardian's copy is about. Its in-app copy
    is also a notification (`notification_id`); reading one reads the other."""

    __tablename__ = "communications"
    __table_args__ = (
        Index("ix_communications_recipient_id", "recipient_id", "id"),
        Index("ix_communications_announcement_id", "announcement_id", "id"),
        Index("ix_communications_school_sent", "school_id", "sent_at"),
        Index("ix_communications_student_id", "student_id"),
    )

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    student_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"))
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(40))
    category: Mapped[NotificationCategory] = mapped_column(enum_column(NotificationCategory))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    translated: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class Delivery(IdMixin, Base):
    """One channel of one copy, and the e-mail/SMS outbox row: QUEUED rows whose
    `next_attempt_at` has come are leased (moved ahead) and sent; `held_until` is the end of the
    recipient's quiet hours when it waits for them. IN_APP deliveries are made SENT at once."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("communication_id", "channel"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_provider_message_id", "provider_message_id"),
    )

    communication_id: Mapped[int] = mapped_column(ForeignKey("communications.id", ondelete="CASCADE"))
    channel: Mapped[CommunicationChannel] = mapped_column(enum_column(CommunicationChannel))
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus), default=DeliveryStatus.QUEUED)
    skip_reason: Mapped[SkipReason | None] = mapped_column(enum_column(SkipReason))
    address: Mapped[str | None] = mapped_column(String(320))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    held_until: Mapped[datetime | None]
    next_attempt_at: Mapped[datetime | None]
    provider_message_id: Mapped[str | None] = mapped_column(String(120))
    translated: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
