"""Assignments, grades (versioned, with a change history) and calculated final grades."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, IdMixin, enum_column, utcnow
from models.enums import AssignmentCategory, GradeStatus


class Assignment(IdMixin, Base):
    """A gradebook column. `weight` is the assignment's weight inside its category."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_class_due", "class_id", "due_at"),)

    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[AssignmentCategory] = mapped_column(enum_column(AssignmentCategory))
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    max_score: Mapped[float] = mapped_column(Float)
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    description: Mapped[str | None] = mapped_column(String(4000))
    grading_period_id: Mapped[int | None] = mapped_column(
        ForeignKey("grading_periods.id", ondelete="SET NULL")
    )
    # Students and guardians see published assignments only.
    published: Mapped[bool] = mapped_column(default=True)
    # Archived: out of the gradebook and the final grades; its grades are kept.
    archived_at: Mapped[datetime | None]


class CategoryWeight(Base):
    """How much a category counts towards a class's final grade (percent; they sum to 100)."""

    __tablename__ = "category_weights"

    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True)
    category: Mapped[AssignmentCategory] = mapped_column(enum_column(AssignmentCategory), primary_key=True)
    weight: Mapped[float] = mapped_column(Float)


class Grade(IdMixin, Base):
    """One gradebook cell. `version` starts at 1 and grows with every change."""

    __tablename__ = "grades"
    __table_args__ = (
        UniqueConstraint("assignment_id", "student_id"),
        Index("ix_grades_student", "student_id"),
    )

    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    student_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    score: Mapped[float | None] = mapped_column(Float)
    status: Mapped[GradeStatus] = mapped_column(enum_column(GradeStatus), default=GradeStatus.NONE)
    # LATE only: the percent of the score taken off.
    late_penalty: Mapped[float | None] = mapped_column(Float)
    comment: Mapped[str | None] = mapped_column(String(2000))
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class GradeChange(IdMixin, Base):
    """The history of a grade: who changed it, when, from what to what."""

    __tablename__ = "grade_changes"
    __table_args__ = (Index("ix_grade_changes_grade_version", "grade_id", "version"),)

    grade_id: Mapped[int] = mapped_column(ForeignKey("grades.id", ondelete="CASCADE"))
    old_score: Mapped[float | None] = mapped_column(Float)
    new_score: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class FinalGrade(Base):
    """A student's calculated final grade in a class (see `calculateFinalGrades`)."""

    __tablename__ = "final_grades"

    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True)
    student_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    percentage: Mapped[float | None] = mapped_column(Float)
    letter: Mapped[str | None] = mapped_column(String(4))
    grade_points: Mapped[float | None] = mapped_column(Float)
    calculated_at: Mapped[datetime] = mapped_column(default=utcnow)
