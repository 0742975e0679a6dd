"""`communicationHistory`: what the school sent to a person, for its staff and admins."""

from __future__ import annotations

from datetime import datetime

import strawberry

from models.enums import CommunicationChannel, DeliveryStatus, NotificationCategory  # GraphQL enums
from resolvers.announcements import history
from resolvers.announcements.history import HistoryFilter
from schema.announcements import Communication
from schema.base import Connection, Info, connection_of


@strawberry.input(description="Given fields narrow the list; all of them hold.")
class CommunicationHistoryFilter:
    student_id: strawberry.ID | None = strawberry.field(
        default=None, description="Messages to the student, and to their guardians about them."
    )
    guardian_id: strawberry.ID | None = strawberry.field(
        default=None, description="Messages to the guardian."
    )
    channel: CommunicationChannel | None = None
    category: NotificationCategory | None = None
    delivery_status: list[DeliveryStatus] | None = None
    from_: datetime | None = strawberry.field(default=None, name="from", description="sentAt at or after.")
    to: datetime | None = strawberry.field(default=None, description="sentAt at or before.")


@strawberry.type
class CommunicationHistoryQueries:
    @strawberry.field(
        description="Every message the school sent to a person, newest first (staff and admins only)."
    )
    async def communication_history(
        self,
        info: Info,
        filter: CommunicationHistoryFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Communication]:
        given = filter or CommunicationHistoryFilter()
        where = HistoryFilter(
            student_id=str(given.student_id) if given.student_id is not None else None,
            guardian_id=str(given.guardian_id) if given.guardian_id is not None else None,
            channel=given.channel,
            category=given.category,
            delivery_statuses=given.delivery_status,
            sent_from=given.from_,
            sent_to=given.to,
        )
        page = await history.communication_history(info.context, where, first, after)
        return connection_of(page, Communication.from_model)
