"""Schools (the tenant boundary), their terms and the terms' grading periods."""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin, enum_column
from models.enums import TermStatus

# Percentage floor → (letter, grade points). A school may store its own scale.
DEFAULT_GRADING_SCALE: list[dict[str, Any]] = [
    {"min": 93.0, "letter": "A", "points": 4.0},
    {"min": 90.0, "letter": "A-", "points": 3.7},
    {"min": 87.0, "letter": "B+", "points": 3.3},
    {"min": 83.0, "letter": "B", "points": 3.0},
    {"min": 80.0, "letter": "B-", "points": 2.7},
    {"min": 77.0, "letter": "C+", "points": 2.3},
    {"min": 73.0, "letter": "C", "points": 2.0},
    {"min": 70.0, "letter": "C-", "points": 1.7},
    {"min": 67.0, "letter": "D+", "points": 1.3},
    {"min": 60.0, "letter": "D", "points": 1.0},
    {"min": 0.0, "letter": "F", "points": 0.0},
]


class School(IdMixin, CreatedMixin, Base):
    __tablename__ = "schools"

    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    invitation_code: Mapped[str | None] = mapped_column(String(80), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # ISO 4217; every amount the school bills, receives or awards is in it.
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    grading_scale: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=lambda: copy.deepcopy(DEFAULT_GRADING_SCALE)
    )


class Term(IdMixin, Base):
    """A term of the school. Closing it freezes its classes' final grades (`closeTerm`)."""

    __tablename__ = "terms"
    __table_args__ = (UniqueConstraint("school_id", "name"), UniqueConstraint("school_id", "sourced_id"))

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    status: Mapped[TermStatus] = mapped_column(enum_column(TermStatus), default=TermStatus.OPEN)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The id of the row in a OneRoster exchange (academicSessions.csv).
    sourced_id: Mapped[str | None] = mapped_column(String(255))


class GradingPeriod(IdMixin, Base):
    """A part of a term (a quarter, a marking period): inside the term, not overlapping its others."""

    __tablename__ = "grading_periods"
    __table_args__ = (UniqueConstraint("school_id", "sourced_id"),)

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    term_id: Mapped[int] = mapped_column(ForeignKey("terms.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    sourced_id: Mapped[str | None] = mapped_column(String(255))
