"""Teacher workflows as the API shows them: the dashboard, sessions and earnings, skill progress,
attendance (taken or checked into with a code) and schedule conflicts."""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

import strawberry

from models import Assessment as AssessmentModel
from models import AttendanceRecord as AttendanceRecordModel
from models import TutoringSession as TutoringSessionModel
from models.enums import AssignmentCategory
from resolvers import attendance, progress, schedule, sessions, teaching
from resolvers.attendance import Entry
from resolvers.ids import encode_id
from resolvers.progress import NewAssessment
from resolvers.sessions import Completion, EarningsReport
from schema.academics import Class, StudentSummary, Teacher
from schema.base import Connection, Info, Node, UserError, connection_from_page, user_errors
from schema.enums import AttendanceStatus, RiskLevel, SessionStatus
from schema.grading import Assignment
from schema.students import Student
from schema.users import User

Json = dict[str, Any]


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
    def from_json(cls, row: Json) -> TutoringSession:
        return cls(
            id=strawberry.ID(encode_id("TutoringSession", row["id"])),
            student=StudentSummary.of(row["student"]["id"], row["student"]["name"]),
            starts_at=datetime.fromisoformat(row["startsAt"]),
            ends_at=datetime.fromisoformat(row["endsAt"]),
            status=SessionStatus(row["status"]),
            attended=row["attended"],
            notes=row["notes"],
            topics_covered=row["topicsCovered"],
            room=row["room"],
            completed_at=datetime.fromisoformat(row["completedAt"]) if row["completedAt"] else None,
        )

    @classmethod
    def from_model(cls, row: TutoringSessionModel, student_name: str) -> TutoringSession:
        return cls.from_json(teaching.session_json(row, student_name))


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


def _assignment(row: Json) -> Assignment:
    return Assignment(
        id=strawberry.ID(encode_id("Assignment", row["id"])),
        title=row["title"],
        category=AssignmentCategory(row["category"]),
        max_score=row["maxScore"],
        weight=row["weight"],
        due_at=datetime.fromisoformat(row["dueAt"]) if row["dueAt"] else None,
    )


@strawberry.type(description="A teacher's home page in one request; cached, and pushed when it changes.")
class TeacherDashboard:
    document: strawberry.Private[Json]

    @strawberry.field
    def teacher(self) -> Teacher:
        found = self.document["teacher"]
        return Teacher(
            id=strawberry.ID(encode_id("Teacher", found["id"])), name=found["name"], email=found["email"]
        )

    @strawberry.field
    def generated_at(self) -> datetime:
        return datetime.fromisoformat(self.document["generatedAt"])

    @strawberry.field
    def classes(self) -> list[ClassOverview]:
        return [
            ClassOverview(
                id=strawberry.ID(encode_id("Class", row["id"])),
                title=row["title"],
                student_count=row["studentCount"],
                average_grade=row["averageGrade"],
                attendance_rate=row["attendanceRate"],
            )
            for row in self.document["classes"]
        ]

    @strawberry.field(description="The next scheduled sessions, soonest first (at most 20).")
    def upcoming_sessions(self, first: int | None = None) -> list[TutoringSession]:
        rows = teaching.sessions_page(self.document["upcomingSessions"], first)
        return [TutoringSession.from_json(row) for row in rows]

    @strawberry.field(description="The latest completed or missed sessions, newest first (at most 20).")
    def recent_sessions(self, first: int | None = None) -> list[TutoringSession]:
        rows = teaching.sessions_page(self.document["recentSessions"], first)
        return [TutoringSession.from_json(row) for row in rows]

    @strawberry.field(
        description="The teacher's students at MEDIUM or HIGH risk, riskiest first (at most 50)."
    )
    def students_needing_attention(self, info: Info, first: int | None = None) -> list[StudentAttention]:
        return [
            StudentAttention(
                student=StudentSummary.of(row["student"]["id"], row["student"]["name"]),
                risk_level=RiskLevel(row["riskLevel"]),
                risk_score=row["riskScore"],
                reasons=row["reasons"],
            )
            for row in teaching.attention_page(info.context, self.document["studentsNeedingAttention"], first)
        ]

    @strawberry.field(description="Past-due assignments with ungraded students, the oldest first.")
    def pending_grading(self) -> list[PendingGrading]:
        titles = {row["id"]: row for row in self.document["classes"]}
        return [
            PendingGrading(
                assignment=_assignment(row["assignment"]),
                class_=Class(
                    id=strawberry.ID(encode_id("Class", row["classId"])),
                    title=titles[row["classId"]]["title"],
                    room=titles[row["classId"]]["room"],
                    class_id=row["classId"],
                    course_id=titles[row["classId"]]["courseId"],
                ),
                ungraded_count=row["ungradedCount"],
            )
            for row in self.document["pendingGrading"]
        ]

    @strawberry.field
    def earnings(self) -> Earnings:
        found = self.document["earnings"]
        return Earnings(
            currency=found["currency"],
            this_month=money(found["thisMonthCents"]),
            last_month=money(found["lastMonthCents"]),
            total=money(found["totalCents"]),
            pending_payout=money(found["pendingPayoutCents"]),
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


@strawberry.enum
class SkillTrend(enum.Enum):
    UP = "UP"
    DOWN = "DOWN"
    FLAT = "FLAT"


@strawberry.type
class SkillProgress:
    skill: str
    level: int = strawberry.field(
        description="1 to 5, from the share of the points of the latest assessment."
    )
    score: float = strawberry.field(description="The latest assessment's score, as a percentage.")
    trend: SkillTrend | None = strawberry.field(
        description="Against the assessment before: UP/DOWN by more than 2 points, else FLAT; null if none."
    )
    updated_at: datetime


@strawberry.type
class Assessment(Node):
    skill: str
    score: float
    max_score: float
    level: int
    notes: str | None
    assessed_at: datetime
    assessor_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row: AssessmentModel) -> Assessment:
        return cls(
            id=strawberry.ID(encode_id("Assessment", row.id)),
            skill=row.skill,
            score=row.score,
            max_score=row.max_score,
            level=row.level,
            notes=row.notes,
            assessed_at=row.assessed_at,
            assessor_id=row.assessor_id,
        )

    @strawberry.field
    async def assessor(self, info: Info) -> User | None:
        if self.assessor_id is None:
            return None
        user = await info.context.loaders.user_by_id.load(self.assessor_id)
        return User.from_model(user) if user else None


