"""Schedule conflicts as the API shows them: overlapping bookings of a teacher, room or student."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Annotated

import strawberry

from resolvers import schedule
from schema.base import Info


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


@strawberry.type
class ScheduleQueries:
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
