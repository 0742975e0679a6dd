"""Terms and grading periods as the API shows them, the `terms` list, and the term writes:
create and update terms and grading periods, close a term, reopen it.

`Class` (schema.academics) shows its term with this module's `Term`, so this module reaches
`Class` lazily (strawberry.lazy), never at import time.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from errors import Problem
from models import GradingPeriod as GradingPeriodModel
from models import Term as TermModel
from models.enums import TermStatus
from resolvers import term_closing, terms
from resolvers.ids import encode_id
from resolvers.terms import Changes, Span, TermDraft
from schema.base import Connection, Info, Node, UserError, connection_from_page, connection_of, user_errors
from schema.users import User

if TYPE_CHECKING:
    from schema.academics import Class

LazyClass = Annotated["Class", strawberry.lazy("schema.academics")]


@strawberry.type(description="A term of the school (a semester, a trimester) with its grading periods.")
class Term(Node):
    name: str
    starts_on: date
    ends_on: date
    status: TermStatus
    closed_at: datetime | None
    sourced_id: str | None = strawberry.field(description="Its id in a OneRoster exchange.")
    row: strawberry.Private[TermModel]

    @classmethod
    def from_model(cls, term: TermModel) -> Term:
        return cls(
            id=strawberry.ID(encode_id("Term", term.id)),
            name=term.name,
            starts_on=term.starts_on,
            ends_on=term.ends_on,
            status=term.status,
            closed_at=term.closed_at,
            sourced_id=term.sourced_id,
            row=term,
        )

    @strawberry.field(description="Who closed the term; null while it is open.")
    async def closed_by(self, info: Info) -> User | None:
        return await User.by_id(info, self.row.closed_by_id)

    @strawberry.field(description="The term's grading periods, first first.")
    async def grading_periods(self, info: Info) -> list[GradingPeriod]:
        rows = await info.context.loaders.grading_periods_by_term.load(self.row.id)
        return [GradingPeriod.from_model(row) for row in rows]

    @strawberry.field(
        description="The term's classes, oldest first (students and guardians: their own / their wards')."
    )
    async def classes(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[LazyClass]:
        from schema.academics import Class  # noqa: PLC0415 - schema.academics imports this module

        page = await terms.term_classes(info.context, self.row, first, after)
        for row in page.rows:
            info.context.loaders.class_by_id.prime(row.id, row)
        return connection_from_page(
            [Class.from_model(row) for row in page.rows],
            [terms.class_cursor(row) for row in page.rows],
            total_count=page.total_count,
            has_next_page=page.has_next_page,
        )


@strawberry.type(description="A part of a term (a quarter, a marking period) that assignments may belong to.")
class GradingPeriod(Node):
    name: str
    starts_on: date
    ends_on: date
    term_id: strawberry.Private[int]

    @classmethod
    def from_model(cls, period: GradingPeriodModel) -> GradingPeriod:
        return cls(
            id=strawberry.ID(encode_id("GradingPeriod", period.id)),
            name=period.name,
            starts_on=period.starts_on,
            ends_on=period.ends_on,
            term_id=period.term_id,
        )

    @strawberry.field
    async def term(self, info: Info) -> Term:
        return Term.from_model(await info.context.loaders.term_by_id.load_existing(self.term_id))


@strawberry.input
class TermFilter:
    status: list[TermStatus] | None = None
    query: str | None = strawberry.field(default=None, description="Words of the name, all of them.")


@strawberry.input
class GradingPeriodInput:
    name: str
    starts_on: date
    ends_on: date


@strawberry.input
class CreateTermInput:
    name: str
    starts_on: date
    ends_on: date
    grading_periods: list[GradingPeriodInput] | None = None


@strawberry.input
class UpdateTermInput:
    term_id: strawberry.ID
    name: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None


@strawberry.input
class CreateGradingPeriodInput:
    term_id: strawberry.ID
    name: str
    starts_on: date
    ends_on: date


@strawberry.input
class UpdateGradingPeriodInput:
    grading_period_id: strawberry.ID
    name: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None


@strawberry.input
class CloseTermInput:
    term_id: strawberry.ID


@strawberry.input
class ReopenTermInput:
    term_id: strawberry.ID
    reason: str


@strawberry.type
class TermPayload:
    term: Term | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: TermModel | list[Problem]) -> TermPayload:
        if isinstance(result, list):
            return cls(term=None, user_errors=user_errors(result))
        return cls(term=Term.from_model(result), user_errors=[])


@strawberry.type
class GradingPeriodPayload:
    grading_period: GradingPeriod | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: GradingPeriodModel | list[Problem]) -> GradingPeriodPayload:
        if isinstance(result, list):
            return cls(grading_period=None, user_errors=user_errors(result))
        return cls(grading_period=GradingPeriod.from_model(result), user_errors=[])


@strawberry.type
class CloseTermPayload:
    term: Term | None
    final_grade_count: int = strawberry.field(description="The final grades calculated and stored.")
    user_errors: list[UserError]


@strawberry.type
class TermQueries:
    @strawberry.field(description="The school's terms, latest start first (every signed-in member).")
    async def terms(
        self, info: Info, filter: TermFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[Term]:
        given = filter or TermFilter()
        page = await terms.terms(
            info.context, terms.TermFilter(statuses=given.status, text=given.query), first, after
        )
        return connection_of(page, Term.from_model)


@strawberry.type
class TermMutations:
    @strawberry.mutation(description="Staff and admins: a new OPEN term with its grading periods.")
    async def create_term(self, info: Info, input: CreateTermInput) -> TermPayload:
        draft = TermDraft(
            Span(input.name, input.starts_on, input.ends_on),
            [Span(p.name, p.starts_on, p.ends_on) for p in input.grading_periods or []],
        )
        return TermPayload.of(await terms.create_term(info.context, draft))

    @strawberry.mutation(description="Staff and admins: a term's name or dates (not of a closed term).")
    async def update_term(self, info: Info, input: UpdateTermInput) -> TermPayload:
        changes = Changes(input.name, input.starts_on, input.ends_on)
        return TermPayload.of(await terms.update_term(info.context, str(input.term_id), changes))

    @strawberry.mutation(description="Staff and admins: a grading period inside its (open) term.")
    async def create_grading_period(
        self, info: Info, input: CreateGradingPeriodInput
    ) -> GradingPeriodPayload:
        period = Span(input.name, input.starts_on, input.ends_on)
        return GradingPeriodPayload.of(
            await terms.create_grading_period(info.context, str(input.term_id), period)
        )

    @strawberry.mutation(description="Staff and admins: a grading period's name or dates.")
    async def update_grading_period(
        self, info: Info, input: UpdateGradingPeriodInput
    ) -> GradingPeriodPayload:
        changes = Changes(input.name, input.starts_on, input.ends_on)
        return GradingPeriodPayload.of(
            await terms.update_grading_period(info.context, str(input.grading_period_id), changes)
        )

    @strawberry.mutation(
        description="Staff and admins: calculates and freezes the final grades of every class of the "
        "term and completes its enrollments. Already closed: FORBIDDEN_STATE."
    )
    async def close_term(self, info: Info, input: CloseTermInput) -> CloseTermPayload:
        result = await term_closing.close_term(info.context, str(input.term_id))
        if isinstance(result, list):
            return CloseTermPayload(term=None, final_grade_count=0, user_errors=user_errors(result))
        return CloseTermPayload(
            term=Term.from_model(result.term), final_grade_count=result.final_grade_count, user_errors=[]
        )

    @strawberry.mutation(
        description="Admins only: the term is OPEN again and its completed enrollments ACTIVE; the "
        "reason goes to the audit log. Not closed: FORBIDDEN_STATE."
    )
    async def reopen_term(self, info: Info, input: ReopenTermInput) -> TermPayload:
        return TermPayload.of(await term_closing.reopen_term(info.context, str(input.term_id), input.reason))