@strawberry.type
class StudentProgress:
    student: Student
    overall_level: float | None = strawberry.field(description="The mean of the skills' latest levels.")
    skills: list[SkillProgress]
    student_id: strawberry.Private[int]

    @strawberry.field(description="The student's assessments, newest first.")
    async def assessments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Assessment]:
        page = await progress.assessments(info.context, self.student_id, first, after)
        return connection_from_page(
            [Assessment.from_model(row) for row in page.items],
            page.cursors,
            total_count=page.total_count,
            has_next_page=page.has_next_page,
        )


@strawberry.type
class AttendanceRecord:
    date: date
    status: AttendanceStatus
    check_in_at: datetime | None
    check_out_at: datetime | None
    note: str | None
    student_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, row: AttendanceRecordModel) -> AttendanceRecord:
        return cls(
            date=row.date,
            status=row.status,
            check_in_at=row.check_in_at,
            check_out_at=row.check_out_at,
            note=row.note,
            student_id=row.student_id,
        )

    @strawberry.field
    async def student(self, info: Info) -> StudentSummary:
        user = await info.context.loaders.user_by_id.load_existing(self.student_id)
        return StudentSummary.of(user.id, user.name)


@strawberry.enum
class ConflictKind(enum.Enum):
    TEACHER = "TEACHER"
    ROOM = "ROOM"
    STUDENT = "STUDENT"


@strawberry.type(description="Two bookings of one teacher, room or student at overlapping times.")
class ScheduleConflict:
    kind: ConflictKind
    starts_at: datetime = strawberry.field(description="When the overlap starts.")
    ends_at: datetime = strawberry.field(description="When the overlap ends.")
    description: str


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


@strawberry.input
class CreateAssessmentInput:
    student_id: strawberry.ID
    skill: str
    score: float
    max_score: float
    notes: str | None = None


@strawberry.type
class CreateAssessmentPayload:
    assessment: Assessment | None
    user_errors: list[UserError]


@strawberry.input
class AttendanceEntryInput:
    student_id: strawberry.ID
    status: AttendanceStatus
    note: str | None = None


@strawberry.input
class RecordAttendanceInput:
    class_id: strawberry.ID
    date: date
    records: list[AttendanceEntryInput]


@strawberry.type
class RecordAttendancePayload:
    records: list[AttendanceRecord]
    user_errors: list[UserError]


@strawberry.input
class CreateAttendanceCodeInput:
    class_id: strawberry.ID
    valid_for_seconds: int | None = strawberry.field(default=None, description="10 to 900; 120 by default.")


@strawberry.type
class CreateAttendanceCodePayload:
    code: str | None
    qr_png_data_url: str | None = strawberry.field(description="The code as a QR image: a PNG data URL.")
    expires_at: datetime | None
    user_errors: list[UserError]


@strawberry.input
class CheckInInput:
    code: str


@strawberry.type
class CheckInPayload:
    record: AttendanceRecord | None
    user_errors: list[UserError]


