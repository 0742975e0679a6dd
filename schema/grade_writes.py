"""Grade writes as the API shows them: updateGrade and bulkUpdateGrades, with their inputs and
payloads (the grades and the sheet's cells as the writes left them)."""

from __future__ import annotations

import strawberry

from models.enums import GradeStatus  # a GraphQL enum: registered by schema.enums
from resolvers import grade_writes
from resolvers.grade_writes import GradeInput, WrittenGrade
from resolvers.ids import encode_id
from schema.base import Info, UserError, user_errors
from schema.live_grading import CellLock, Grade, GradeCell, global_assignment_id

STATUS = "The cell's status after the write; NONE if not given. EXCUSED and MISSING carry no score."
LATE_PENALTY = "LATE only: the percent (0-100) of the score taken off."
COMMENT = "Not given or null: the comment stays; an empty one removes it."


@strawberry.input
class UpdateGradeInput:
    student_id: strawberry.ID
    assignment_id: strawberry.ID
    score: float | None = strawberry.field(description="null clears the cell.")
    expected_version: int | None = strawberry.field(
        default=None, description="The version the editor saw; a stale one gives VERSION_CONFLICT."
    )
    status: GradeStatus | None = strawberry.field(default=None, description=STATUS)
    comment: str | None = strawberry.field(default=None, description=COMMENT)
    late_penalty: float | None = strawberry.field(default=None, description=LATE_PENALTY)


@strawberry.input
class GradeUpdateItem:
    student_id: strawberry.ID
    assignment_id: strawberry.ID
    score: float | None
    expected_version: int | None = None
    status: GradeStatus | None = strawberry.field(default=None, description=STATUS)
    comment: str | None = strawberry.field(default=None, description=COMMENT)
    late_penalty: float | None = strawberry.field(default=None, description=LATE_PENALTY)


@strawberry.input
class BulkUpdateGradesInput:
    class_id: strawberry.ID
    updates: list[GradeUpdateItem]
    atomic: bool | None = strawberry.field(default=True, description="true (default): all or nothing.")


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


def _grade_input(item: UpdateGradeInput | GradeUpdateItem) -> GradeInput:
    return GradeInput(
        str(item.student_id),
        str(item.assignment_id),
        item.score,
        item.expected_version,
        status=item.status,
        late_penalty=item.late_penalty,
        comment=item.comment,
    )


def _grade_of(written: WrittenGrade) -> Grade:
    grade = written.grade
    return Grade(
        id=strawberry.ID(encode_id("Grade", grade.id)),
        score=grade.score,
        adjusted_score=grade.adjusted_score,
        letter=written.letter,
        status=grade.status,
        late_penalty=grade.late_penalty,
        comment=grade.comment,
        version=grade.version,
        updated_at=grade.updated_at,
        updated_by_id=grade.updated_by_id,
    )


def _cell_of(written: WrittenGrade) -> GradeCell:
    grade = written.grade
    return GradeCell(
        assignment_id=global_assignment_id(grade.assignment_id),
        score=grade.score,
        adjusted_score=grade.adjusted_score,
        letter=written.letter,
        status=grade.status,
        late_penalty=grade.late_penalty,
        comment=grade.comment,
        version=grade.version,
        lock=CellLock.from_lock(written.lock) if written.lock else None,
        student_pk=grade.student_id,
        assignment_pk=grade.assignment_id,
    )


@strawberry.type
class GradeWriteMutations:
    @strawberry.mutation(
        description="Writes one cell (VERSION_CONFLICT, CELL_LOCKED, INVALID and TERM_CLOSED are userErrors)."
    )
    async def update_grade(self, info: Info, input: UpdateGradeInput) -> UpdateGradePayload:
        result = await grade_writes.update_grade(info.context, _grade_input(input))
        if isinstance(result, list):
            return UpdateGradePayload(grade=None, cell=None, user_errors=user_errors(result))
        return UpdateGradePayload(grade=_grade_of(result), cell=_cell_of(result), user_errors=[])

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
            grades=[_grade_of(w) for w in written],
            cells=[_cell_of(w) for w in written],
            user_errors=user_errors(problems),
        )
