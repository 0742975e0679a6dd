"""Live grading as the API shows it: cell locks, who is editing (presence), and the
gradebookEvents subscription with its events of grades, locks and editors (those of the roster
are in `schema.roster_events`).

The sheet's cell (GradeCell) and a grade (Grade) are defined here too: the events carry them,
and this module cannot import schema.grading or schema.grade_writes, which show them as well
(built from their resolvers' results) and import this one.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncGenerator
from datetime import datetime
from typing import Annotated

import strawberry

from models.enums import GradeStatus  # a GraphQL enum: registered by schema.enums
from resolvers import live_grading
from resolvers.ids import encode_id, encode_key
from schema.base import Info, Node, OkPayload, UserError, user_errors
from schema.roster_events import (
    EVENT_ID,
    AssignmentAdded,
    AssignmentChanged,
    AssignmentRemoved,
    CategoryWeightsChanged,
    StudentDropped,
    StudentEnrolled,
    TermStatusChanged,
    event_id,
    roster_event_of,
)
from schema.users import User
from subscriptions import events
from subscriptions.locks import CellLock as CellLockModel


def global_student_id(pk: int) -> strawberry.ID:
    return strawberry.ID(encode_id("Student", pk))


def global_assignment_id(pk: int) -> strawberry.ID:
    return strawberry.ID(encode_id("Assignment", pk))


@strawberry.type
class CellLock:
    holder: User
    expires_at: datetime

    @classmethod
    def from_lock(cls, lock: CellLockModel) -> CellLock:
        return cls(holder=User.ref(lock.holder_id, lock.holder_name), expires_at=lock.expires_at)


ADJUSTED = "What the score counts for: LATE less its penalty, MISSING 0, EXCUSED null."
LETTER = "The adjusted score's letter."


@strawberry.type(description="One student's grade for one assignment: a position of the sheet.")
class GradeCell:
    assignment_id: strawberry.ID
    score: float | None
    adjusted_score: float | None = strawberry.field(description=ADJUSTED)
    letter: str | None = strawberry.field(description=LETTER)
    status: GradeStatus
    late_penalty: float | None = strawberry.field(
        description="LATE only: the percent of the score taken off."
    )
    comment: str | None
    version: int = strawberry.field(description="0 before the first grade; send it back as expectedVersion.")
    lock: CellLock | None
    student_pk: strawberry.Private[int]
    assignment_pk: strawberry.Private[int]

    @strawberry.field(description="The same for the same student and assignment, in every answer and event.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_key("GradeCell", self.student_pk, self.assignment_pk))

    @strawberry.field
    def student_id(self) -> strawberry.ID:
        return global_student_id(self.student_pk)


@strawberry.type
class Grade(Node):
    score: float | None
    adjusted_score: float | None = strawberry.field(description=ADJUSTED)
    letter: str | None = strawberry.field(description=LETTER)
    status: GradeStatus
    late_penalty: float | None
    comment: str | None
    version: int
    updated_at: datetime
    updated_by_id: strawberry.Private[int | None]

    @strawberry.field
    async def updated_by(self, info: Info) -> User | None:
        if self.updated_by_id is None:
            return None
        user = await info.context.loaders.user_by_id.load(self.updated_by_id)
        return User.from_model(user) if user else None


@strawberry.type
class CellFocus:
    student_id: strawberry.ID
    assignment_id: strawberry.ID


@strawberry.type
class GradebookEditor:
    user: User
    focus: CellFocus | None

    @classmethod
    def from_entry(cls, entry: events.EditorEntry) -> GradebookEditor:
        focus = None
        if entry.focus:
            student_pk, assignment_pk = entry.focus
            focus = CellFocus(
                student_id=global_student_id(student_pk), assignment_id=global_assignment_id(assignment_pk)
            )
        return cls(user=User.ref(entry.user_id, entry.name), focus=focus)


@strawberry.input
class GradeCellInput:
    student_id: strawberry.ID
    assignment_id: strawberry.ID


@strawberry.type
class LockGradeCellPayload:
    lock: CellLock | None
    user_errors: list[UserError]


@strawberry.type
class UnlockGradeCellPayload:
    released: bool
    user_errors: list[UserError]


@strawberry.type
class GradeUpdated:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    student_id: strawberry.ID
    assignment_id: strawberry.ID
    grade: Grade
    cell: GradeCell = strawberry.field(description="The sheet's cell as this write left it.")
    by: User

    @classmethod
    def from_event(cls, event: events.GradeUpdated) -> GradeUpdated:
        grade, by = event.grade, event.by
        assignment_id = global_assignment_id(event.assignment_id)
        return cls(
            id=event_id("GradeUpdated", grade.id, grade.version),
            student_id=global_student_id(event.student_id),
            assignment_id=assignment_id,
            grade=Grade(
                id=strawberry.ID(encode_id("Grade", grade.id)),
                score=grade.score,
                adjusted_score=grade.adjusted_score,
                letter=grade.letter,
                status=grade.status,
                late_penalty=grade.late_penalty,
                comment=grade.comment,
                version=grade.version,
                updated_at=grade.updated_at,
                updated_by_id=by.id,
            ),
            cell=GradeCell(
                assignment_id=assignment_id,
                score=grade.score,
                adjusted_score=grade.adjusted_score,
                letter=grade.letter,
                status=grade.status,
                late_penalty=grade.late_penalty,
                comment=grade.comment,
                version=grade.version,
                lock=CellLock.from_lock(event.lock) if event.lock else None,
                student_pk=event.student_id,
                assignment_pk=event.assignment_id,
            ),
            by=User.ref(by.id, by.name),
        )


@strawberry.type
class CellLocked:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    student_id: strawberry.ID
    assignment_id: strawberry.ID
    holder: User
    expires_at: datetime

    @classmethod
    def from_event(cls, event: events.CellLocked) -> CellLocked:
        lock = event.lock
        return cls(
            id=event_id("CellLocked", lock.student_id, lock.assignment_id, lock.expires_at.isoformat()),
            student_id=global_student_id(lock.student_id),
            assignment_id=global_assignment_id(lock.assignment_id),
            holder=User.ref(lock.holder_id, lock.holder_name),
            expires_at=lock.expires_at,
        )


@strawberry.type
class CellUnlocked:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    student_id: strawberry.ID
    assignment_id: strawberry.ID

    @classmethod
    def from_event(cls, event: events.CellUnlocked) -> CellUnlocked:
        return cls(
            id=event_id("CellUnlocked", event.student_id, event.assignment_id, event.at.isoformat()),
            student_id=global_student_id(event.student_id),
            assignment_id=global_assignment_id(event.assignment_id),
        )


@strawberry.type
class EditorsChanged:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    editors: list[GradebookEditor]

    @classmethod
    def from_event(cls, event: events.EditorsChanged) -> EditorsChanged:
        digest = hashlib.blake2b(event.model_dump_json().encode(), digest_size=12).hexdigest()
        return cls(
            id=event_id("EditorsChanged", digest),
            editors=[GradebookEditor.from_entry(entry) for entry in event.editors],
        )


@strawberry.type
class FinalGradesCalculated:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    class_id: strawberry.ID

    @classmethod
    def from_event(cls, event: events.FinalGradesCalculated) -> FinalGradesCalculated:
        return cls(
            id=event_id("FinalGradesCalculated", event.class_id, event.at.isoformat()),
            class_id=strawberry.ID(encode_id("Class", event.class_id)),
        )


GradebookEvent = Annotated[
    GradeUpdated
    | CellLocked
    | CellUnlocked
    | EditorsChanged
    | FinalGradesCalculated
    | AssignmentAdded
    | AssignmentChanged
    | AssignmentRemoved
    | StudentEnrolled
    | StudentDropped
    | CategoryWeightsChanged
    | TermStatusChanged,
    strawberry.union("GradebookEvent"),
]


def event_of(event: events.ClientGradebookEvent) -> GradebookEvent:
    """A bus event as the GraphQL event; once per event and process (see `EventBus.subscribe`).
    The channel's internal ClassTeachersChanged never gets here: `READER` keeps it for the
    subscription, which checks it and shows no client anything of it."""
    if isinstance(event, events.GradeUpdated):
        return GradeUpdated.from_event(event)
    if isinstance(event, events.CellLocked):
        return CellLocked.from_event(event)
    if isinstance(event, events.CellUnlocked):
        return CellUnlocked.from_event(event)
    if isinstance(event, events.EditorsChanged):
        return EditorsChanged.from_event(event)
    if isinstance(event, events.FinalGradesCalculated):
        return FinalGradesCalculated.from_event(event)
    return roster_event_of(event)


READER = live_grading.GradebookReader(event_of)  # one for every subscription: see GradebookReader


@strawberry.type
class LiveGradingMutations:
    @strawberry.mutation(description="Takes (or renews) the lock of a cell for 30 seconds.")
    async def lock_grade_cell(self, info: Info, input: GradeCellInput) -> LockGradeCellPayload:
        result = await live_grading.lock_cell(info.context, str(input.student_id), str(input.assignment_id))
        if isinstance(result, list):
            return LockGradeCellPayload(lock=None, user_errors=user_errors(result))
        return LockGradeCellPayload(lock=CellLock.from_lock(result), user_errors=[])

    @strawberry.mutation
    async def unlock_grade_cell(self, info: Info, input: GradeCellInput) -> UnlockGradeCellPayload:
        student_id, assignment_id = str(input.student_id), str(input.assignment_id)
        released = await live_grading.unlock_cell(info.context, student_id, assignment_id)
        return UnlockGradeCellPayload(released=released, user_errors=[])

    @strawberry.mutation(description="Moves the caller's cursor (presence) for the other editors.")
    async def focus_grade_cell(self, info: Info, input: GradeCellInput) -> OkPayload:
        student_id, assignment_id = str(input.student_id), str(input.assignment_id)
        problems = await live_grading.focus_cell(info.context, student_id, assignment_id)
        return OkPayload.from_problems(problems)


@strawberry.type
class LiveGradingSubscriptions:
    @strawberry.subscription(description="Every change to a class's gradebook, from any server process.")
    async def gradebook_events(
        self, info: Info, class_id: strawberry.ID
    ) -> AsyncGenerator[GradebookEvent, None]:
        # Closed with the subscription, not when garbage collected: leaving the gradebook
        # (presence, locks) must not wait for the collector, nor outlive the app.
        gradebook_events: AsyncGenerator[GradebookEvent, None] = live_grading.gradebook_events(
            info.context, class_id, READER
        )
        async with contextlib.aclosing(gradebook_events):
            async for event in gradebook_events:
                yield event
