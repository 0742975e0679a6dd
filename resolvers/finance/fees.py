"""Fee schedules: the fees of a term (staff/admin), and createFee/updateFee/archiveFee.

A fee applies to grade levels (none: every grade) or to one class of its term, and is paid at
once or in installments whose amounts add up to it, on ascending dates, the last on its due
date. Once an invoice bills a fee (even one voided since) it never changes: its lines name it.
updateFee locks the fee's row, and invoice runs read the fees they bill under a share lock, so
a change and a run never cross.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Forbidden, Problem, ProblemError
from loaders.roster import keyset_page
from models import Class, Fee, FeeInstallment, InvoiceLine, School, Term
from models.base import utcnow
from resolvers import audit
from resolvers.classes import decode_position, page_of
from resolvers.finance.access import require_finance_staff
from resolvers.finance.amounts import amount_problem
from resolvers.ids import decode_id_of
from resolvers.pagination import Page, page_size
from resolvers.policy import NOT_VISIBLE
from resolvers.roster_rules import decode_or_none, not_found, own_row

if TYPE_CHECKING:
    from context import Context

MAX_NAME = 120
MAX_DESCRIPTION = 2000
MAX_INSTALLMENTS = 24
GRADE_RANGE = range(-1, 21)


@dataclass(frozen=True)
class Installment:
    due_date: date
    amount: Decimal


@dataclass(frozen=True)
class FeeFields:
    """What createFee sets, and updateFee where given (None: unchanged; `*_given` for the fields
    a null clears). An empty installment list means paid at once."""

    name: str | None = None
    description: str | None = None
    description_given: bool = False
    amount: Decimal | None = None
    due_date: date | None = None
    grade_levels: Sequence[int] | None = None
    grade_levels_given: bool = False
    installments: Sequence[Installment] | None = None


@dataclass(frozen=True)
class FeeView:
    fee: Fee
    billed_count: int


async def billed_counts(session: AsyncSession, fee_ids: Collection[int]) -> dict[int, int]:
    """The students billed for each fee, in one statement."""
    rows = await session.execute(
        select(InvoiceLine.fee_id, func.count(func.distinct(InvoiceLine.student_id)))
        .where(InvoiceLine.fee_id.in_(fee_ids))
        .group_by(InvoiceLine.fee_id)
    )
    found: dict[int, int] = dict(rows.all())
    return {fee_id: found.get(fee_id, 0) for fee_id in fee_ids}


async def billed_count(ctx: Context, fee_id: int) -> int:
    """One fee's count, for a fee shown outside its schedule (which counts a page at once)."""
    async with ctx.session_factory() as session:
        return (await billed_counts(session, [fee_id]))[fee_id]


async def fee_schedule(
    ctx: Context, term_global_id: str, include_archived: bool, first: int | None, after: str | None
) -> Page[FeeView]:
    """A term's fees, earliest due first (staff/admin of its school)."""
    user = require_finance_staff(ctx)
    term = await ctx.loaders.term_by_id.load(decode_id_of(term_global_id, "Term"))
    if term is None or term.school_id != user.school_id:
        raise Forbidden(NOT_VISIBLE)
    query = select(Fee).where(Fee.term_id == term.id)
    if not include_archived:
        query = query.where(Fee.archived_at.is_(None))
    limit = page_size(first, ctx.settings.max_page_size)
    async with ctx.session_factory() as session:
        found = await keyset_page(
            session, query, Fee.due_date, Fee.id, first=limit, after=decode_position(after, dated=True)
        )
        counts = await billed_counts(session, [row.id for row in found.rows])
    page = page_of(found)
    for row in found.rows:
        ctx.loaders.fee_by_id.prime(row.id, row)
    return Page(
        [FeeView(row, counts[row.id]) for row in page.items],
        page.cursors,
        page.total_count,
        page.has_next_page,
    )


