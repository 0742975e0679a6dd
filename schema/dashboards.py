"""The student dashboard (and its operators' metrics) as the API shows it.

The dashboard is one JSON document (resolvers/dashboards.py) so that it can be cached and
pushed whole; these types read it.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import strawberry

from resolvers import dashboards
from resolvers.ids import encode_id, encode_key
from schema.base import Info, OkPayload
from schema.enums import Tier


@strawberry.enum
class SectionStatus(enum.Enum):
    OK = "OK"
    STALE = "STALE"
    UNAVAILABLE = "UNAVAILABLE"
    LOCKED = "LOCKED"


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


@strawberry.type
class DashboardStudent:
    id: strawberry.ID
    name: str
    tier: Tier


@strawberry.type
class ClassRef:
    id: strawberry.ID
    title: str


@strawberry.type
class CourseGrade:
    percentage: float | None
    letter: str | None


@strawberry.type
class DashboardCourse:
    class_: ClassRef = strawberry.field(name="class")
    current_grade: CourseGrade
    attendance_rate: float | None


@strawberry.type
class UpcomingAssignment:
    id: strawberry.ID
    title: str
    due_at: datetime | None
    class_: ClassRef = strawberry.field(name="class")


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


def _head(section: dict[str, Any]) -> tuple[SectionStatus, datetime | None, dict[str, Any]]:
    return SectionStatus(section["status"]), _time(section.get("updatedAt")), section.get("data") or {}


@strawberry.type
class StudentDashboard:
    student: DashboardStudent
    generated_at: datetime
    stale: bool = strawberry.field(description="Served from the cache while a newer one is made.")
    courses: list[DashboardCourse]
    document: strawberry.Private[dict[str, Any]]

    @classmethod
    def from_document(cls, document: dict[str, Any]) -> StudentDashboard:
        student_id = document["studentId"]
        return cls(
            student=DashboardStudent(
                id=strawberry.ID(encode_id("Student", student_id)),
                name=document["name"],
                tier=Tier(document["tier"]),
            ),
            generated_at=datetime.fromtimestamp(document["generatedAt"], UTC),
            stale=bool(document.get("stale")),
            courses=[
                DashboardCourse(
                    class_=ClassRef(id=strawberry.ID(encode_id("Class", c["classId"])), title=c["title"]),
                    current_grade=CourseGrade(percentage=c["percentage"], letter=c["letter"]),
                    attendance_rate=c["attendanceRate"],
                )
                for c in document["courses"]
            ],
            document=document,
        )

    def _item_id(self, kind: str, service_id: str) -> strawberry.ID:
        return strawberry.ID(encode_key(kind, self.document["studentId"], service_id))

    def _section(self, name: str) -> dict[str, Any]:
        section: dict[str, Any] = self.document["sections"][name]
        return section

    @strawberry.field
    def upcoming_assignments(self, first: int = 5) -> list[UpcomingAssignment]:
        return [
            UpcomingAssignment(
                id=strawberry.ID(encode_id("Assignment", a["id"])),
                title=a["title"],
                due_at=_time(a["dueAt"]),
                class_=ClassRef(id=strawberry.ID(encode_id("Class", a["classId"])), title=a["classTitle"]),
            )
            for a in self.document["upcoming"][: max(0, min(first, dashboards.UPCOMING))]
        ]

    @strawberry.field
    def skills(self) -> SkillsSection:
        status, at, data = _head(self._section("skills"))
        return SkillsSection(
            status=status, updated_at=at, items=[SkillItem(**s) for s in data.get("skills", [])]
        )

    @strawberry.field
    def coaching(self) -> CoachingSection:
        status, at, data = _head(self._section("coaching"))
        session = data.get("nextSession")
        return CoachingSection(
            status=status,
            updated_at=at,
            next_session=CoachingSession(
                starts_at=datetime.fromisoformat(session["startsAt"]), coach_name=session["coachName"]
            )
            if session
            else None,
            goals=list(data.get("goals", [])),
        )

    @strawberry.field
    def missions(self) -> MissionsSection:
        status, at, data = _head(self._section("missions"))
        items = [
            MissionItem(
                id=self._item_id("Mission", m["id"]),
                title=m["title"],
                progress=m["progress"],
                due_at=_time(m.get("dueAt")),
            )
            for m in data.get("missions", [])
        ]
        return MissionsSection(status=status, updated_at=at, items=items)

    @strawberry.field
    def portfolio(self) -> PortfolioSection:
        status, at, data = _head(self._section("portfolio"))
        items = [
            PortfolioItem(
                id=self._item_id("PortfolioItem", p["id"]),
                title=p["title"],
                url=p["url"],
                updated_at=datetime.fromisoformat(p["updatedAt"]),
            )
            for p in data.get("items", [])
        ]
        return PortfolioSection(status=status, updated_at=at, items=items)

    @strawberry.field
    def cohort(self) -> CohortSection:
        status, at, data = _head(self._section("cohort"))
        return CohortSection(
            status=status, updated_at=at, name=data.get("name"), size=data.get("size"),
            rank_percentile=data.get("rankPercentile"),
        )  # fmt: skip

    @strawberry.field
    def notifications(self) -> NotificationsSection:
        section = self._section("notifications")
        return NotificationsSection(
            status=SectionStatus(section["status"]), unread_count=section["unreadCount"]
        )

    @strawberry.field
    def leaderboard(self) -> LeaderboardSection:
        status, at, data = _head(self._section("leaderboard"))
        return LeaderboardSection(
            status=status, updated_at=at, rank=data.get("rank"), points=data.get("points"),
            participants=data.get("participants"),
        )  # fmt: skip

    @strawberry.field(
        description="Premium only: LOCKED for free-tier students, whose data is never asked for."
    )
    def ai_coach(self) -> AiCoachSection:
        status, at, data = _head(self._section("aiCoach"))
        items = [Recommendation(**r) for r in data.get("recommendations", [])]
        return AiCoachSection(status=status, updated_at=at, recommendations=items)


@strawberry.type
class ServiceHealth:
    service: str
    status: str = strawberry.field(
        description="OK, DEGRADED (failing, circuit closed), DOWN (circuit open) or OFF."
    )
    latency_ms: float | None
    last_error: str | None


@strawberry.type
class DashboardMetrics:
    cache_hit_rate: float | None
    cached_dashboards: int
    stale_dashboards: int
    refresh_queue_depth: int
    oldest_stale_seconds: float | None
    service_health: list[ServiceHealth]


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
        student = await dashboards.student_for_dashboard(info.context, student_id)
        return StudentDashboard.from_document(await dashboards.dashboard(info.context, student))

    @strawberry.field(
        description="Operators (staff, admins): the dashboard cache, its refresh queue, the services."
    )
    async def dashboard_metrics(self, info: Info) -> DashboardMetrics:
        found = await dashboards.metrics(info.context)
        health = [
            ServiceHealth(
                service=h.service, status=h.status, latency_ms=h.latency_ms, last_error=h.last_error
            )
            for h in found.pop("serviceHealth")
        ]
        return DashboardMetrics(
            cache_hit_rate=found["cacheHitRate"],
            cached_dashboards=found["cachedDashboards"],
            stale_dashboards=found["staleDashboards"],
            refresh_queue_depth=found["refreshQueueDepth"],
            oldest_stale_seconds=found["oldestStaleSeconds"],
            service_health=health,
        )


@strawberry.type
class DashboardMutations:
    @strawberry.mutation(description="Records what the student did on the dashboard.")
    async def track_dashboard_action(self, info: Info, input: TrackDashboardActionInput) -> OkPayload:
        return OkPayload.from_problems(
            await dashboards.track_action(info.context, input.action, input.target_id)
        )


@strawberry.type
class DashboardSubscriptions:
    @strawberry.subscription(description="The new dashboard whenever something that feeds it changes.")
    async def student_dashboard_updated(
        self, info: Info, student_id: strawberry.ID | None = None
    ) -> AsyncGenerator[StudentDashboard, None]:
        async for document in dashboards.updates(info.context, student_id):
            yield StudentDashboard.from_document(document)
