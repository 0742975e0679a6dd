"""Attendance at class meetings, one record per student and date."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, enum_column, utcnow
from models.enums import AttendanceStatus


class AttendanceRecord(IdMixin, Base):
    __tablename__ = "attendance_records"
    __table_args__ = (
        UniqueConstraint("class_id", "student_id", "date"),
        Index("ix_attendance_records_student_date", "student_id", "date"),
    )

    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    date: Mapped[date]
    status: Mapped[AttendanceStatus] = mapped_column(enum_column(AttendanceStatus))
    check_in_at: Mapped[datetime | None]
    check_out_at: Mapped[datetime | None]
    note: Mapped[str | None] = mapped_column(String(500))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
