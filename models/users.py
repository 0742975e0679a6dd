"""Users and their role-specific profiles and relationships (guardians, mentors)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedMixin, IdMixin, enum_column, utcnow
from models.enums import Role, StudentStatus, Tier, UserStatus


class User(IdMixin, CreatedMixin, Base):
    """Anyone who signs in. `created_at` is when they joined; an INVITED account has no password."""

    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_school_role", "school_id", "role"),
        UniqueConstraint("school_id", "sourced_id"),
    )

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    tier: Mapped[Tier] = mapped_column(enum_column(Tier), default=Tier.FREE)
    status: Mapped[UserStatus] = mapped_column(enum_column(UserStatus), default=UserStatus.ACTIVE)
    password_changed_at: Mapped[datetime | None]
    deactivated_at: Mapped[datetime | None]
    last_sign_in_at: Mapped[datetime | None]
    sourced_id: Mapped[str | None] = mapped_column(String(255))

    @property
    def is_active(self) -> bool:
        """May sign in: ACTIVE (an INVITED account signs in once it accepts its invitation)."""
        return self.status == UserStatus.ACTIVE


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
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class EmergencyContact(IdMixin, Base):
    """Whom to call about a student, in the school's order (`position`). Staff and admins only."""

    __tablename__ = "emergency_contacts"

    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    relationship: Mapped[str] = mapped_column(String(60))
    phone: Mapped[str] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(320))


class Invitation(IdMixin, CreatedMixin, Base):
    """A one-time code that lets an INVITED account set its password. Only the code's hash is kept;
    the code is shown once, when the invitation is made."""

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_school_created", "school_id", "created_at"),)

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class MentorLink(IdMixin, CreatedMixin, Base):
    """A mentor and their mentee."""

    __tablename__ = "mentor_links"
    __table_args__ = (UniqueConstraint("mentor_id", "student_id"),)

    mentor_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
