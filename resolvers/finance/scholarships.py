"""Scholarships of a term (staff/admin): the list with budgets, createScholarship and
updateScholarship.

A scholarship is a fixed amount or a percentage of the student's term charges (exactly one), a
budget and criteria (resolvers/finance/matching.py). Its budget is what its ACTIVE awards hold
plus what remains: the awarded amount is a sum over the awards, never stored, so it cannot drift.
updateScholarship locks the scholarship's row, as awards do (resolvers/finance/awards.py), so a
budget cut and an award never cross: the budget never falls below what is awarded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from errors import Forbidden, Problem, ProblemError
from models import Scholarship, ScholarshipAward, School, Term
from models.base import utcnow
from models.enums import AwardStatus, ScholarshipKind
from models.money import CENT
from resolvers import audit
from resolvers.finance.access import require_finance_staff
from resolvers.finance.amounts import amount_problem
from resolvers.finance.fees import GRADE_RANGE
from resolvers.finance.lines import ZERO
from resolvers.finance.matching import Criteria
from resolvers.ids import decode_id_of
from resolvers.pagination import Page, newest_first, page_size
from resolvers.policy import NOT_VISIBLE
from resolvers.roster_rules import decode_or_none, not_found, own_row

if TYPE_CHECKING:
    from context import Context

MAX_NAME = 120
MAX_DESCRIPTION = 2000
MAX_GPA = 5.0


@dataclass(frozen=True)
class Usage:
    """What a scholarship's ACTIVE awards hold."""

    awarded_amount: Decimal
    award_count: int


@dataclass(frozen=True)
class NewScholarship:
    term_id: str
    name: str
    currency: str
    budget: Decimal
    amount: Decimal | None = None
    percentage: Decimal | None = None
    description: str | None = None
    criteria: Criteria = field(default_factory=Criteria)


@dataclass(frozen=True)
class ScholarshipChanges:
    """updateScholarship's input: None leaves a field as it is; criteria given replace them all."""

    scholarship_id: str
    name: str | None = None
    description: str | None = None
    budget: Decimal | None = None
    active: bool | None = None
    criteria: Criteria | None = None


async def usages(
    session_factory: async_sessionmaker[AsyncSession], scholarship_ids: list[int]
) -> list[Usage]:
    """A batch of Loaders.batched: each scholarship's usage, in one statement."""
    async with session_factory() as session:
        found = await usage_of(session, scholarship_ids)
    return [found[scholarship_id] for scholarship_id in scholarship_ids]


async def usage_of(session: AsyncSession, scholarship_ids: list[int]) -> dict[int, Usage]:
    rows = await session.execute(
        select(ScholarshipAward.scholarship_id, func.sum(ScholarshipAward.amount), func.count())
        .where(
            ScholarshipAward.scholarship_id.in_(scholarship_ids),
            ScholarshipAward.status == AwardStatus.ACTIVE,
        )
        .group_by(ScholarshipAward.scholarship_id)
    )
    found = {pk: Usage(Decimal(total), count) for pk, total, count in rows.all()}
    return {pk: found.get(pk, Usage(ZERO, 0)) for pk in scholarship_ids}


async def usage(ctx: Context, scholarship_id: int) -> Usage:
    found: Usage = await ctx.loaders.batched(usages).load(scholarship_id)
    return found


async def list_scholarships(
    ctx: Context, term_global_id: str | None, first: int | None, after: str | None
) -> Page[Scholarship]:
    """The school's scholarships, of one term or all, newest first (staff/admin)."""
    user = require_finance_staff(ctx)
    query = select(Scholarship).where(Scholarship.school_id == user.school_id)
    if term_global_id is not None:
        term = await ctx.loaders.term_by_id.load(decode_id_of(term_global_id, "Term"))
        if term is None or term.school_id != user.school_id:
            raise Forbidden(NOT_VISIBLE)
        query = query.where(Scholarship.term_id == term.id)
    async with ctx.session_factory() as session:
        page: Page[Scholarship] = await newest_first(
            session, query, Scholarship.id, page_size(first, ctx.settings.max_page_size), after
        )
    return page


