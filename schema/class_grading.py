"""A class's grading setup on its page: its category weights and assignments
(`Class.categoryWeights`, `Class.assignments`).

A base class of the type it extends, so that it is written apart from that type's module, which
it must not import at import time (strawberry.lazy for the way back).
"""

from __future__ import annotations

import strawberry

from resolvers import assignments as columns
from schema.assignments import Assignment, CategoryWeight
from schema.base import Connection, Info, connection_of


@strawberry.type
class ClassGradingFields:
    class_id: strawberry.Private[int]
    course_id: strawberry.Private[int]

    @strawberry.field(description="How the categories count towards the grade (percent, adding up to 100).")
    async def category_weights(self, info: Info) -> list[CategoryWeight]:
        weights = await columns.class_weights(info.context, self.class_id)
        return [CategoryWeight(category=category, weight=weight) for category, weight in weights]

    @strawberry.field(
        description="The gradebook's assignments (not archived), by due date; students and guardians "
        "see the published ones."
    )
    async def assignments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Assignment]:
        page = await columns.class_assignments(info.context, self.class_id, first, after)
        return connection_of(page, Assignment.from_model)
