"""The gradebook as the API shows it: assignments, the sheet with its final grades, a cell's
history, and the final grades' calculation.

The API's grading roots are composed here from the modules of the resolvers they show:
schema.reports (exports), schema.grade_writes (writes) and schema.live_grading (locks,
presence, live events); schema.root takes them from here.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from models import Assignment as AssignmentModel
from resolvers import grading
from resolvers.grading import Cell, FinalResult
from schema.academics import Class, StudentSummary
from schema.base import Info, Node, UserError
from schema.enums import AssignmentCategory
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
from schema.users import User
from subscriptions.editors import editor_entries


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
            id=global_assignment_id(row.id),
            title=row.title,
            category=row.category,
            max_score=row.max_score,
            weight=row.weight,
            due_at=row.due_at,
        )


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
class Gradebook:
    class_: Class = strawberry.field(name="class")
    assignments: list[Assignment]
    rows: list[GradebookRow]
    editors: list[GradebookEditor]


def _cell_of(cell: Cell, student_pk: int, assignment_ids: dict[int, strawberry.ID]) -> GradeCell:
    """`assignment_ids`: the sheet's assignments' global ids, encoded once, not once per cell."""
    return GradeCell(
        assignment_id=assignment_ids[cell.assignment_id],
        score=cell.score,
        letter=cell.letter,
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
        if self.changed_by_id is None:
            return None
        user = await info.context.loaders.user_by_id.load(self.changed_by_id)
        return User.from_model(user) if user else None


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
class GradingMutations(ReportMutations, GradeWriteMutations, LiveGradingMutations):
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
class GradingSubscriptions(LiveGradingSubscriptions):
    pass
