"""The gradebook as the API shows it: the sheet, grade writes, locks, presence, live events."""

from __future__ import annotations

import enum
import hashlib
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import orjson
import strawberry

from models import Assignment as AssignmentModel
from resolvers import grade_writes, grading, live_grading, reports
from resolvers.grade_writes import GradeInput, WrittenGrade
from resolvers.grading import Cell, FinalResult
from resolvers.ids import encode_id, encode_key
from schema.academics import Class, StudentSummary
from schema.base import Info, Node, OkPayload, UserError, user_errors
from schema.enums import AssignmentCategory
from schema.users import User
from subscriptions.locks import CellLock as CellLockModel


def _student_id(pk: int) -> strawberry.ID:
    return strawberry.ID(encode_id("Student", pk))


def _assignment_id(pk: int) -> strawberry.ID:
    return strawberry.ID(encode_id("Assignment", pk))


@strawberry.type
class Assignment(Node):
    title: str
    category: AssignmentCategory
    max_score: float
    weight: float
    due_at: datetime | None

    @classmethod
    def from_model(cls, row: AssignmentModel) -> Assignment:
        return cls(
            id=_assignment_id(row.id),
            title=row.title,
            category=row.category,
            max_score=row.max_score,
            weight=row.weight,
            due_at=row.due_at,
        )


@strawberry.type
class CellLock:
    holder: User
    expires_at: datetime

    @classmethod
    def from_lock(cls, lock: CellLockModel) -> CellLock:
        return cls(holder=User.ref(lock.holder_id, lock.holder_name), expires_at=lock.expires_at)