async def create_fee(
    ctx: Context, term_global_id: str, currency: str, class_global_id: str | None, fields: FeeFields
) -> FeeView | list[Problem]:
    user = require_finance_staff(ctx)
    fields = _normalized(fields)
    assert fields.name is not None
    assert fields.amount is not None
    assert fields.due_date is not None
    problems = _field_problems(fields) + _plan_problems(fields)
    if fields.grade_levels is not None and class_global_id is not None:
        problems.append(_both())
    try:
        async with ctx.writer.begin() as session:
            school = await session.get_one(School, user.school_id)
            if currency.strip().upper() != school.currency:
                message = f"The school bills in {school.currency}."
                problems.append(Problem(message, "CURRENCY_MISMATCH", ("input", "currency")))
            term = await _own_or_problem(session, Term, term_global_id, user.school_id, "termId", problems)
            class_id = None
            if class_global_id is not None:
                klass = await _own_or_problem(
                    session, Class, class_global_id, user.school_id, "classId", problems
                )
                if klass is not None and term is not None and klass.term_id != term.id:
                    problems.append(not_found(("input", "classId"), "class of this term"))
                class_id = klass.id if klass else None
            if problems:
                raise ProblemError(*problems)
            assert term is not None
            fee = Fee(
                school_id=user.school_id,
                term_id=term.id,
                name=fields.name,
                description=fields.description,
                amount=fields.amount,
                currency=school.currency,
                due_date=fields.due_date,
                grade_levels=list(fields.grade_levels) if fields.grade_levels is not None else None,
                class_id=class_id,
                created_by_id=user.id,
            )
            session.add(fee)
            await session.flush()
            await _replace_installments(session, fee.id, fields.installments or ())
            audit.record(session, ctx, "fee.created", "Fee", fee.id, detail=_detail(fields))
    except ProblemError as refused:
        return refused.problems
    return FeeView(fee, 0)


async def update_fee(ctx: Context, fee_global_id: str, fields: FeeFields) -> FeeView | list[Problem]:
    user = require_finance_staff(ctx)
    fields = _normalized(fields)
    problems = _field_problems(fields)
    try:
        async with ctx.writer.begin() as session:
            fee = await _locked_fee(session, fee_global_id, user.school_id)
            if fee.archived_at is not None:
                raise ProblemError(Problem("The fee is archived.", "FORBIDDEN_STATE", ("input", "feeId")))
            if (await billed_counts(session, [fee.id]))[fee.id]:
                message = "An invoice bills this fee: archive it and define a new fee instead."
                raise ProblemError(Problem(message, "FORBIDDEN_STATE", ("input", "feeId")))
            if fields.grade_levels is not None and fee.class_id is not None:
                problems.append(_both())
            plan = fields.installments
            if plan is None:
                rows = await session.scalars(
                    select(FeeInstallment)
                    .where(FeeInstallment.fee_id == fee.id)
                    .order_by(FeeInstallment.number)
                )
                plan_now: Sequence[Installment] = [Installment(row.due_date, row.amount) for row in rows]
            # The plan, amount and due date as they would be, checked together.
            merged = replace(
                fields,
                amount=fields.amount if fields.amount is not None else fee.amount,
                due_date=fields.due_date or fee.due_date,
                installments=plan if plan is not None else plan_now,
            )
            if not problems:
                problems.extend(_plan_problems(merged))
            if problems:
                raise ProblemError(*problems)
            if fields.name is not None:
                fee.name = fields.name
            if fields.description_given:
                fee.description = fields.description
            if fields.grade_levels_given:
                fee.grade_levels = list(fields.grade_levels) if fields.grade_levels is not None else None
            assert merged.amount is not None
            assert merged.due_date is not None
            fee.amount = merged.amount
            fee.due_date = merged.due_date
            fee.updated_at = utcnow()
            if plan is not None:
                await _replace_installments(session, fee.id, plan)
            audit.record(session, ctx, "fee.updated", "Fee", fee.id, detail=_detail(fields))
    except ProblemError as refused:
        return refused.problems
    return FeeView(fee, 0)


async def archive_fee(ctx: Context, fee_global_id: str) -> FeeView | list[Problem]:
    user = require_finance_staff(ctx)
    try:
        async with ctx.writer.begin() as session:
            fee = await _locked_fee(session, fee_global_id, user.school_id)
            if fee.archived_at is not None:
                raise ProblemError(
                    Problem("The fee is archived already.", "FORBIDDEN_STATE", ("input", "feeId"))
                )
            fee.archived_at = utcnow()
            audit.record(session, ctx, "fee.archived", "Fee", fee.id)
            billed = (await billed_counts(session, [fee.id]))[fee.id]
    except ProblemError as refused:
        return refused.problems
    return FeeView(fee, billed)