@strawberry.type
class TeachingQueries:
    @strawberry.field(
        description="The teacher's dashboard: the caller's, or (staff) a teacher's of the school."
    )
    async def teacher_dashboard(
        self, info: Info, teacher_id: strawberry.ID | None = None
    ) -> TeacherDashboard:
        document = await teaching.dashboard(info.context, str(teacher_id) if teacher_id else None)
        return TeacherDashboard(document=document)

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
        report = await sessions.teacher_earnings(
            info.context, str(teacher_id) if teacher_id else None, from_, to
        )
        return TeacherEarnings.from_report(report)

    @strawberry.field(description="A student's skills, their levels and trends, and their assessments.")
    async def student_progress(self, info: Info, student_id: strawberry.ID) -> StudentProgress:
        found = await progress.student_progress(info.context, str(student_id))
        return StudentProgress(
            student=Student.from_model(found.student, found.profile),
            overall_level=found.overall_level,
            skills=[
                SkillProgress(
                    skill=s.skill,
                    level=s.level,
                    score=s.score,
                    trend=SkillTrend(s.trend) if s.trend else None,
                    updated_at=s.updated_at,
                )
                for s in found.skills
            ],
            student_id=found.student.id,
        )

    @strawberry.field(description="Overlapping bookings between `from` and `to` (at most 92 days).")
    async def schedule_conflicts(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> list[ScheduleConflict]:
        found = await schedule.conflicts(info.context, from_, to)
        return [
            ScheduleConflict(
                kind=ConflictKind(c.kind), starts_at=c.starts_at, ends_at=c.ends_at, description=c.description
            )
            for c in found
        ]


@strawberry.type
class TeachingMutations:
    @strawberry.mutation(
        description="The session's teacher completes it, once "
        "(ALREADY_COMPLETED, SESSION_CANCELLED, NOT_STARTED)."
    )
    async def complete_session(self, info: Info, input: CompleteSessionInput) -> CompleteSessionPayload:
        result = await sessions.complete_session(
            info.context,
            Completion(str(input.session_id), input.attended, input.notes, input.topics_covered or []),
        )
        if isinstance(result, list):
            return CompleteSessionPayload(session=None, user_errors=user_errors(result))
        student = await info.context.loaders.user_by_id.load_existing(result.student_id)
        return CompleteSessionPayload(
            session=TutoringSession.from_model(result, student.name), user_errors=[]
        )

    @strawberry.mutation(description="By the student's teachers and mentors; the level comes from the score.")
    async def create_assessment(self, info: Info, input: CreateAssessmentInput) -> CreateAssessmentPayload:
        result = await progress.create_assessment(
            info.context,
            NewAssessment(str(input.student_id), input.skill, input.score, input.max_score, input.notes),
        )
        if isinstance(result, list):
            return CreateAssessmentPayload(assessment=None, user_errors=user_errors(result))
        return CreateAssessmentPayload(assessment=Assessment.from_model(result), user_errors=[])

    @strawberry.mutation(
        description="A class meeting's attendance, all entries or none (NOT_ENROLLED, INVALID by entry)."
    )
    async def record_attendance(self, info: Info, input: RecordAttendanceInput) -> RecordAttendancePayload:
        records, problems = await attendance.record_attendance(
            info.context,
            str(input.class_id),
            input.date,
            [Entry(str(entry.student_id), entry.status, entry.note) for entry in input.records],
        )
        return RecordAttendancePayload(
            records=[AttendanceRecord.from_model(row) for row in records], user_errors=user_errors(problems)
        )

    @strawberry.mutation(
        description="A signed, short-lived code (and QR image) for students to check in with."
    )
    async def create_attendance_code(
        self, info: Info, input: CreateAttendanceCodeInput
    ) -> CreateAttendanceCodePayload:
        result = await attendance.create_code(info.context, str(input.class_id), input.valid_for_seconds)
        if not isinstance(result, attendance.AttendanceCode):
            return CreateAttendanceCodePayload(
                code=None, qr_png_data_url=None, expires_at=None, user_errors=user_errors([result])
            )
        return CreateAttendanceCodePayload(
            code=result.code,
            qr_png_data_url=result.qr_png_data_url,
            expires_at=result.expires_at,
            user_errors=[],
        )

    @strawberry.mutation(
        description="A student checks in with a code: PRESENT, or LATE after 10 minutes "
        "(INVALID_CODE, EXPIRED_CODE, NOT_ENROLLED)."
    )
    async def check_in(self, info: Info, input: CheckInInput) -> CheckInPayload:
        result = await attendance.check_in(info.context, input.code)
        if not isinstance(result, AttendanceRecordModel):
            return CheckInPayload(record=None, user_errors=user_errors([result]))
        return CheckInPayload(record=AttendanceRecord.from_model(result), user_errors=[])


@strawberry.type
class TeachingSubscriptions:
    @strawberry.subscription(description="The teacher's new dashboard after each change that feeds it.")
    async def teacher_dashboard_updated(
        self, info: Info, teacher_id: strawberry.ID | None = None
    ) -> AsyncGenerator[TeacherDashboard, None]:
        async for document in teaching.dashboard_updates(
            info.context, str(teacher_id) if teacher_id else None
        ):
            yield TeacherDashboard(document=document)
