"""Assignments (the gradebook's columns) and a class's category weights as the API shows them,
with their writes: createAssignment, updateAssignment, archiveAssignment, setCategoryWeights.

`Class` (schema.academics) shows its assignments and weights with this module's types, so this
module reaches `Class` lazily (strawberry.lazy), never at import time.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from errors import Problem
from models import Assignment as AssignmentModel
from models import Class as ClassModel
from resolvers import assignments
from resolvers.assignments import AssignmentChanges
from resolvers.ids import encode_id
from schema.base import Info, Node, UserError, user_errors
from schema.enums import AssignmentCategory
from schema.terms import GradingPeriod

if TYPE_CHECKING:
    from schema.academics import Class

LazyClass = Annotated["Class", strawberry.lazy("schema.academics")]


def class_of(row: ClassModel) -> Class:
    from schema.academics import Class  # noqa: PLC0415 - schema.academics imports this module

    return Class.from_model(row)


@strawberry.type(description="A gradebook column. `weight` is its weight inside its category.")
class Assignment(Node):
    title: str
    category: AssignmentCategory
    max_score: float
    weight: float
    due_at: datetime | None
    published: bool = strawberry.field(description="Students and guardians see published assignments only.")
    description: str | None
    created_at: datetime
    archived_at: datetime | None = strawberry.field(
        description="Archived: out of the gradebook and the final grades; its grades are kept."
    )
    class_pk: strawberry.Private[int]
    grading_period_pk: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, row: AssignmentModel) -> Assignment:
        return cls(
            id=strawberry.ID(encode_id("Assignment", row.id)),
            title=row.title,
            category=row.category,
            max_score=row.max_score,
            weight=row.weight,
            due_at=row.due_at,
            published=row.published,
            description=row.description,
            created_at=row.created_at,
            archived_at=row.archived_at,
            class_pk=row.class_id,
            grading_period_pk=row.grading_period_id,
        )

    @strawberry.field(description="The grading period it counts in; null: the term as a whole.")
    async def grading_period(self, info: Info) -> GradingPeriod | None:
        if self.grading_period_pk is None:
            return None
        row = await info.context.loaders.grading_period_by_id.load(self.grading_period_pk)
        return GradingPeriod.from_model(row) if row else None

    @strawberry.field(name="class")
    async def class_(self, info: Info) -> LazyClass:
        return class_of(await info.context.loaders.class_by_id.load_existing(self.class_pk))


@strawberry.type(description="How much a category counts towards the class's grade, in percent.")
class CategoryWeight:
    category: AssignmentCategory
    weight: float


@strawberry.input
class CreateAssignmentInput:
    class_id: strawberry.ID
    title: str
    category: AssignmentCategory
    max_score: float
    weight: float | None = strawberry.field(default=None, description="Inside its category; 1 if not given.")
    due_at: datetime | None = None
    grading_period_id: strawberry.ID | None = strawberry.field(
        default=None, description="A grading period of the class's term."
    )
    published: bool | None = strawberry.field(default=None, description="true if not given.")
    description: str | None = None


@strawberry.input(description="Fields not given (or null) stay as they are; an empty description removes it.")
class UpdateAssignmentInput:
    assignment_id: strawberry.ID
    title: str | None = None
    category: AssignmentCategory | None = None
    max_score: float | None = None
    weight: float | None = None
    due_at: datetime | None = None
    grading_period_id: strawberry.ID | None = None
    published: bool | None = None
    description: str | None = None


@strawberry.input
class ArchiveAssignmentInput:
    assignment_id: strawberry.ID


@strawberry.input
class CategoryWeightInput:
    category: AssignmentCategory
    weight: float


@strawberry.input
class SetCategoryWeightsInput:
    class_id: strawberry.ID
    weights: list[CategoryWeightInput] = strawberry.field(
        description="Every weighted category once, 0 to 100 each, adding up to 100."
    )


@strawberry.type
class AssignmentPayload:
    assignment: Assignment | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: AssignmentModel | list[Problem]) -> AssignmentPayload:
        if isinstance(result, list):
            return cls(assignment=None, user_errors=user_errors(result))
        return cls(assignment=Assignment.from_model(result), user_errors=[])


@strawberry.type
class SetCategoryWeightsPayload:
    class_: LazyClass | None = strawberry.field(name="class")
    user_errors: list[UserError]


def _changes(given: CreateAssignmentInput | UpdateAssignmentInput) -> AssignmentChanges:
    return AssignmentChanges(
        title=given.title,
        category=given.category,
        max_score=given.max_score,
        weight=given.weight,
        due_at=given.due_at,
        grading_period_global_id=str(given.grading_period_id) if given.grading_period_id else None,
        published=given.published,
        description=given.description,
    )


@strawberry.type
class AssignmentMutations:
    @strawberry.mutation(description="The class's teachers and the school's admins add a column.")
    async def create_assignment(self, info: Info, input: CreateAssignmentInput) -> AssignmentPayload:
        result = await assignments.create_assignment(info.context, str(input.class_id), _changes(input))
        return AssignmentPayload.of(result)

    @strawberry.mutation(description="The class's teachers and the school's admins change a column.")
    async def update_assignment(self, info: Info, input: UpdateAssignmentInput) -> AssignmentPayload:
        result = await assignments.update_assignment(info.context, str(input.assignment_id), _changes(input))
        return AssignmentPayload.of(result)

    @strawberry.mutation(
        description="Deletes a column by archiving it: it leaves the gradebook, its grades stay."
    )
    async def archive_assignment(self, info: Info, input: ArchiveAssignmentInput) -> AssignmentPayload:
        return AssignmentPayload.of(
            await assignments.archive_assignment(info.context, str(input.assignment_id))
        )

    @strawberry.mutation(description="Replaces the class's category weights (they add up to 100).")
    async def set_category_weights(
        self, info: Info, input: SetCategoryWeightsInput
    ) -> SetCategoryWeightsPayload:
        weights = [(given.category, given.weight) for given in input.weights]
        result = await assignments.set_category_weights(info.context, str(input.class_id), weights)
        if isinstance(result, list):
            return SetCategoryWeightsPayload(class_=None, user_errors=user_errors(result))
        return SetCategoryWeightsPayload(class_=class_of(result), user_errors=[])