async def _locked_fee(session: AsyncSession, global_id: str, school_id: int) -> Fee:
    pk = decode_or_none(global_id, "Fee")
    fee = (
        await session.scalar(select(Fee).where(Fee.id == pk, Fee.school_id == school_id).with_for_update())
        if pk is not None
        else None
    )
    if fee is None:
        raise ProblemError(not_found(("input", "feeId"), "fee"))
    return fee


async def _own_or_problem(
    session: AsyncSession,
    model: type[Term] | type[Class],
    global_id: str,
    school_id: int,
    name: str,
    problems: list[Problem],
) -> Any:
    try:
        return await own_row(session, model, global_id, model.__name__, school_id, ("input", name))
    except ProblemError as missing:
        problems.extend(missing.problems)
        return None


def _normalized(fields: FeeFields) -> FeeFields:
    description = fields.description.strip() or None if fields.description is not None else None
    grades = fields.grade_levels
    return replace(
        fields,
        name=fields.name.strip() if fields.name is not None else None,
        description=description,
        # No grade levels given, or an empty list: every grade.
        grade_levels=sorted(set(grades)) if grades else None,
    )


def _field_problems(fields: FeeFields) -> list[Problem]:
    problems: list[Problem] = []
    if fields.name is not None and not 0 < len(fields.name) <= MAX_NAME:
        problems.append(Problem(f"A name of 1 to {MAX_NAME} characters.", "INVALID", ("input", "name")))
    if fields.description is not None and len(fields.description) > MAX_DESCRIPTION:
        message = f"A description of at most {MAX_DESCRIPTION} characters."
        problems.append(Problem(message, "INVALID", ("input", "description")))
    if fields.amount is not None and (problem := amount_problem(fields.amount, ("input", "amount"))):
        problems.append(problem)
    if fields.grade_levels is not None and any(grade not in GRADE_RANGE for grade in fields.grade_levels):
        problems.append(Problem("Grade levels from -1 to 20.", "INVALID", ("input", "gradeLevels")))
    return problems


def _plan_problems(fields: FeeFields) -> list[Problem]:
    """An installment plan adds up to the fee, on strictly ascending dates, the last on its due date."""
    plan = fields.installments or ()
    assert fields.amount is not None
    assert fields.due_date is not None
    field = ("input", "installments")
    if not plan:
        return []
    problems = [
        problem
        for index, part in enumerate(plan)
        if (problem := amount_problem(part.amount, (*field, str(index), "amount")))
    ]
    if len(plan) > MAX_INSTALLMENTS:
        problems.append(Problem(f"At most {MAX_INSTALLMENTS} installments.", "INVALID", field))
    if problems:
        return problems
    if sum((part.amount for part in plan), Decimal(0)) != fields.amount:
        problems.append(Problem("The installments add up to the fee's amount.", "INVALID", field))
    dates = [part.due_date for part in plan]
    if any(earlier >= later for earlier, later in itertools.pairwise(dates)):
        problems.append(Problem("Installment dates are ascending.", "INVALID", field))
    if dates[-1] != fields.due_date:
        problems.append(Problem("The last installment falls due on the fee's due date.", "INVALID", field))
    return problems


def _both() -> Problem:
    message = "A fee applies to grade levels or to one class, not both."
    return Problem(message, "INVALID", ("input", "gradeLevels"))


async def _replace_installments(session: AsyncSession, fee_id: int, plan: Sequence[Installment]) -> None:
    await session.execute(delete(FeeInstallment).where(FeeInstallment.fee_id == fee_id))
    if plan:
        await session.execute(
            insert(FeeInstallment),
            [
                {"fee_id": fee_id, "number": number, "due_date": part.due_date, "amount": part.amount}
                for number, part in enumerate(plan, start=1)
            ],
        )


def _detail(fields: FeeFields) -> dict[str, Any]:
    detail: dict[str, Any] = {
        name: str(value)
        for name, value in (("name", fields.name), ("amount", fields.amount), ("dueDate", fields.due_date))
        if value is not None
    }
    if fields.grade_levels_given:
        detail["gradeLevels"] = list(fields.grade_levels) if fields.grade_levels is not None else None
    if fields.installments is not None:
        detail["installments"] = [[str(part.due_date), str(part.amount)] for part in fields.installments]
    return detail