async def locked_scholarship(
    session: AsyncSession, global_id: str, school_id: int, field: tuple[str, ...]
) -> Scholarship:
    """The school's scholarship, its row locked until the transaction ends; else NOT_FOUND."""
    pk = decode_or_none(global_id, "Scholarship")
    scholarship = (
        await session.scalar(
            select(Scholarship)
            .where(Scholarship.id == pk, Scholarship.school_id == school_id)
            .with_for_update()
        )
        if pk is not None
        else None
    )
    if scholarship is None:
        raise ProblemError(not_found(field, "scholarship"))
    return scholarship


def criteria_problems(criteria: Criteria) -> list[Problem]:
    field = ("input", "criteria")
    problems = []
    if criteria.min_gpa is not None and not 0 <= criteria.min_gpa <= MAX_GPA:
        problems.append(Problem(f"A minimum GPA from 0 to {MAX_GPA:g}.", "INVALID", (*field, "minGpa")))
    rate = criteria.min_attendance_rate
    if rate is not None and not 0 <= rate <= 1:
        message = "A minimum attendance rate from 0 to 1."
        problems.append(Problem(message, "INVALID", (*field, "minAttendanceRate")))
    if any(level not in GRADE_RANGE for level in criteria.grade_levels):
        problems.append(Problem("Grade levels from -1 to 20.", "INVALID", (*field, "gradeLevels")))
    return problems


def normalized(criteria: Criteria) -> Criteria:
    return Criteria(
        min_gpa=criteria.min_gpa,
        max_household_income_band=criteria.max_household_income_band,
        requires_financial_need=criteria.requires_financial_need,
        grade_levels=tuple(sorted(set(criteria.grade_levels))),
        min_attendance_rate=criteria.min_attendance_rate,
    )


def _text_problems(name: str | None, description: str | None) -> list[Problem]:
    problems = []
    if name is not None and not 0 < len(name) <= MAX_NAME:
        problems.append(Problem(f"A name of 1 to {MAX_NAME} characters.", "INVALID", ("input", "name")))
    if description is not None and len(description) > MAX_DESCRIPTION:
        message = f"A description of at most {MAX_DESCRIPTION} characters."
        problems.append(Problem(message, "INVALID", ("input", "description")))
    return problems


def _kind_problems(request: NewScholarship) -> list[Problem]:
    """Exactly one of a fixed amount and a percentage in (0, 100]."""
    if (request.amount is None) == (request.percentage is None):
        message = "Give either a fixed amount or a percentage of the term's charges."
        return [Problem(message, "INVALID", ("input", "amount"))]
    if request.amount is not None:
        problem = amount_problem(request.amount, ("input", "amount"))
        return [problem] if problem else []
    percentage = request.percentage
    assert percentage is not None
    if not percentage.is_finite() or not 0 < percentage <= 100 or percentage != percentage.quantize(CENT):
        message = "A percentage above 0 and at most 100, with at most two decimals."
        return [Problem(message, "INVALID", ("input", "percentage"))]
    return []


