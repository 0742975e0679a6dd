"""Students: profile, enrollments, progress, analytics, timeline; search, at-risk list, cohorts."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from errors import Forbidden, Problem
from models import Enrollment as EnrollmentModel
from models import StudentProfile
from models import User as UserModel
from resolvers import students
from resolvers.ids import decode_id_of, encode_id
from resolvers.policy import Relation, relation_to_student
from resolvers.students import CohortAnalysis as CohortResult
from resolvers.students import StudentFilter as FilterArgs
from resolvers.students import StudentOrder as OrderArgs
from resolvers.students import StudentRow
from resolvers.timeline import timeline as load_timeline
from schema.base import Connection, Edge, Info, Node, PageInfo, UserError, connection_from_page, user_errors
from schema.enrollments import Enrollment
from schema.enums import (
    AcademicStanding,
    BulkStudentActionKind,
    OrderDirection,
    RiskLevel,
    StudentOrderField,
    StudentStatus,
    TimelineKind,
)
from schema.finance_accounts import StudentFinanceFields
from schema.scholarships import StudentScholarshipFields
from schema.student_grades import StudentGradeFields
from schema.student_record import StudentRecordFields
from schema.student_transcript import StudentTranscriptFields
from schema.users import User
from stores.media import sign_url

ANALYTICS_RELATIONS = frozenset({Relation.SCHOOL, Relation.TEACHER, Relation.MENTOR})
GOOD_STANDING_GPA, WARNING_GPA = 2.0, 1.5


@strawberry.type
class AcademicProgress:
    cumulative_gpa: float | None
    total_credit_hours: float
    academic_standing: AcademicStanding


@strawberry.type
class RiskFactor:
    factor: str
    weight: float = strawberry.field(description="This factor's share of the risk score.")
    detail: str


@strawberry.type(
    description="An explainable risk score: each factor with its weight and what to do about it."
)
class RiskAssessment:
    risk_score: float
    risk_level: RiskLevel
    risk_factors: list[RiskFactor]
    recommendations: list[str]
    computed_at: datetime


@strawberry.type
class SuccessPrediction:
    success_probability: float
    confidence: float
    key_factors: list[str]


@strawberry.type
class TimelineEvent:
    kind: TimelineKind
    occurred_at: datetime
    summary: str
    actor_id: strawberry.Private[int | None]

    @strawberry.field
    async def actor(self, info: Info) -> User | None:
        return await User.by_id(info, self.actor_id)


@strawberry.type
class Student(
    StudentRecordFields,
    StudentGradeFields,
    StudentTranscriptFields,
    StudentFinanceFields,
    StudentScholarshipFields,
    Node,
):
    name: str
    email: str
    student_number: str
    status: StudentStatus
    grade_level: int
    cohort_year: int
    student_id: strawberry.Private[int]
    school_id: strawberry.Private[int]
    photo_key: strawberry.Private[str | None]

    @classmethod
    def from_model(cls, user: UserModel, profile: StudentProfile) -> Student:
        return cls(
            id=strawberry.ID(encode_id("Student", user.id)),
            name=user.name,
            email=user.email,
            student_number=profile.student_number,
            status=profile.status,
            grade_level=profile.grade_level,
            cohort_year=profile.cohort_year,
            student_id=user.id,
            school_id=profile.school_id,
            photo_key=profile.photo_key,
        )

    async def _relation(self, info: Info) -> Relation | None:
        return await relation_to_student(info.context, self.student_id, self.school_id)

    async def _require_analytics(self, info: Info) -> None:
        if await self._relation(info) not in ANALYTICS_RELATIONS:
            raise Forbidden("Risk analytics are for the student's teachers, mentors and school staff.")

    @strawberry.field(description="A signed URL of the photo, valid for a while; null without a photo.")
    def photo_url(self, info: Info) -> str | None:
        if self.photo_key is None:
            return None
        url, _ = sign_url(
            info.context.settings, self.photo_key, filename="photo.jpg", content_type="image/jpeg"
        )
        return url

    @strawberry.field(description="Current risk level (teachers, mentors and staff).")
    async def risk_level(self, info: Info) -> RiskLevel | None:
        await self._require_analytics(info)
        risk = await info.context.loaders.risk_by_student.load(self.student_id)
        return risk.risk_level if risk else RiskLevel.LOW

    @strawberry.field(description="The student's current classes.")
    async def enrollments(self, info: Info) -> list[Enrollment]:
        rows: list[EnrollmentModel] = await info.context.loaders.active_enrollments_by_student.load(
            self.student_id
        )
        return [
            Enrollment(class_id=e.class_id, student_id=e.student_id, school_id=self.school_id) for e in rows
        ]

    @strawberry.field(description="GPA and credits from completed classes (credit-weighted grade points).")
    async def academic_progress(self, info: Info) -> AcademicProgress:
        record = await info.context.loaders.academic_record.load(self.student_id)
        gpa = record.gpa
        if gpa is None:
            standing = AcademicStanding.NO_RECORD
        elif gpa >= GOOD_STANDING_GPA:
            standing = AcademicStanding.GOOD_STANDING
        elif gpa >= WARNING_GPA:
            standing = AcademicStanding.ACADEMIC_WARNING
        else:
            standing = AcademicStanding.ACADEMIC_PROBATION
        return AcademicProgress(
            cumulative_gpa=gpa, total_credit_hours=record.earned_credits, academic_standing=standing
        )

    @strawberry.field
    async def risk_assessment(self, info: Info) -> RiskAssessment | None:
        await self._require_analytics(info)
        risk = await info.context.loaders.risk_by_student.load(self.student_id)
        if risk is None:
            return None
        return RiskAssessment(
            risk_score=risk.risk_score,
            risk_level=risk.risk_level,
            risk_factors=[RiskFactor(**factor) for factor in risk.factors],
            recommendations=risk.recommendations,
            computed_at=risk.computed_at,
        )

    @strawberry.field
    async def success_prediction(self, info: Info) -> SuccessPrediction | None:
        await self._require_analytics(info)
        risk = await info.context.loaders.risk_by_student.load(self.student_id)
        if risk is None:
            return None
        return SuccessPrediction(
            success_probability=risk.success_probability,
            confidence=risk.confidence,
            key_factors=risk.key_factors,
        )

    @strawberry.field(description="Grades, attendance, sessions, assessments and messages, newest first.")
    async def timeline(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        kinds: list[TimelineKind] | None = None,
    ) -> Connection[TimelineEvent]:
        if await self._relation(info) is None:
            raise Forbidden
        events, has_next = await load_timeline(
            info.context,
            self.student_id,
            first=first,
            after=after,
            kinds=[kind.value for kind in kinds] if kinds else None,
        )
        nodes = [
            TimelineEvent(
                kind=TimelineKind(e.kind), occurred_at=e.occurred_at, summary=e.summary, actor_id=e.actor_id
            )
            for e in events
        ]
        return connection_from_page(
            nodes, [e.cursor for e in events], total_count=None, has_next_page=has_next
        )


def student_of(row: StudentRow) -> Student:
    return Student.from_model(row.user, row.profile)


@strawberry.input
class StudentFilter:
    status: list[StudentStatus] | None = None
    grade_level: list[int] | None = None
    risk_level: list[RiskLevel] | None = None
    class_id: strawberry.ID | None = None
    cohort_year: int | None = None


@strawberry.input
class StudentOrder:
    field: StudentOrderField
    direction: OrderDirection


@strawberry.type
class FacetCount:
    value: str
    count: int


@strawberry.type
class StudentFacets:
    status: list[FacetCount]
    grade_level: list[FacetCount]
    risk_level: list[FacetCount]


@strawberry.type
class StudentSearchConnection:
    total_count: int
    facets: StudentFacets
    page_info: PageInfo
    edges: list[Edge[Student]]

    @strawberry.field
    def nodes(self) -> list[Student]:
        return [edge.node for edge in self.edges]


@strawberry.type
class CohortAnalysis:
    cohort_year: int
    student_count: int
    average_gpa: float | None
    retention_rate: float | None = strawberry.field(description="Share of the cohort not withdrawn.")
    risk_distribution: list[FacetCount]
    grade_distribution: list[FacetCount] = strawberry.field(
        description="Letters of the cohort's final grades."
    )

    @classmethod
    def from_result(cls, result: CohortResult) -> CohortAnalysis:
        return cls(
            cohort_year=result.cohort_year,
            student_count=result.student_count,
            average_gpa=result.average_gpa,
            retention_rate=result.retention_rate,
            risk_distribution=[FacetCount(value=v, count=c) for v, c in result.risk_distribution],
            grade_distribution=[FacetCount(value=v, count=c) for v, c in result.grade_distribution],
        )


@strawberry.type
class StudentQueries:
    @strawberry.field(description="A student the caller may see.")
    async def student(self, info: Info, id: strawberry.ID) -> Student | None:
        user, profile, _ = await students.get_student(info.context, id)
        return Student.from_model(user, profile)

    @strawberry.field(
        description="Search (every word, in name, email or student number), filters, facets, pages."
    )
    async def students(
        self,
        info: Info,
        query: str | None = None,
        filter: StudentFilter | None = None,
        order_by: StudentOrder | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> StudentSearchConnection:
        given = filter or StudentFilter()
        result = await students.search(
            info.context,
            text=query,
            student_filter=FilterArgs(
                statuses=given.status,
                grade_levels=given.grade_level,
                risk_levels=given.risk_level,
                class_id=decode_id_of(given.class_id, "Class") if given.class_id else None,
                cohort_year=given.cohort_year,
            ),
            order=OrderArgs(
                field=order_by.field.value if order_by else "NAME",
                descending=bool(order_by and order_by.direction == OrderDirection.DESC),
            ),
            first=first,
            after=after,
        )
        page = connection_from_page(
            [student_of(row) for row in result.rows],
            result.cursors,
            total_count=result.total_count,
            has_next_page=result.has_next_page,
        )
        facets = {
            name: [FacetCount(value=v, count=c) for v, c in counts] for name, counts in result.facets.items()
        }
        return StudentSearchConnection(
            total_count=result.total_count,
            facets=StudentFacets(
                status=facets["status"], grade_level=facets["gradeLevel"], risk_level=facets["riskLevel"]
            ),
            page_info=page.page_info,
            edges=page.edges,
        )

    @strawberry.field(
        description="Students at or above a risk score (0-1), riskiest first; pages after a cursor."
    )
    async def students_at_risk(
        self, info: Info, risk_threshold: float, first: int | None = None, after: str | None = None
    ) -> Connection[Student]:
        result = await students.at_risk(info.context, risk_threshold, first, after)
        return connection_from_page(
            [student_of(row) for row in result.rows],
            result.cursors,
            total_count=result.total_count,
            has_next_page=result.has_next_page,
        )

    @strawberry.field(description="A cohort (students by the year they started): staff and admins.")
    async def cohort_analysis(self, info: Info, cohort_year: int) -> CohortAnalysis:
        return CohortAnalysis.from_result(await students.cohort_analysis(info.context, cohort_year))


@strawberry.input
class BulkStudentActionInput:
    action: BulkStudentActionKind
    student_ids: list[strawberry.ID]
    message: str | None = None
    status: StudentStatus | None = None


@strawberry.type
class BulkStudentActionPayload:
    processed_count: int
    failed_count: int
    user_errors: list[UserError]


@strawberry.input
class UploadStudentPhotoInput:
    student_id: strawberry.ID
    photo: Upload


@strawberry.type
class UploadStudentPhotoPayload:
    student: Student | None
    user_errors: list[UserError]


@strawberry.type
class StudentMutations:
    @strawberry.mutation(
        description="A student's photo (multipart): JPEG, PNG or WEBP, resized, metadata removed."
    )
    async def upload_student_photo(
        self, info: Info, input: UploadStudentPhotoInput
    ) -> UploadStudentPhotoPayload:
        # On Starlette, an Upload is Starlette's UploadFile.
        photo = cast(UploadFile, input.photo)
        result = await students.upload_photo(info.context, str(input.student_id), photo)
        if isinstance(result, Problem):
            return UploadStudentPhotoPayload(student=None, user_errors=user_errors([result]))
        return UploadStudentPhotoPayload(student=Student.from_model(*result), user_errors=[])

    @strawberry.mutation(
        description="Notify or change the status of many students; each failure is reported."
    )
    async def bulk_student_action(
        self, info: Info, input: BulkStudentActionInput
    ) -> BulkStudentActionPayload:
        result = await students.bulk_action(
            info.context,
            input.action.value,
            [str(student_id) for student_id in input.student_ids],
            message=input.message,
            status=input.status,
        )
        return BulkStudentActionPayload(
            processed_count=result.processed_count,
            failed_count=sum(1 for p in result.problems if p.field and p.field[1] == "studentIds"),
            user_errors=user_errors(result.problems),
        )
