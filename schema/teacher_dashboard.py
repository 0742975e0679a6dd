"""The teacher dashboard as the API shows it: Strawberry types over the cached
`TeacherDashboardDocument` of resolvers/teacher_dashboard.py, read field by field."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime
from decimal import Decimal

import strawberry

from resolvers import teacher_dashboard
from resolvers.ids import encode_id
from resolvers.teacher_dashboard import AssignmentEntry, SessionEntry, TeacherDashboardDocument
from schema.academics import Class, StudentSummary, Teacher
from schema.assignments import Assignment
from schema.base import Info
from schema.enums import RiskLevel
from schema.tutoring import TutoringSession, money


@strawberry.type
class ClassOverview:
    id: strawberry.ID
    title: str
    student_count: int = strawberry.field(description="Students actively enrolled.")
    average_grade: float | None = strawberry.field(
        description="The mean of the students' current class percentages (0-100); null before any grade."
    )
    attendance_rate: float | None = strawberry.field(
        description="Share of meeting records present or late (excused ones left out); null before any."
    )


@strawberry.type
class StudentAttention:
    student: StudentSummary
    risk_level: RiskLevel
    risk_score: float
    reasons: list[str] = strawberry.field(description="The risk model's factors, strongest first.")


@strawberry.type
class PendingGrading:
    assignment: Assignment
    class_: Class = strawberry.field(name="class")
    ungraded_count: int = strawberry.field(description="Active students of the class without a score.")


@strawberry.type(description="Completed sessions' rates; months in the school's timezone. Amounts are exact.")
class Earnings:
    currency: str
    this_month: Decimal
    last_month: Decimal
    total: Decimal
    pending_payout: Decimal = strawberry.field(description="Completed sessions not yet paid out.")


def _session(entry: SessionEntry) -> TutoringSession:
    return TutoringSession(
        id=strawberry.ID(encode_id("TutoringSession", entry.id)),
        student=StudentSummary.of(entry.student.id, entry.student.name),
        starts_at=entry.starts_at,
        ends_at=entry.ends_at,
        status=entry.status,
        attended=entry.attended,
        notes=entry.notes,
        topics_covered=list(entry.topics_covered),
        room=entry.room,
        completed_at=entry.completed_at,
    )


def _assignment(entry: AssignmentEntry) -> Assignment:
    return Assignment(
        id=strawberry.ID(encode_id("Assignment", entry.id)),
        title=entry.title,
        category=entry.category,
        max_score=entry.max_score,
        weight=entry.weight,
        due_at=entry.due_at,
        published=entry.published,
        description=entry.description,
        created_at=entry.created_at,
        archived_at=None,
        class_pk=entry.class_id,
        grading_period_pk=entry.grading_period_id,
    )


@strawberry.type(description="A teacher's home page in one request; cached, and pushed when it changes.")
class TeacherDashboard:
    document: strawberry.Private[TeacherDashboardDocument]

    @strawberry.field
    def teacher(self) -> Teacher:
        found = self.document.teacher
        return Teacher(id=strawberry.ID(encode_id("Teacher", found.id)), name=found.name, email=found.email)

    @strawberry.field
    def generated_at(self) -> datetime:
        return self.document.generated_at

    @strawberry.field
    def classes(self) -> list[ClassOverview]:
        return [
            ClassOverview(
                id=strawberry.ID(encode_id("Class", entry.id)),
                title=entry.title,
                student_count=entry.student_count,
                average_grade=entry.average_grade,
                attendance_rate=entry.attendance_rate,
            )
            for entry in self.document.classes
        ]

    @strawberry.field(description="The next scheduled sessions, soonest first (at most 20).")
    def upcoming_sessions(self, first: int | None = None) -> list[TutoringSession]:
        entries = teacher_dashboard.sessions_page(self.document.upcoming_sessions, first)
        return [_session(entry) for entry in entries]

    @strawberry.field(description="The latest completed or missed sessions, newest first (at most 20).")
    def recent_sessions(self, first: int | None = None) -> list[TutoringSession]:
        entries = teacher_dashboard.sessions_page(self.document.recent_sessions, first)
        return [_session(entry) for entry in entries]

    @strawberry.field(
        description="The teacher's students at MEDIUM or HIGH risk, riskiest first (at most 50)."
    )
    def students_needing_attention(self, info: Info, first: int | None = None) -> list[StudentAttention]:
        entries = self.document.students_needing_attention
        return [
            StudentAttention(
                student=StudentSummary.of(entry.student.id, entry.student.name),
                risk_level=entry.risk_level,
                risk_score=entry.risk_score,
                reasons=list(entry.reasons),
            )
            for entry in teacher_dashboard.attention_page(info.context, entries, first)
        ]

    @strawberry.field(description="Past-due assignments with ungraded students, the oldest first.")
    def pending_grading(self) -> list[PendingGrading]:
        classes = {entry.id: entry for entry in self.document.classes}
        return [
            PendingGrading(
                assignment=_assignment(entry.assignment),
                class_=Class(
                    id=strawberry.ID(encode_id("Class", entry.class_id)),
                    title=classes[entry.class_id].title,
                    room=classes[entry.class_id].room,
                    class_id=entry.class_id,
                    course_id=classes[entry.class_id].course_id,
                ),
                ungraded_count=entry.ungraded_count,
            )
            for entry in self.document.pending_grading
        ]

    @strawberry.field
    def earnings(self) -> Earnings:
        found = self.document.earnings
        return Earnings(
            currency=found.currency,
            this_month=money(found.this_month_cents),
            last_month=money(found.last_month_cents),
            total=money(found.total_cents),
            pending_payout=money(found.pending_payout_cents),
        )


@strawberry.type
class TeacherDashboardQueries:
    @strawberry.field(
        description="The teacher's dashboard: the caller's, or (staff) a teacher's of the school."
    )
    async def teacher_dashboard(
        self, info: Info, teacher_id: strawberry.ID | None = None
    ) -> TeacherDashboard:
        document = await teacher_dashboard.dashboard(info.context, str(teacher_id) if teacher_id else None)
        return TeacherDashboard(document=document)


@strawberry.type
class TeacherDashboardSubscriptions:
    @strawberry.subscription(description="The teacher's new dashboard after each change that feeds it.")
    async def teacher_dashboard_updated(
        self, info: Info, teacher_id: strawberry.ID | None = None
    ) -> AsyncGenerator[TeacherDashboard, None]:
        async for document in teacher_dashboard.dashboard_updates(
            info.context, str(teacher_id) if teacher_id else None
        ):
            yield TeacherDashboard(document=document)
