"""The student dashboard (and its operators' metrics) as the API shows it.

The dashboard is one typed document (resolvers/student_dashboard_document.py) so that it can be
cached and pushed whole; these types wrap it and read its fields.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry

from resolvers import student_dashboard
from resolvers.ids import encode_id, encode_key
from resolvers.student_dashboard_document import (
    AssignmentDue,
    CourseStanding,
    StudentDashboardDocument,
)
from schema.base import Info, OkPayload
from schema.enums import Tier
from services import clients
from services.clients import SectionStatus

strawberry.enum(SectionStatus)  # marks the services' enum in place as the GraphQL enum


@strawberry.type
class DashboardStudent:
    id: strawberry.ID
    name: str
    tier: Tier


@strawberry.type
class ClassRef:
    id: strawberry.ID
    title: str

    @classmethod
    def of(cls, class_id: int, title: str) -> ClassRef:
        return cls(id=strawberry.ID(encode_id("Class", class_id)), title=title)


@strawberry.type
class CourseGrade:
    percentage: float | None
    letter: str | None


@strawberry.type
class DashboardCourse:
    class_: ClassRef = strawberry.field(name="class")
    current_grade: CourseGrade
    attendance_rate: float | None

    @classmethod
    def from_document(cls, course: CourseStanding) -> DashboardCourse:
        return cls(
            class_=ClassRef.of(course.class_id, course.title),
            current_grade=CourseGrade(percentage=course.percentage, letter=course.letter),
            attendance_rate=course.attendance_rate,
        )


@strawberry.type
class UpcomingAssignment:
    id: strawberry.ID
    title: str
    due_at: datetime | None
    class_: ClassRef = strawberry.field(name="class")

    @classmethod
    def from_document(cls, due: AssignmentDue) -> UpcomingAssignment:
        return cls(
            id=strawberry.ID(encode_id("Assignment", due.id)),
            title=due.title,
            due_at=due.due_at,
            class_=ClassRef.of(due.class_id, due.class_title),
        )


@strawberry.type
class SkillItem:
    name: str
    level: int
    percentile: float


@strawberry.type
class CoachingSession:
    starts_at: datetime
    coach_name: str


# The services number each student's items from 1 ("m1"): alone, their ids would make a client's
# cache merge different students' items.
SERVICE_ITEM_ID = "Unique across students: the service's id of the item, with the student's."


@strawberry.type
class MissionItem:
    id: strawberry.ID = strawberry.field(description=SERVICE_ITEM_ID)
    title: str
    progress: float
    due_at: datetime | None


@strawberry.type
class PortfolioItem:
    id: strawberry.ID = strawberry.field(description=SERVICE_ITEM_ID)
    title: str
    url: str
    updated_at: datetime


@strawberry.type
class Recommendation:
    title: str
    reason: str


@strawberry.type(description="What a service says; with a status other than OK or STALE, no data.")
class SkillsSection:
    status: SectionStatus
    updated_at: datetime | None
    items: list[SkillItem]


@strawberry.type
class CoachingSection:
    status: SectionStatus
    updated_at: datetime | None
    next_session: CoachingSession | None
    goals: list[str]


@strawberry.type
class MissionsSection:
    status: SectionStatus
    updated_at: datetime | None
    items: list[MissionItem]


@strawberry.type
class PortfolioSection:
    status: SectionStatus
    updated_at: datetime | None
    items: list[PortfolioItem]


@strawberry.type
class CohortSection:
    status: SectionStatus
    updated_at: datetime | None
    name: str | None
    size: int | None
    rank_percentile: float | None


@strawberry.type
class NotificationsSection:
    status: SectionStatus
    unread_count: int


@strawberry.type
class LeaderboardSection:
    status: SectionStatus
    updated_at: datetime | None
    rank: int | None
    points: int | None
    participants: int | None


@strawberry.type
class AiCoachSection:
    status: SectionStatus
    updated_at: datetime | None
    recommendations: list[Recommendation]


@strawberry.type
class StudentDashboard:
    student: DashboardStudent
    generated_at: datetime
    stale: bool = strawberry.field(description="Served from the cache while a newer one is made.")
    courses: list[DashboardCourse]
    document: strawberry.Private[StudentDashboardDocument]

    @classmethod
    def from_document(cls, document: StudentDashboardDocument) -> StudentDashboard:
        return cls(
            student=DashboardStudent(
                id=strawberry.ID(encode_id("Student", document.student_id)),
                name=document.name,
                tier=document.tier,
            ),
            generated_at=document.generated_at,
            stale=document.stale,
            courses=[DashboardCourse.from_document(course) for course in document.courses],
            document=document,
        )

    def _item_id(self, kind: str, service_id: str) -> strawberry.ID:
        return strawberry.ID(encode_key(kind, self.document.student_id, service_id))

    @strawberry.field
    def upcoming_assignments(self, first: int = 5) -> list[UpcomingAssignment]:
        shown = self.document.upcoming[: max(0, min(first, student_dashboard.UPCOMING))]
        return [UpcomingAssignment.from_document(due) for due in shown]

    @strawberry.field
    def skills(self) -> SkillsSection:
        section = self.document.sections.skills
        skills = section.data.skills if section.data else ()
        return SkillsSection(
            status=section.status,
            updated_at=section.updated_at,
            items=[SkillItem(name=s.name, level=s.level, percentile=s.percentile) for s in skills],
        )

    @strawberry.field
    def coaching(self) -> CoachingSection:
        section = self.document.sections.coaching
        session = section.data.next_session if section.data else None
        return CoachingSection(
            status=section.status,
            updated_at=section.updated_at,
            next_session=CoachingSession(starts_at=session.starts_at, coach_name=session.coach_name)
            if session
            else None,
            goals=list(section.data.goals) if section.data else [],
        )

    @strawberry.field
    def missions(self) -> MissionsSection:
        section = self.document.sections.missions
        items = [
            MissionItem(
                id=self._item_id("Mission", m.id), title=m.title, progress=m.progress, due_at=m.due_at
            )
            for m in (section.data.missions if section.data else ())
        ]
        return MissionsSection(status=section.status, updated_at=section.updated_at, items=items)

    @strawberry.field
    def portfolio(self) -> PortfolioSection:
        section = self.document.sections.portfolio
        items = [
            PortfolioItem(
                id=self._item_id("PortfolioItem", p.id), title=p.title, url=p.url, updated_at=p.updated_at
            )
            for p in (section.data.items if section.data else ())
        ]
        return PortfolioSection(status=section.status, updated_at=section.updated_at, items=items)

    @strawberry.field
    def cohort(self) -> CohortSection:
        section = self.document.sections.cohort
        cohort = section.data
        return CohortSection(
            status=section.status, updated_at=section.updated_at, name=cohort.name if cohort else None,
            size=cohort.size if cohort else None,
            rank_percentile=cohort.rank_percentile if cohort else None,
        )  # fmt: skip

    @strawberry.field
    def notifications(self) -> NotificationsSection:
        return NotificationsSection(status=SectionStatus.OK, unread_count=self.document.unread_notifications)

    @strawberry.field
    def leaderboard(self) -> LeaderboardSection:
        section = self.document.sections.leaderboard
        board = section.data
        return LeaderboardSection(
            status=section.status, updated_at=section.updated_at, rank=board.rank if board else None,
            points=board.points if board else None, participants=board.participants if board else None,
        )  # fmt: skip

    @strawberry.field(
        description="Premium only: LOCKED for free-tier students, whose data is never asked for."
    )
    def ai_coach(self) -> AiCoachSection:
        section = self.document.sections.ai_coach
        items = [
            Recommendation(title=r.title, reason=r.reason)
            for r in (section.data.recommendations if section.data else ())
        ]
        return AiCoachSection(status=section.status, updated_at=section.updated_at, recommendations=items)


@strawberry.type
class ServiceHealth:
    service: str
    status: str = strawberry.field(
        description="OK, DEGRADED (failing, circuit closed), DOWN (circuit open) or OFF."
    )
    latency_ms: float | None
    last_error: str | None

    @classmethod
    def from_health(cls, health: clients.ServiceHealth) -> ServiceHealth:
        return cls(
            service=health.service,
            status=health.status,
            latency_ms=health.latency_ms,
            last_error=health.last_error,
        )


@strawberry.type
class DashboardMetrics:
    cache_hit_rate: float | None
    cached_dashboards: int
    stale_dashboards: int
    refresh_queue_depth: int
    oldest_stale_seconds: float | None
    service_health: list[ServiceHealth]

    @classmethod
    def from_metrics(cls, found: student_dashboard.DashboardMetrics) -> DashboardMetrics:
        return cls(
            cache_hit_rate=found.cache_hit_rate,
            cached_dashboards=found.cached_dashboards,
            stale_dashboards=found.stale_dashboards,
            refresh_queue_depth=found.refresh_queue_depth,
            oldest_stale_seconds=found.oldest_stale_seconds,
            service_health=[ServiceHealth.from_health(h) for h in found.service_health],
        )


@strawberry.input
class TrackDashboardActionInput:
    action: str
    target_id: str | None = None


@strawberry.type
class DashboardQueries:
    @strawberry.field(description="A student's home page: their own by default.")
    async def student_dashboard(
        self, info: Info, student_id: strawberry.ID | None = None
    ) -> StudentDashboard:
        student = await student_dashboard.student_for_dashboard(info.context, student_id)
        return StudentDashboard.from_document(await student_dashboard.dashboard(info.context, student))

    @strawberry.field(
        description="Operators (staff, admins): the dashboard cache, its refresh queue, the services."
    )
    async def dashboard_metrics(self, info: Info) -> DashboardMetrics:
        return DashboardMetrics.from_metrics(await student_dashboard.metrics(info.context))


@strawberry.type
class DashboardMutations:
    @strawberry.mutation(description="Records what the student did on the dashboard.")
    async def track_dashboard_action(self, info: Info, input: TrackDashboardActionInput) -> OkPayload:
        return OkPayload.from_problems(
            await student_dashboard.track_action(info.context, input.action, input.target_id)
        )


@strawberry.type
class DashboardSubscriptions:
    @strawberry.subscription(description="The new dashboard whenever something that feeds it changes.")
    async def student_dashboard_updated(
        self, info: Info, student_id: strawberry.ID | None = None
    ) -> AsyncGenerator[StudentDashboard, None]:
        async for document in student_dashboard.updates(info.context, student_id):
            yield StudentDashboard.from_document(document)
