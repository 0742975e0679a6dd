"""Personal calendar feeds: a signed iCalendar URL per user, rotatable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin


class CalendarFeed(CreatedMixin, Base):
    """A user's feed. Its URL carries the user and `version`, signed; rotating bumps `version`,
    so every older URL stops matching (404) while the current one stays the same until then."""

    __tablename__ = "calendar_feeds"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    rotated_at: Mapped[datetime | None]
