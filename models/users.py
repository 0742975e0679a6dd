"""Users and their role-specific profiles and relationships (guardians, mentors)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin, enum_column
from models.enums import Role, StudentStatus, Tier


class User(IdMixin, CreatedMixin, Base):
    """Anyone who signs in. `created_at` is when they joined."""

    __tablename__ = "users"
    __table_args__ = (Index("ix_users_school_role", "school_id", "role"),)

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    tier: Mapped[Tier] = mapped_column(enum_column(Tier), default=Tier.FREE)
    is_active: Mapped[bool] = mapped_column(default=True)
    password_changed_at: Mapped[datetime | None]


class StudentProfile(Base):
    """The student record of a STUDENT user; `student_number` is what the microservices know."""

    __tablename__ = "student_profiles"
    __table_args__ = (
        UniqueConstraint("school_id", "student_number"),
        Index("ix_student_profiles_school_status", "school_id", "status"),
        Index("ix_student_profiles_school_cohort", "school_id", "cohort_year"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    student_number: Mapped[str] = mapped_column(String(32))
    grade_level: Mapped[int] = mapped_column(Integer)
    cohort_year: Mapped[int] = mapped_column(Integer)
    status: Mapped[StudentStatus] = mapped_column(enum_column(StudentStatus), default=StudentStatus.ENROLLED)
    photo_key: Mapped[str | None] = mapped_column(String(200))


class TeacherProfile(Base):
    __tablename__ = "teacher_profiles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"), index=True)
    department: Mapped[str | None] = mapped_column(String(120))
    session_rate_cents: Mapped[int] = mapped_column(Integer, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="USD")


class GuardianLink(IdMixin, Base):
    """A guardian (parent) of a student."""

    __tablename__ = "guardian_links"
    __table_args__ = (UniqueConstraint("guardian_id", "student_id"),)

    guardian_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    relationship: Mapped[str] = mapped_column(String(40), default="parent")


class MentorLink(IdMixin, CreatedMixin, Base):
    """A mentor and their mentee."""

    __tablename__ = "mentor_links"
    __table_args__ = (UniqueConstraint("mentor_id", "student_id"),)

    mentor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
