"""Snapshots of each student's analytics (risk, success prediction), kept current by the writes
that change their inputs, so that search can filter, order and count by risk in SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, enum_column
from models.enums import RiskLevel


class StudentRisk(Base):
    __tablename__ = "student_risk"
    __table_args__ = (
        Index("ix_student_risk_school_score", "school_id", "risk_score"),
        Index("ix_student_risk_school_level", "school_id", "risk_level"),
    )

    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    risk_score: Mapped[float] = mapped_column(Float)
    risk_level: Mapped[RiskLevel] = mapped_column(enum_column(RiskLevel))
    # [{"factor", "weight", "detail"}], strongest first; the recommendations and key factors follow them.
    factors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    recommendations: Mapped[list[str]] = mapped_column(JSON)
    success_probability: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    key_factors: Mapped[list[str]] = mapped_column(JSON)
    computed_at: Mapped[datetime]