async def create_scholarship(ctx: Context, request: NewScholarship) -> Scholarship | list[Problem]:
    user = require_finance_staff(ctx)
    name = request.name.strip()
    description = (request.description or "").strip() or None
    problems = [
        *_text_problems(name, description),
        *_kind_problems(request),
        *criteria_problems(request.criteria),
    ]
    if budget_problem := amount_problem(request.budget, ("input", "budget")):
        problems.append(budget_problem)
    try:
        async with ctx.writer.begin() as session:
            school = await session.get_one(School, user.school_id)
            if request.currency.strip().upper() != school.currency:
                message = f"The school's currency is {school.currency}."
                problems.append(Problem(message, "CURRENCY_MISMATCH", ("input", "currency")))
            term: Term | None = None
            try:
                term = await own_row(
                    session, Term, request.term_id, "Term", user.school_id, ("input", "termId")
                )
            except ProblemError as missing:
                problems.extend(missing.problems)
            if problems or term is None:
                raise ProblemError(*problems)
            scholarship = Scholarship(
                school_id=user.school_id,
                term_id=term.id,
                name=name,
                description=description,
                kind=ScholarshipKind.FIXED if request.amount is not None else ScholarshipKind.PERCENTAGE,
                amount=_cents(request.amount),
                percentage=_cents(request.percentage),
                currency=school.currency,
                budget=request.budget.quantize(CENT),
                criteria=normalized(request.criteria).stored(),
                created_by_id=user.id,
            )
            session.add(scholarship)
            await session.flush()
            audit.record(
                session,
                ctx,
                "scholarship.created",
                "Scholarship",
                scholarship.id,
                detail=_detail(scholarship),
            )
    except ProblemError as refused:
        return refused.problems
    return scholarship


async def update_scholarship(ctx: Context, changes: ScholarshipChanges) -> Scholarship | list[Problem]:
    user = require_finance_staff(ctx)
    name = changes.name.strip() if changes.name is not None else None
    description = changes.description.strip() if changes.description is not None else None
    problems = _text_problems(name, description)
    if changes.criteria is not None:
        problems.extend(criteria_problems(changes.criteria))
    if changes.budget is not None and (budget_problem := amount_problem(changes.budget, ("input", "budget"))):
        problems.append(budget_problem)
    try:
        async with ctx.writer.begin() as session:
            scholarship = await locked_scholarship(
                session, changes.scholarship_id, user.school_id, ("input", "scholarshipId")
            )
            if changes.budget is not None and not problems:
                awarded = (await usage_of(session, [scholarship.id]))[scholarship.id].awarded_amount
                if changes.budget < awarded:
                    message = f"{awarded} is awarded already: the budget cannot be less."
                    problems.append(Problem(message, "INVALID", ("input", "budget")))
            if problems:
                raise ProblemError(*problems)
            if name is not None:
                scholarship.name = name
            if description is not None:
                scholarship.description = description or None
            if changes.budget is not None:
                scholarship.budget = changes.budget.quantize(CENT)
            if changes.active is not None:
                scholarship.active = changes.active
            if changes.criteria is not None:
                scholarship.criteria = normalized(changes.criteria).stored()
            scholarship.updated_at = utcnow()
            audit.record(
                session,
                ctx,
                "scholarship.updated",
                "Scholarship",
                scholarship.id,
                detail=_detail(scholarship),
            )
    except ProblemError as refused:
        return refused.problems
    return scholarship


def _cents(value: Decimal | None) -> Decimal | None:
    """The value as stored (to the cent), so the answer shows what a later read shows."""
    return value.quantize(CENT) if value is not None else None


def _detail(scholarship: Scholarship) -> dict[str, Any]:
    return {
        "name": scholarship.name,
        "kind": scholarship.kind.value,
        "amount": str(scholarship.amount) if scholarship.amount is not None else None,
        "percentage": str(scholarship.percentage) if scholarship.percentage is not None else None,
        "budget": str(scholarship.budget),
        "active": scholarship.active,
        "criteria": scholarship.criteria,
    }


async def scholarships_by_id(
    session_factory: async_sessionmaker[AsyncSession], scholarship_ids: list[int]
) -> list[Scholarship]:
    """A batch of Loaders.batched: scholarships by id (an award names its scholarship)."""
    async with session_factory() as session:
        rows = await session.scalars(select(Scholarship).where(Scholarship.id.in_(scholarship_ids)))
        found = {row.id: row for row in rows}
    return [found[pk] for pk in scholarship_ids]


async def scholarship_of(ctx: Context, scholarship_id: int) -> Scholarship:
    found: Scholarship = await ctx.loaders.batched(scholarships_by_id).load(scholarship_id)
    return found
