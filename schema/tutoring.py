"""Tutoring sessions as the API shows them: completing one, and what completed ones earned."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from models import TutoringSession as TutoringSessionModel
from resolvers import tutoring
from resolvers.ids import encode_id
from resolvers.tutoring import Completion, EarningsReport
from schema.academics import StudentSummary
from schema.base import Info, Node, UserError, user_errors
from schema.enums import SessionStatus


def money(cents: int) -> Decimal:
    """Integer cents as an exact two-place Decimal (serialized as a string, never a float)."""
    return Decimal(cents).scaleb(-2)


@strawberry.type
class TutoringSession(Node):
    student: StudentSummary
    starts_at: datetime
    ends_at: datetime
    status: SessionStatus
    attended: bool | None
    notes: str | None
    topics_covered: list[str]
    room: str | None
    completed_at: datetime | None

    @classmethod
    def from_model(cls, row: TutoringSessionModel, student_name: str) -> TutoringSession:
        return cls(
            id=strawberry.ID(encode_id("TutoringSession", row.id)),
            student=StudentSummary.of(row.student_id, student_name),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            status=row.status,
            attended=row.attended,
            notes=row.notes,
            topics_covered=row.topics_covered,
            room=row.room,
            completed_at=row.completed_at,
        )


@strawberry.type
class MonthEarnings:
    month: str = strawberry.field(description="YYYY-MM, in the school's timezone.")
    amount: Decimal
    session_count: int


@strawberry.type(description="What completed sessions earned in a window, by month.")
class TeacherEarnings:
    currency: str
    total: Decimal
    session_count: int
    by_month: list[MonthEarnings]

    @classmethod
    def from_report(cls, report: EarningsReport) -> TeacherEarnings:
        return cls(
            currency=report.currency,
            total=money(report.total_cents),
            session_count=report.session_count,
            by_month=[
                MonthEarnings(month=m.month, amount=money(m.amount_cents), session_count=m.session_count)
                for m in report.by_month
            ],
        )


@strawberry.input
class CompleteSessionInput:
    session_id: strawberry.ID
    attended: bool = strawberry.field(description="false marks the session NO_SHOW (it earns nothing).")
    notes: str | None = None
    topics_covered: list[str] | None = None


@strawberry.type
class CompleteSessionPayload:
    session: TutoringSession | None
    user_errors: list[UserError]


@strawberry.type
class TutoringQueries:
    @strawberry.field(
        description="What completed sessions earned between `from` and `to` (at most two years)."
    )
    async def teacher_earnings(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        teacher_id: strawberry.ID | None = None,
    ) -> TeacherEarnings:
        report = await tutoring.teacher_earnings(
            info.context, str(teacher_id) if teacher_id else None, from_, to
        )
        return TeacherEarnings.from_report(report)


@strawberry.type
class TutoringMutations:
    @strawberry.mutation(
        description="The session's teacher completes it, once "
        "(ALREADY_COMPLETED, SESSION_CANCELLED, NOT_STARTED)."
    )
    async def complete_session(self, info: Info, input: CompleteSessionInput) -> CompleteSessionPayload:
        result = await tutoring.complete_session(
            info.context,
            Completion(str(input.session_id), input.attended, input.notes, input.topics_covered or []),
        )
        if isinstance(result, list):
            return CompleteSessionPayload(session=None, user_errors=user_errors(result))
        student = await info.context.loaders.user_by_id.load_existing(result.student_id)
        return CompleteSessionPayload(
            session=TutoringSession.from_model(result, student.name), user_errors=[]
        )
