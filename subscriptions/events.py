"""What travels on the event bus: one class per event, shared by its publishers and subscribers.

An event is a frozen pydantic model: `EventBus.publish` sends it as JSON (through Redis
pub/sub between processes) and `EventBus.subscribe` validates it back into the same class,
so strict mypy checks both sides and nobody parses keys by hand. The bus hands one event
object to every subscriber of a process: frozen, so that none can change it for the others.

Each channel of `subscriptions.channels` carries one class, except the gradebook's, which
carries `GradebookEvent`: several classes told apart by their `type` literal.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from models.base import utcnow
from models.enums import GradeStatus
from subscriptions.locks import CellLock


class Payload(BaseModel):
    """An event or a value it carries: immutable."""

    model_config = ConfigDict(frozen=True)


# --- user_sessions_channel ----------------------------------------------------------------------


class SessionRevoked(Payload):
    """A session of the user was logged out: its live connections end, in every process."""

    session_id: str | None = Field(description="None: every session of the user.")


# --- user_notifications_channel -----------------------------------------------------------------


class NotificationAdded(Payload):
    """A new notification of the user, committed: subscribers read it from the database."""

    notification_id: int


# --- user_announcements_channel -----------------------------------------------------------------


class AnnouncementPublished(Payload):
    """A new announcement copy of the user, committed, its in-app delivery made: subscribers
    read it from the database."""

    communication_id: int


# --- conversation_channel -----------------------------------------------------------------------


class MessageAdded(Payload):
    """A new message of the conversation, committed: subscribers read it from the database."""

    message_id: int


# --- gradebook_channel --------------------------------------------------------------------------


class UserRef(Payload):
    id: int
    name: str


class GradeSnapshot(Payload):
    """A grade as a write left it; `adjusted_score` and `letter` as it counts (its status)."""

    id: int
    score: float | None
    adjusted_score: float | None = None
    letter: str | None
    status: GradeStatus = GradeStatus.NONE
    late_penalty: float | None = None
    comment: str | None = None
    version: int
    updated_at: datetime


class GradeUpdated(Payload):
    type: Literal["GradeUpdated"] = "GradeUpdated"
    student_id: int
    assignment_id: int
    grade: GradeSnapshot
    by: UserRef
    lock: CellLock | None = Field(description="The lock as the write found it: the writer's, or none.")


class CellLocked(Payload):
    type: Literal["CellLocked"] = "CellLocked"
    lock: CellLock


class CellUnlocked(Payload):
    type: Literal["CellUnlocked"] = "CellUnlocked"
    student_id: int
    assignment_id: int
    at: datetime


class EditorEntry(Payload):
    """One user editing the gradebook, however many tabs they have open, and their cursor."""

    user_id: int
    name: str
    focus: tuple[int, int] | None = Field(description="(student id, assignment id)")


class EditorsChanged(Payload):
    type: Literal["EditorsChanged"] = "EditorsChanged"
    editors: tuple[EditorEntry, ...] = Field(description="In name order.")


class FinalGradesCalculated(Payload):
    type: Literal["FinalGradesCalculated"] = "FinalGradesCalculated"
    class_id: int
    at: datetime


class RosterEvent(Payload):
    """A change of the gradebook's columns, rows, weights or term. `at` (set where it is
    published) tells two changes of the same things apart."""

    at: datetime = Field(default_factory=utcnow, description="When it was published.")


class AssignmentAdded(RosterEvent):
    """A new assignment (a column) of the class, committed: subscribers read it from the database."""

    type: Literal["AssignmentAdded"] = "AssignmentAdded"
    class_id: int
    assignment_id: int
    by: UserRef


class AssignmentChanged(RosterEvent):
    type: Literal["AssignmentChanged"] = "AssignmentChanged"
    class_id: int
    assignment_id: int
    by: UserRef


class AssignmentRemoved(RosterEvent):
    """An assignment was archived: it leaves the sheet (its grades are kept)."""

    type: Literal["AssignmentRemoved"] = "AssignmentRemoved"
    class_id: int
    assignment_id: int
    by: UserRef


class StudentEnrolled(RosterEvent):
    type: Literal["StudentEnrolled"] = "StudentEnrolled"
    class_id: int
    enrollment_id: int
    student: UserRef


class StudentDropped(RosterEvent):
    type: Literal["StudentDropped"] = "StudentDropped"
    class_id: int
    enrollment_id: int
    student: UserRef
    effective_date: date


class CategoryWeightValue(Payload):
    category: str = Field(description="An AssignmentCategory name.")
    weight: float


class CategoryWeightsChanged(RosterEvent):
    type: Literal["CategoryWeightsChanged"] = "CategoryWeightsChanged"
    class_id: int
    weights: tuple[CategoryWeightValue, ...]


class TermStatusChanged(RosterEvent):
    """The class's term was closed (the sheet is read-only) or reopened."""

    type: Literal["TermStatusChanged"] = "TermStatusChanged"
    class_id: int
    term_id: int
    status: str = Field(description="A TermStatus name.")


class ClassTeachersChanged(Payload):
    """The class's teachers as a write left them. Internal: never shown to clients. Each open
    gradebook checks its user against it and ends (FORBIDDEN) for a teacher no longer among them,
    on every process (resolvers.live_grading)."""

    type: Literal["ClassTeachersChanged"] = "ClassTeachersChanged"
    class_id: int
    teacher_ids: tuple[int, ...]


# What the gradebookEvents subscription shows; the channel also carries ClassTeachersChanged.
ClientGradebookEvent = (
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
    | TermStatusChanged
)
GradebookEvent = Annotated[ClientGradebookEvent | ClassTeachersChanged, Field(discriminator="type")]
GRADEBOOK_EVENTS: TypeAdapter[GradebookEvent] = TypeAdapter(GradebookEvent)


# --- student_dashboard_channel, teacher_dashboard_channel ---------------------------------------


class StudentDashboardChanged(Payload):
    """The student's newly assembled dashboard."""

    # The cached dashboard document, untyped until that document has a model of its own.
    dashboard: dict[str, Any]


class TeacherDashboardChanged(Payload):
    """Something on the teacher's dashboard changed: subscribers assemble the new one."""


# --- roster_import_channel ----------------------------------------------------------------------


class RosterImportProgressed(Payload):
    """The import's progress, counts or status changed: subscribers read it from the database."""

    import_id: int
