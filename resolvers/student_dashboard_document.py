"""The student dashboard as one typed document: resolvers/student_dashboard.py assembles it, the
cache keeps it as JSON (stores/dashboard_cache.py, in Redis for every process), the bus pushes
it, and schema/student_dashboard.py's types wrap it. One definition for all of them.

The sections embed the services' own items (services/items.py). Those validate by their
camelCase wire names only and ignore unknown keys, so an item dumped by its Python names would
come back silently emptied: `ServiceSection` therefore always dumps its item by alias, and any
dump of the document (`model_dump_json()`, `model_dump(mode="json")`) validates back as it was.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, SerializationInfo, field_serializer

from models.enums import Tier
from services.clients import SectionStatus
from services.items import (
    AiCoachItem,
    CoachingOsItem,
    CohortItem,
    Item,
    LeaderboardItem,
    MissionsItem,
    PortfolioItem,
    TalentScopeItem,
)

ItemT = TypeVar("ItemT", bound=Item)


class _Part(BaseModel):
    # Frozen: the memory cache and the bus share one document between requests and subscribers.
    model_config = ConfigDict(frozen=True)


class ServiceSection(_Part, Generic[ItemT]):
    """A service's section as services.clients.Section gives it (validated from its attributes),
    or LOCKED with no data. Only OK and STALE sections may have data."""

    status: SectionStatus
    updated_at: AwareDatetime | None = None
    data: ItemT | None = None

    @field_serializer("data")
    def _data_by_alias(self, data: ItemT | None, info: SerializationInfo) -> dict[str, Any] | None:
        if data is None:
            return None
        return data.model_dump(mode="json" if info.mode_is_json() else "python", by_alias=True)


class DashboardSections(_Part):
    """One field per section the services fill; the field names are the API's sections."""

    skills: ServiceSection[TalentScopeItem]
    coaching: ServiceSection[CoachingOsItem]
    missions: ServiceSection[MissionsItem]
    portfolio: ServiceSection[PortfolioItem]
    cohort: ServiceSection[CohortItem]
    leaderboard: ServiceSection[LeaderboardItem]
    ai_coach: ServiceSection[AiCoachItem]


class CourseStanding(_Part):
    """One class the student is actively enrolled in."""

    class_id: int
    title: str
    percentage: float | None
    letter: str | None
    attendance_rate: float | None


class AssignmentDue(_Part):
    id: int
    title: str
    due_at: AwareDatetime | None
    class_id: int
    class_title: str


class StudentDashboardDocument(_Part):
    student_id: int
    name: str
    tier: Tier
    generated_at: AwareDatetime
    stale: bool = False  # set on a copy when it is served from the cache after FRESH_SECONDS
    courses: tuple[CourseStanding, ...]
    upcoming: tuple[AssignmentDue, ...]  # the next UPCOMING, soonest first
    sections: DashboardSections
    unread_notifications: int
