"""Courses and their prerequisites, classes (sections) with teachers and meeting times, enrollments
and their history."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Integer, Numeric, SmallInteger, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, enum_column, utcnow
from models.enums import EnrollmentStatus


class Course(IdMixin, Base):
    __tablename__ = "courses"
    __table_args__ = (UniqueConstraint("school_id", "code"), UniqueConstraint("school_id", "sourced_id"))

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    credits: Mapped[Decimal] = mapped_column(Numeric(4, 1))
    description: Mapped[str | None] = mapped_column(String(2000))
    sourced_id: Mapped[str | None] = mapped_column(String(255))


class CoursePrerequisite(Base):
    __tablename__ = "course_prerequisites"

    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True)
    prerequisite_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class Class(IdMixin, Base):
    """A section of a course in a term: its room, meeting times, teachers and students."""

    __tablename__ = "classes"
    __table_args__ = (
        Index("ix_classes_school_term", "school_id", "term_id"),
        UniqueConstraint("school_id", "sourced_id"),
    )

    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    term_id: Mapped[int] = mapped_column(ForeignKey("terms.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    room: Mapped[str | None] = mapped_column(String(40))
    capacity: Mapped[int | None] = mapped_column(Integer, doc="Seats; None: no limit.")
    sourced_id: Mapped[str | None] = mapped_column(String(255))


class ClassTeacher(Base):
    """A teacher of a class; a class may have several (co-teaching), one of them primary."""

    __tablename__ = "class_teachers"

    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True)
    teacher_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    is_primary: Mapped[bool] = mapped_column(default=False)


class MeetingTime(IdMixin, Base):
    """A weekly meeting: weekday (0 = Monday) and local start/end times."""

    __tablename__ = "meeting_times"

    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(SmallInteger)
    starts_at: Mapped[time]
    ends_at: Mapped[time]


class Enrollment(IdMixin, Base):
    """A student in a class. Never deleted: a drop keeps it, DROPPED, with its grades and history."""

    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("class_id", "student_id"),)

    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[EnrollmentStatus] = mapped_column(
        enum_column(EnrollmentStatus), default=EnrollmentStatus.ACTIVE
    )
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    dropped_on: Mapped[date | None]


class EnrollmentChange(IdMixin, Base):
    """The history of an enrollment: each status it took, from when, by whom and why."""

    __tablename__ = "enrollment_changes"

    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"), index=True)
    status: Mapped[EnrollmentStatus] = mapped_column(enum_column(EnrollmentStatus))
    effective_date: Mapped[date]
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    reason: Mapped[str | None] = mapped_column(String(500))
