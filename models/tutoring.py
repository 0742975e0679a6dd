"""Tutoring and lesson sessions between a teacher and a student, and what they earn."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, enum_column
from models.enums import SessionStatus


class TutoringSession(IdMixin, Base):
    """A booked session. Money is integer cents in `currency`."""

    __tablename__ = "tutoring_sessions"
    __table_args__ = (
        Index("ix_tutoring_sessions_teacher_starts", "teacher_id", "starts_at"),
        Index("ix_tutoring_sessions_student_starts", "student_id", "starts_at"),
        Index("ix_tutoring_sessions_school_starts", "school_id", "starts_at"),
    )

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    teacher_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="SET NULL"))
    room: Mapped[str | None] = mapped_column(String(40))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    status: Mapped[SessionStatus] = mapped_column(enum_column(SessionStatus), default=SessionStatus.SCHEDULED)
    attended: Mapped[bool | None]
    notes: Mapped[str | None] = mapped_column(Text)
    topics_covered: Mapped[list[str]] = mapped_column(JSON, default=list)
    completed_at: Mapped[datetime | None]
    rate_cents: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    paid_out_at: Mapped[datetime | None]
