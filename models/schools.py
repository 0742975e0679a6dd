"""Schools (the tenant boundary) and their terms."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin

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
    grading_scale: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, default=lambda: copy.deepcopy(DEFAULT_GRADING_SCALE)
    )


class Term(IdMixin, Base):
    __tablename__ = "terms"
    __table_args__ = (UniqueConstraint("school_id", "name"),)

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    starts_on: Mapped[date]
    ends_on: Mapped[date]
