"""The gradebook as the API shows it: the sheet with its term, category weights and final
grades, a cell's history, and the final grades' calculation.

The API's grading roots are composed here from the modules of the resolvers they show:
schema.assignments (columns and weights), schema.reports (exports), schema.grade_writes
(writes) and schema.live_grading (locks, presence, live events); schema.root takes them from here.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from resolvers import grading
from resolvers.grading import Cell
from schema.academics import Class, StudentSummary
from schema.assignments import Assignment, AssignmentMutations, CategoryWeight
from schema.base import Info, UserError, user_errors
from schema.grade_writes import GradeWriteMutations
from schema.live_grading import (
    CellLock,
    GradebookEditor,
    GradeCell,
    LiveGradingMutations,
    LiveGradingSubscriptions,
    global_assignment_id,
)
from schema.reports import ReportMutations
from schema.student_grades import FINAL_GRADE_RULE, FinalGrade
from schema.terms import Term
from schema.users import User
from subscriptions.editors import editor_entries


@strawberry.type
class GradebookRow:
    student: StudentSummary
    cells: list[GradeCell]
    final_grade: FinalGrade = strawberry.field(description=FINAL_GRADE_RULE)


@strawberry.type
class Gradebook:
    class_: Class = strawberry.field(name="class")
    term: Term
    closed: bool = strawberry.field(description="The term is closed: the sheet is read-only.")
    category_weights: list[CategoryWeight]
    assignments: list[Assignment] = strawberry.field(description="The columns: not archived, by due date.")
    rows: list[GradebookRow]
    editors: list[GradebookEditor]


def _cell_of(cell: Cell, student_pk: int, assignment_ids: dict[int, strawberry.ID]) -> GradeCell:
    """`assignment_ids`: the sheet's assignments' global ids, encoded once, not once per cell."""
    return GradeCell(
        assignment_id=assignment_ids[cell.assignment_id],
        score=cell.score,
        adjusted_score=cell.adjusted_score,
        letter=cell.letter,
        status=cell.status,
        late_penalty=cell.late_penalty,
        comment=cell.comment,
        version=cell.version,
        lock=CellLock.from_lock(cell.lock) if cell.lock else None,
        student_pk=student_pk,
        assignment_pk=cell.assignment_id,
    )


@strawberry.type
class GradeHistoryEntry:
    score: float | None
    version: int
    changed_at: datetime
    changed_by_id: strawberry.Private[int | None]

    @strawberry.field
    async def changed_by(self, info: Info) -> User | None:
        return await User.by_id(info, self.changed_by_id)


@strawberry.input
class CalculateFinalGradesInput:
    class_id: strawberry.ID


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


@strawberry.type
class GradingQueries:
    @strawberry.field(description="The grade sheet of a class: teachers and admins edit it, staff read it.")
    async def gradebook(self, info: Info, class_id: strawberry.ID) -> Gradebook:
        sheet = await grading.sheet(info.context, class_id)
        assignment_ids = {a.id: global_assignment_id(a.id) for a in sheet.assignments}
        return Gradebook(
            class_=Class.from_model(sheet.klass),
            term=Term.from_model(sheet.term),
            closed=sheet.closed,
            category_weights=[CategoryWeight(category=c, weight=w) for c, w in sheet.weights],
            assignments=[Assignment.from_model(a) for a in sheet.assignments],
            rows=[
                GradebookRow(
                    student=StudentSummary.of(row.student.id, row.student.name),
                    cells=[_cell_of(cell, row.student.id, assignment_ids) for cell in row.cells],
                    final_grade=FinalGrade.of(row.final),
                )
                for row in sheet.rows
            ],
            editors=[GradebookEditor.from_entry(entry) for entry in editor_entries(sheet.editors)],
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


@strawberry.type
class GradingMutations(AssignmentMutations, ReportMutations, GradeWriteMutations, LiveGradingMutations):
    @strawberry.mutation(description="Stores the class's final grades (not in a closed term: TERM_CLOSED).")
    async def calculate_final_grades(
        self, info: Info, input: CalculateFinalGradesInput
    ) -> CalculateFinalGradesPayload:
        calculated = await grading.calculate_final_grades(info.context, str(input.class_id))
        if isinstance(calculated, list):
            return CalculateFinalGradesPayload(final_grades=[], user_errors=user_errors(calculated))
        return CalculateFinalGradesPayload(
            final_grades=[
                FinalGradeResult(
                    student=StudentSummary.of(student.id, student.name),
                    percentage=r.percentage,
                    letter=r.letter,
                    grade_points=r.grade_points,
                )
                for student, r in calculated.results
            ],
            user_errors=[],
        )


@strawberry.type
class GradingSubscriptions(LiveGradingSubscriptions):
    pass