@strawberry.type(description="One student's grade for one assignment: a position of the sheet.")
class GradeCell:
    assignment_id: strawberry.ID
    score: float | None
    letter: str | None
    version: int = strawberry.field(description="0 before the first grade; send it back as expectedVersion.")
    lock: CellLock | None
    student_pk: strawberry.Private[int]
    assignment_pk: strawberry.Private[int]

    @classmethod
    def from_cell(cls, cell: Cell, student_pk: int, assignment_ids: dict[int, strawberry.ID]) -> GradeCell:
        """`assignment_ids`: the sheet's assignments' global ids, encoded once, not once per cell."""
        return cls(
            assignment_id=assignment_ids[cell.assignment_id],
            score=cell.score,
            letter=cell.letter,
            version=cell.version,
            lock=CellLock.from_lock(cell.lock) if cell.lock else None,
            student_pk=student_pk,
            assignment_pk=cell.assignment_id,
        )

    @classmethod
    def from_written(cls, written: WrittenGrade) -> GradeCell:
        grade = written.grade
        return cls(
            assignment_id=_assignment_id(grade.assignment_id),
            score=grade.score,
            letter=written.letter,
            version=grade.version,
            lock=CellLock.from_lock(written.lock) if written.lock else None,
            student_pk=grade.student_id,
            assignment_pk=grade.assignment_id,
        )

    @strawberry.field(description="The same for the same student and assignment, in every answer and event.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_key("GradeCell", self.student_pk, self.assignment_pk))

    @strawberry.field
    def student_id(self) -> strawberry.ID:
        return _student_id(self.student_pk)


@strawberry.type
class FinalGrade:
    percentage: float | None
    letter: str | None
    grade_points: float | None

    @classmethod
    def of(cls, result: FinalResult) -> FinalGrade:
        return cls(percentage=result.percentage, letter=result.letter, grade_points=result.grade_points)


FINAL_GRADE_RULE = "By category weights; work past due and ungraded counts as zero, work not yet due doesn't."


@strawberry.type
class GradebookRow:
    student: StudentSummary
    cells: list[GradeCell]
    final_grade: FinalGrade = strawberry.field(description=FINAL_GRADE_RULE)


@strawberry.type
class CellFocus:
    student_id: strawberry.ID
    assignment_id: strawberry.ID


@strawberry.type
class GradebookEditor:
    user: User
    focus: CellFocus | None

    @classmethod
    def from_payload(cls, entry: dict[str, Any]) -> GradebookEditor:
        focus = entry.get("focus")
        return cls(
            user=User.ref(entry["id"], entry["name"]),
            focus=CellFocus(student_id=_student_id(focus[0]), assignment_id=_assignment_id(focus[1]))
            if focus
            else None,
        )


@strawberry.type
class Gradebook:
    class_: Class = strawberry.field(name="class")
    assignments: list[Assignment]
    rows: list[GradebookRow]
    editors: list[GradebookEditor]


@strawberry.type
class Grade(Node):
    score: float | None
    letter: str | None
    version: int
    updated_at: datetime
    updated_by_id: strawberry.Private[int | None]

    @classmethod
    def from_written(cls, written: WrittenGrade) -> Grade:
        grade = written.grade
        return cls(
            id=strawberry.ID(encode_id("Grade", grade.id)),
            score=grade.score,
            letter=written.letter,
            version=grade.version,
            updated_at=grade.updated_at,
            updated_by_id=grade.updated_by_id,
        )

    @strawberry.field
    async def updated_by(self, info: Info) -> User | None:
        if self.updated_by_id is None:
            return None
        user = await info.context.loaders.user_by_id.load(self.updated_by_id)
        return User.from_model(user) if user else None


@strawberry.type
class GradeHistoryEntry:
    score: float | None
    version: int
    changed_at: datetime
    changed_by_id: strawberry.Private[int | None]

    @strawberry.field
    async def changed_by(self, info: Info) -> User | None:
        if self.changed_by_id is None:
            return None
        user = await info.context.loaders.user_by_id.load(self.changed_by_id)
        return User.from_model(user) if user else None


@strawberry.input
class UpdateGradeInput:
    student_id: strawberry.ID
    assignment_id: strawberry.ID
    score: float | None = strawberry.field(description="null clears the cell.")
    expected_version: int | None = strawberry.field(
        default=None, description="The version the editor saw; a stale one gives VERSION_CONFLICT."
    )


@strawberry.input
class GradeUpdateItem:
    student_id: strawberry.ID
    assignment_id: strawberry.ID
    score: float | None
    expected_version: int | None = None


@strawberry.input
class BulkUpdateGradesInput:
    class_id: strawberry.ID
    updates: list[GradeUpdateItem]
    atomic: bool | None = strawberry.field(default=True, description="true (default): all or nothing.")


@strawberry.input
class GradeCellInput:
    student_id: strawberry.ID
    assignment_id: strawberry.ID


@strawberry.input
class CalculateFinalGradesInput:
    class_id: strawberry.ID


@strawberry.type
class UpdateGradePayload:
    grade: Grade | None
    cell: GradeCell | None = strawberry.field(description="The sheet's cell as this write left it.")
    user_errors: list[UserError]


@strawberry.type
class BulkUpdateGradesPayload:
    processed_count: int
    failed_count: int
    grades: list[Grade]
    cells: list[GradeCell] = strawberry.field(description="The sheet's cells as these writes left them.")
    user_errors: list[UserError]


@strawberry.type
class LockGradeCellPayload:
    lock: CellLock | None
    user_errors: list[UserError]


@strawberry.type
class UnlockGradeCellPayload:
    released: bool
    user_errors: list[UserError]


@strawberry.type
class FinalGradeResult:
    student: StudentSummary
    percentage: float | None
    letter: str | None
    grade_points: float | None


@strawberry.type
class CalculateFinalGradesPayload:
    final_grades: list[FinalGradeResult]
    user_errors: list[UserError]


EVENT_ID = "Unique for each event; a repeat of the same event has the same id."


@strawberry.type
class GradeUpdated:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    student_id: strawberry.ID
    assignment_id: strawberry.ID
    grade: Grade
    cell: GradeCell = strawberry.field(description="The sheet's cell as this write left it.")
    by: User


@strawberry.type
class CellLocked:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    student_id: strawberry.ID
    assignment_id: strawberry.ID
    holder: User
    expires_at: datetime


@strawberry.type
class CellUnlocked:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    student_id: strawberry.ID
    assignment_id: strawberry.ID


@strawberry.type
class EditorsChanged:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    editors: list[GradebookEditor]


@strawberry.type
class FinalGradesCalculated:
    id: strawberry.ID = strawberry.field(description=EVENT_ID)
    class_id: strawberry.ID


GradebookEvent = Annotated[
    GradeUpdated | CellLocked | CellUnlocked | EditorsChanged | FinalGradesCalculated,
    strawberry.union("GradebookEvent"),
]


def event_of(payload: dict[str, Any]) -> GradebookEvent | None:
    """A bus payload as a GraphQL event (None for a kind this schema does not know)."""
    kind = payload.get("type")
    cell = {}
    if "studentId" in payload:
        cell = {
            "student_id": _student_id(payload["studentId"]),
            "assignment_id": _assignment_id(payload["assignmentId"]),
        }
    if kind == "GradeUpdated":
        return _grade_updated(payload, cell)
    if kind == "CellLocked":
        holder = payload["holder"]
        return CellLocked(
            id=_event_id(kind, payload["studentId"], payload["assignmentId"], payload["expiresAt"]),
            **cell,
            holder=User.ref(holder["id"], holder["name"]),
            expires_at=datetime.fromisoformat(payload["expiresAt"]),
        )
    if kind == "CellUnlocked":
        return CellUnlocked(
            id=_event_id(kind, payload["studentId"], payload["assignmentId"], payload.get("at")), **cell
        )
    if kind == "EditorsChanged":
        editors = payload["editors"]
        return EditorsChanged(
            id=_event_id(kind, hashlib.blake2b(orjson.dumps(editors), digest_size=12).hexdigest()),
            editors=[GradebookEditor.from_payload(entry) for entry in editors],
        )
    if kind == "FinalGradesCalculated":
        return FinalGradesCalculated(
            id=_event_id(kind, payload["classId"], payload.get("at")),
            class_id=strawberry.ID(encode_id("Class", payload["classId"])),
        )
    return None


def _event_id(kind: str, *parts: object) -> strawberry.ID:
    return strawberry.ID(encode_key(kind, *parts))


def _grade_updated(payload: dict[str, Any], cell: dict[str, strawberry.ID]) -> GradeUpdated:
    grade, by, lock = payload["grade"], payload["by"], payload.get("lock")
    return GradeUpdated(
        id=_event_id("GradeUpdated", grade["id"], grade["version"]),
        **cell,
        grade=Grade(
            id=strawberry.ID(encode_id("Grade", grade["id"])),
            score=grade["score"],
            letter=grade.get("letter"),
            version=grade["version"],
            updated_at=datetime.fromisoformat(grade["updatedAt"]),
            updated_by_id=by["id"],
        ),
        cell=GradeCell(
            assignment_id=cell["assignment_id"],
            score=grade["score"],
            letter=grade.get("letter"),
            version=grade["version"],
            lock=CellLock.from_lock(CellLockModel.from_dict(lock)) if lock else None,
            student_pk=payload["studentId"],
            assignment_pk=payload["assignmentId"],
        ),
        by=User.ref(by["id"], by["name"]),
    )


@strawberry.type
class GradingQueries:
    @strawberry.field(description="The grade sheet of a class: teachers and admins edit it, staff read it.")
    async def gradebook(self, info: Info, class_id: strawberry.ID) -> Gradebook:
        sheet = await grading.sheet(info.context, class_id)
        assignment_ids = {a.id: _assignment_id(a.id) for a in sheet.assignments}
        return Gradebook(
            class_=Class.from_model(sheet.klass),
            assignments=[Assignment.from_model(a) for a in sheet.assignments],
            rows=[
                GradebookRow(
                    student=StudentSummary.of(row.student.id, row.student.name),
                    cells=[GradeCell.from_cell(cell, row.student.id, assignment_ids) for cell in row.cells],
                    final_grade=FinalGrade.of(row.final),
                )
                for row in sheet.rows
            ],
            editors=[
                GradebookEditor.from_payload(entry) for entry in live_grading.editors_payload(sheet.editors)
            ],
        )

    @strawberry.field(description="Every version of one cell, newest first.")
    async def grade_history(
        self, info: Info, class_id: strawberry.ID, student_id: strawberry.ID, assignment_id: strawberry.ID
    ) -> list[GradeHistoryEntry]:
        changes = await grading.history(info.context, class_id, student_id, assignment_id)
        return [
            GradeHistoryEntry(
                score=c.new_score, version=c.version, changed_at=c.changed_at, changed_by_id=c.changed_by_id
            )
            for c in changes
        ]


def _grade_input(item: UpdateGradeInput | GradeUpdateItem) -> GradeInput:
    return GradeInput(str(item.student_id), str(item.assignment_id), item.score, item.expected_version)


@strawberry.enum
class ExportFormat(enum.Enum):
    CSV = "CSV"
    PDF = "PDF"


@strawberry.input
class ExportGradebookInput:
    class_id: strawberry.ID
    format: ExportFormat


@strawberry.input
class GenerateTranscriptInput:
    student_id: strawberry.ID


@strawberry.type(description="A file behind a signed URL; after `expiresAt` the URL answers 403.")
class FileLinkPayload:
    url: str | None
    expires_at: datetime | None
    user_errors: list[UserError]


@strawberry.type
class GradingMutations:
    @strawberry.mutation(description="The grade sheet as CSV or PDF, for whoever may read it.")
    async def export_gradebook(self, info: Info, input: ExportGradebookInput) -> FileLinkPayload:
        url, expires_at = await reports.export_gradebook(
            info.context, str(input.class_id), input.format.value
        )
        return FileLinkPayload(url=url, expires_at=expires_at, user_errors=[])

    @strawberry.mutation(description="A PDF transcript, for the student, their guardians and school staff.")
    async def generate_transcript(self, info: Info, input: GenerateTranscriptInput) -> FileLinkPayload:
        url, expires_at = await reports.generate_transcript(info.context, str(input.student_id))
        return FileLinkPayload(url=url, expires_at=expires_at, user_errors=[])

    @strawberry.mutation(
        description="Writes one cell (VERSION_CONFLICT, CELL_LOCKED and INVALID are userErrors)."
    )
    async def update_grade(self, info: Info, input: UpdateGradeInput) -> UpdateGradePayload:
        result = await grade_writes.update_grade(info.context, _grade_input(input))
        if isinstance(result, list):
            return UpdateGradePayload(grade=None, cell=None, user_errors=user_errors(result))
        return UpdateGradePayload(
            grade=Grade.from_written(result), cell=GradeCell.from_written(result), user_errors=[]
        )

    @strawberry.mutation(description="Many cells: all or nothing (atomic, the default), or each on its own.")
    async def bulk_update_grades(self, info: Info, input: BulkUpdateGradesInput) -> BulkUpdateGradesPayload:
        written, problems = await grade_writes.bulk_update(
            info.context,
            str(input.class_id),
            [_grade_input(item) for item in input.updates],
            atomic=input.atomic is not False,
        )
        failed = len({p.field[:3] if p.field else None for p in problems})
        return BulkUpdateGradesPayload(
            processed_count=len(written),
            failed_count=failed,
            grades=[Grade.from_written(w) for w in written],
            cells=[GradeCell.from_written(w) for w in written],
            user_errors=user_errors(problems),
        )

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

    @strawberry.mutation
    async def calculate_final_grades(
        self, info: Info, input: CalculateFinalGradesInput
    ) -> CalculateFinalGradesPayload:
        results = await grading.calculate_final_grades(info.context, str(input.class_id))
        return CalculateFinalGradesPayload(
            final_grades=[
                FinalGradeResult(
                    student=StudentSummary.of(student.id, student.name),
                    percentage=r.percentage,
                    letter=r.letter,
                    grade_points=r.grade_points,
                )
                for student, r in results
            ],
            user_errors=[],
        )


@strawberry.type
class GradingSubscriptions:
    @strawberry.subscription(description="Every change to a class's gradebook, from any server process.")
    async def gradebook_events(
        self, info: Info, class_id: strawberry.ID
    ) -> AsyncGenerator[GradebookEvent, None]:
        events: AsyncIterator[GradebookEvent] = live_grading.gradebook_events(
            info.context, class_id, event_of
        )
        async for event in events:
            yield event
