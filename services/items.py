"""What each service says, as pydantic models of the shapes in services.md.

Field names are snake_case here and camelCase on the wire. Lists are tuples and models are
frozen, because the last good item of a student is kept and shared between requests. Keys a
service adds beyond the contract are ignored; a missing or mistyped key fails validation, and
so fails the whole call it came in. A nullable key (`nextSession`, `dueAt`) may also be absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Shape(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, frozen=True, extra="ignore")


class Item(Shape):
    """What one read service says about one student."""


class Skill(Shape):
    name: str
    level: int
    percentile: float


class TalentScopeItem(Item):
    skills: tuple[Skill, ...]


class CoachingSession(Shape):
    starts_at: AwareDatetime
    coach_name: str


class CoachingOsItem(Item):
    next_session: CoachingSession | None = None
    goals: tuple[str, ...]


class Mission(Shape):
    id: str
    title: str
    progress: float
    due_at: AwareDatetime | None = None


class MissionsItem(Item):
    missions: tuple[Mission, ...]


class PortfolioEntry(Shape):
    id: str
    title: str
    url: str
    updated_at: AwareDatetime


class PortfolioItem(Item):
    items: tuple[PortfolioEntry, ...]


class CohortItem(Item):
    name: str
    size: int
    rank_percentile: float


class LeaderboardItem(Item):
    rank: int
    points: int
    participants: int


class Recommendation(Shape):
    title: str
    reason: str


class AiCoachItem(Item):
    recommendations: tuple[Recommendation, ...]


ITEM_MODELS: Mapping[str, type[Item]] = {
    "talentscope": TalentScopeItem,
    "coaching_os": CoachingOsItem,
    "missions": MissionsItem,
    "portfolio": PortfolioItem,
    "cohort": CohortItem,
    "leaderboard": LeaderboardItem,
    "ai_coach": AiCoachItem,
}
"""The read services (all but notifications) and the model of their items."""


class Envelope(Shape):
    """`{"items": {"<studentNumber>": {...}}}`; each item is validated by its service's model."""

    items: dict[str, dict[str, Any]]


class NotificationPayload(Shape):
    """The body of `POST /v1/notifications`."""

    id: str
    user_id: str
    kind: str
    title: str
    body: str
    created_at: AwareDatetime
