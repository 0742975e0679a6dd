"""Scholarships of a term with their budgets and criteria, the students' financial-aid profiles
the criteria read, and the awards (a credit in the ledger, revoked by a reversing entry)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin, enum_column, utcnow
from models.enums import AwardStatus, HouseholdIncomeBand, ScholarshipKind
from models.money import Money


class FinancialAidProfile(Base):
    __tablename__ = "financial_aid_profiles"

    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    household_income_band: Mapped[HouseholdIncomeBand | None] = mapped_column(
        enum_column(HouseholdIncomeBand)
    )
    financial_need: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Scholarship(IdMixin, CreatedMixin, Base):
    """A fixed `amount` or a `percentage` of the student's term charges (exactly one), within
    `budget`: what active awards hold plus what remains. `criteria` holds the optional
    min_gpa, max_household_income_band, requires_financial_need, grade_levels and
    min_attendance_rate."""

    __tablename__ = "scholarships"
    __table_args__ = (Index("ix_scholarships_school", "school_id", "id"),)

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    term_id: Mapped[int] = mapped_column(ForeignKey("terms.id", ondelete="RESTRICT"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[ScholarshipKind] = mapped_column(enum_column(ScholarshipKind))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    percentage: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    budget: Mapped[Decimal] = mapped_column(Money)
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScholarshipAward(IdMixin, Base):
    """At most one ACTIVE award per scholarship and student (a partial unique index)."""

    __tablename__ = "scholarship_awards"
    __table_args__ = (
        Index(
            "uq_scholarship_awards_active",
            "scholarship_id",
            "student_id",
            unique=True,
            sqlite_where=text("status = 'ACTIVE'"),
            postgresql_where=text("status = 'ACTIVE'"),
        ),
        Index("ix_scholarship_awards_student", "student_id", "id"),
    )

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="RESTRICT"))
    scholarship_id: Mapped[int] = mapped_column(ForeignKey("scholarships.id", ondelete="RESTRICT"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[AwardStatus] = mapped_column(enum_column(AwardStatus), default=AwardStatus.ACTIVE)
    note: Mapped[str | None] = mapped_column(String(500))
    awarded_at: Mapped[datetime] = mapped_column(default=utcnow)
    awarded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    revoke_reason: Mapped[str | None] = mapped_column(String(500))
