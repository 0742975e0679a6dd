"""Each user's notification preferences: language, time zone, phone, quiet hours, and the
(category, channel) switches they changed (a switch without a row has its default)."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import Boolean, ForeignKey, String, Time
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, enum_column, utcnow
from models.enums import CommunicationChannel, NotificationCategory


class NotificationSettings(Base):
    """One row per user who changed anything; none means the defaults (the school's language and
    time zone, no phone, no quiet hours). Quiet hours may wrap midnight (22:00-07:00)."""

    __tablename__ = "notification_settings"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    language: Mapped[str | None] = mapped_column(String(16))
    time_zone: Mapped[str | None] = mapped_column(String(64))
    phone_number: Mapped[str | None] = mapped_column(String(20))
    quiet_hours_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    quiet_start: Mapped[time | None] = mapped_column(Time)
    quiet_end: Mapped[time | None] = mapped_column(Time)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class NotificationSwitch(Base):
    """A (category, channel) switch a user set; the others keep their defaults."""

    __tablename__ = "notification_switches"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[NotificationCategory] = mapped_column(
        enum_column(NotificationCategory), primary_key=True
    )
    channel: Mapped[CommunicationChannel] = mapped_column(enum_column(CommunicationChannel), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
