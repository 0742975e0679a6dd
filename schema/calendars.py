"""Calendar feeds as the API shows them: the caller's feed URL, its rotation, and its events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from errors import Problem
from resolvers import calendars
from resolvers.calendar_events import DatedEvent, EventKind
from schema.base import Info, UserError, user_errors
from schema.enums import CalendarEventKind
from schema.student_dashboard import ClassRef


@strawberry.type(description="One event of the caller's calendar (a weekly meeting: one occurrence).")
class CalendarEvent:
    uid: str = strawberry.field(
        description="The VEVENT UID in the feed; a weekly meeting's occurrences share it."
    )
    kind: CalendarEventKind
    title: str
    description: str | None
    location: str | None
    starts_at: datetime
    ends_at: datetime = strawberry.field(description="A due date ends when it starts.")
    all_day: bool
    class_: ClassRef | None = strawberry.field(name="class")

    @classmethod
    def of(cls, event: DatedEvent) -> CalendarEvent:
        return cls(
            uid=event.uid,
            kind=CalendarEventKind(event.kind.value),
            title=event.title,
            description=event.description,
            location=event.location,
            starts_at=event.starts_at,
            ends_at=event.ends_at,
            all_day=event.all_day,
            class_=ClassRef.of(event.klass.id, event.klass.title) if event.klass else None,
        )


@strawberry.input
class RotateCalendarFeedInput:
    reason: str | None = strawberry.field(default=None, description="Kept in the audit trail.")


@strawberry.type
class RotateCalendarFeedPayload:
    url: str | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: str | list[Problem]) -> RotateCalendarFeedPayload:
        if isinstance(result, list):
            return cls(url=None, user_errors=user_errors(result))
        return cls(url=result, user_errors=[])


@strawberry.type
class CalendarQueries:
    @strawberry.field(
        description="The caller's signed iCalendar URL (made on the first ask, the same until rotated)."
    )
    async def calendar_feed_url(self, info: Info) -> str:
        return await calendars.calendar_feed_url(info.context)

    @strawberry.field(
        description="The caller's calendar between `from` and `to` (at most 92 days), by start."
    )
    async def calendar_events(
        self,
        info: Info,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        kinds: list[CalendarEventKind] | None = None,
    ) -> list[CalendarEvent]:
        wanted = None if kinds is None else [EventKind(kind.value) for kind in kinds]
        found = await calendars.calendar_events(info.context, from_, to, wanted)
        return [CalendarEvent.of(event) for event in found]


@strawberry.type
class CalendarMutations:
    @strawberry.mutation(description="A new feed URL for the caller; the old one answers 404 from then on.")
    async def rotate_calendar_feed(
        self, info: Info, input: RotateCalendarFeedInput
    ) -> RotateCalendarFeedPayload:
        return RotateCalendarFeedPayload.of(await calendars.rotate_calendar_feed(info.context, input.reason))
