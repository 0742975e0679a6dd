"""The gradebook's events of its roster: columns (assignments), rows (enrollments), category
weights and the term, as the gradebookEvents subscription shows them (`schema.live_grading`
holds that subscription and the events of grades, locks and editors).

Events that name rows (an assignment) load them when they are resolved, with the loaders that
`resolvers.live_grading.gradebook_events` makes fresh for each event.
"""

from __future__ import annotations

from datetime import date
from typing import assert_never

import strawberry

from models.enums import TermStatus  # a GraphQL enum: registered by schema.enums
from resolvers.ids import encode_id, encode_key
from schema.academics import StudentSummary
from schema.assignments import Assignment, CategoryWeight
from schema.base import Info
from schema.enums import AssignmentCategory
from schema.users import User
from subscriptions import events

EVENT_ID = "Unique for each event; a repeat of the same event has the same id."


def event_id(kind: str, *parts: object) -> strawberry.ID:
    return strawberry.ID(encode_key(kind, *parts))


def global_class_id(pk: int) -> strawberry.ID:
    return strawberry.ID(encode_id("Class", pk))


@strawberry.type(description="A new assignment (a column) of the class.")
class AssignmentAdded:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    class_id: strawberry.ID
    by: User
    assignment_pk: strawberry.Private[int]

    @strawberry.field
    async def assignment(self, info: Info) -> Assignment:
        return Assignment.from_model(
            await info.context.loaders.assignment_by_id.load_existing(self.assignment_pk)
        )

    @classmethod
    def from_event(cls, event: events.AssignmentAdded) -> AssignmentAdded:
        return cls(
            id=event_id("AssignmentAdded", event.assignment_id, event.at.isoformat()),
            class_id=global_class_id(event.class_id),
            by=User.ref(event.by.id, event.by.name),
            assignment_pk=event.assignment_id,
        )


@strawberry.type(description="An assignment changed: its column, and the final grades, follow.")
class AssignmentChanged:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    class_id: strawberry.ID
    by: User
    assignment_pk: strawberry.Private[int]

    @strawberry.field(description="The assignment as it is when the event is delivered.")
    async def assignment(self, info: Info) -> Assignment:
        return Assignment.from_model(
            await info.context.loaders.assignment_by_id.load_existing(self.assignment_pk)
        )

    @classmethod
    def from_event(cls, event: events.AssignmentChanged) -> AssignmentChanged:
        return cls(
            id=event_id("AssignmentChanged", event.assignment_id, event.at.isoformat()),
            class_id=global_class_id(event.class_id),
            by=User.ref(event.by.id, event.by.name),
            assignment_pk=event.assignment_id,
        )


@strawberry.type(description="An assignment was archived: its column leaves the sheet (its grades are kept).")
class AssignmentRemoved:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    class_id: strawberry.ID
    assignment_id: strawberry.ID
    by: User

    @classmethod
    def from_event(cls, event: events.AssignmentRemoved) -> AssignmentRemoved:
        return cls(
            id=event_id("AssignmentRemoved", event.assignment_id, event.at.isoformat()),
            class_id=global_class_id(event.class_id),
            assignment_id=strawberry.ID(encode_id("Assignment", event.assignment_id)),
            by=User.ref(event.by.id, event.by.name),
        )


@strawberry.type(description="A student joined the class (or came back): a new row of the sheet.")
class StudentEnrolled:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    class_id: strawberry.ID
    enrollment_id: strawberry.ID
    student: StudentSummary

    @classmethod
    def from_event(cls, event: events.StudentEnrolled) -> StudentEnrolled:
        return cls(
            id=event_id("StudentEnrolled", event.enrollment_id, event.at.isoformat()),
            class_id=global_class_id(event.class_id),
            enrollment_id=strawberry.ID(encode_id("Enrollment", event.enrollment_id)),
            student=StudentSummary.of(event.student.id, event.student.name),
        )


@strawberry.type(description="A student was dropped: their row leaves the sheet (their grades are kept).")
class StudentDropped:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    class_id: strawberry.ID
    enrollment_id: strawberry.ID
    student: StudentSummary
    effective_date: date

    @classmethod
    def from_event(cls, event: events.StudentDropped) -> StudentDropped:
        return cls(
            id=event_id("StudentDropped", event.enrollment_id, event.at.isoformat()),
            class_id=global_class_id(event.class_id),
            enrollment_id=strawberry.ID(encode_id("Enrollment", event.enrollment_id)),
            student=StudentSummary.of(event.student.id, event.student.name),
            effective_date=event.effective_date,
        )


@strawberry.type(description="The class's category weights changed: the final grades follow.")
class CategoryWeightsChanged:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    class_id: strawberry.ID
    category_weights: list[CategoryWeight]

    @classmethod
    def from_event(cls, event: events.CategoryWeightsChanged) -> CategoryWeightsChanged:
        return cls(
            id=event_id("CategoryWeightsChanged", event.class_id, event.at.isoformat()),
            class_id=global_class_id(event.class_id),
            category_weights=[
                CategoryWeight(category=AssignmentCategory[value.category], weight=value.weight)
                for value in event.weights
            ],
        )


@strawberry.type(description="The class's term was closed (the sheet is read-only) or reopened.")
class TermStatusChanged:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    class_id: strawberry.ID
    term_id: strawberry.ID
    status: TermStatus

    @classmethod
    def from_event(cls, event: events.TermStatusChanged) -> TermStatusChanged:
        return cls(
            id=event_id("TermStatusChanged", event.class_id, event.status, event.at.isoformat()),
            class_id=global_class_id(event.class_id),
            term_id=strawberry.ID(encode_id("Term", event.term_id)),
            status=TermStatus[event.status],
        )


RosterEvent = (
    AssignmentAdded
    | AssignmentChanged
    | AssignmentRemoved
    | StudentEnrolled
    | StudentDropped
    | CategoryWeightsChanged
    | TermStatusChanged
)


def roster_event_of(
    event: events.AssignmentAdded
    | events.AssignmentChanged
    | events.AssignmentRemoved
    | events.StudentEnrolled
    | events.StudentDropped
    | events.CategoryWeightsChanged
    | events.TermStatusChanged,
) -> RosterEvent:
    """A roster bus event as the GraphQL event (see `schema.live_grading.event_of`)."""
    if isinstance(event, events.AssignmentAdded):
        return AssignmentAdded.from_event(event)
    if isinstance(event, events.AssignmentChanged):
        return AssignmentChanged.from_event(event)
    if isinstance(event, events.AssignmentRemoved):
        return AssignmentRemoved.from_event(event)
    return _row_event_of(event)


def _row_event_of(
    event: events.StudentEnrolled
    | events.StudentDropped
    | events.CategoryWeightsChanged
    | events.TermStatusChanged,
) -> RosterEvent:
    """The events of the gradebook's rows, weights and term."""
    if isinstance(event, events.StudentEnrolled):
        return StudentEnrolled.from_event(event)
    if isinstance(event, events.StudentDropped):
        return StudentDropped.from_event(event)
    if isinstance(event, events.CategoryWeightsChanged):
        return CategoryWeightsChanged.from_event(event)
    if isinstance(event, events.TermStatusChanged):
        return TermStatusChanged.from_event(event)
    assert_never(event)
