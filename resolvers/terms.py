"""Terms and their grading periods: the school's list, and the staff's writes (create, update).

A term's dates hold its grading periods: each lies inside the term and none overlaps another.
Every write locks the term's row first (`SELECT … FOR UPDATE`; SQLite's writer lock does the
same), so two concurrent writes never both pass a check the other would have failed. A closed
term is frozen: its writes are TERM_CLOSED. Closing and reopening are in
`resolvers.term_closing`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from errors import BadInput, Problem, ProblemError
from loaders.terms import ClassPage, TermClassesKey
from models import Class, GradingPeriod, Term
from models.enums import Role, TermStatus
from resolvers import audit
from resolvers.pagination import Page, cursor_id, cursor_key, decode_cursor, encode_cursor, page_size
from resolvers.policy import RELATED_STUDENTS_LOADER, RELATION_OF_ROLE, SCHOOL_WIDE_ROLES, require_user
from resolvers.roster_rules import decode_or_none, not_found, own_row, require_open, require_staff

if TYPE_CHECKING:
    from context import Context

Field = tuple[str, ...]
MAX_NAME = 80  # the columns' length
MAX_QUERY_WORDS = 6
CLASS_LISTERS = SCHOOL_WIDE_ROLES | {Role.TEACHER}


@dataclass(frozen=True)
class TermFilter:
    statuses: Sequence[TermStatus] | None = None
    text: str | None = None


@dataclass(frozen=True)
class Span:
    """A named stretch of days, both ends included: a term or a grading period."""

    name: str
    starts_on: date
    ends_on: date

    def overlaps(self, other: Span) -> bool:
        return self.starts_on <= other.ends_on and other.starts_on <= self.ends_on

    def end_outside(self, outer: Span) -> str | None:
        """Which end of this span lies outside `outer` ("startsOn" first, then "endsOn"); None
        if it lies inside."""
        if self.starts_on < outer.starts_on:
            return "startsOn"
        return "endsOn" if self.ends_on > outer.ends_on else None


@dataclass(frozen=True)
class TermDraft:
    term: Span
    grading_periods: Sequence[Span] = ()


@dataclass(frozen=True)
class Changes:
    """What an update sets; None leaves a value as it is."""

    name: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None

    def applied_to(self, span: Span) -> Span:
        return Span(
            self.name.strip() if self.name is not None else span.name,
            self.starts_on if self.starts_on is not None else span.starts_on,
            self.ends_on if self.ends_on is not None else span.ends_on,
        )

    def detail(self) -> dict[str, Any]:
        given = {"name": self.name, "startsOn": self.starts_on, "endsOn": self.ends_on}
        return {key: str(value) for key, value in given.items() if value is not None}


def span_of(row: Term | GradingPeriod) -> Span:
    return Span(row.name, row.starts_on, row.ends_on)


# --- The list ---------------------------------------------------------------------------------


async def terms(ctx: Context, term_filter: TermFilter, first: int | None, after: str | None) -> Page[Term]:
    """The school's terms for every signed-in member, latest start first (then newest id);
    keyset pages on (start, id), so a term added between two pages repeats or skips none."""
    user = require_user(ctx)
    limit = page_size(first, ctx.settings.max_page_size)
    query = select(Term).where(Term.school_id == user.school_id)
    if term_filter.statuses:
        query = query.where(Term.status.in_(term_filter.statuses))
    for word in (term_filter.text or "").lower().split()[:MAX_QUERY_WORDS]:
        query = query.where(func.lower(Term.name).contains(word, autoescape=True))
    page_query = query
    if after is not None:
        starts_on, term_id = _decode_cursor(after)
        page_query = query.where(
            or_(Term.starts_on < starts_on, and_(Term.starts_on == starts_on, Term.id < term_id))
        )
    page_query = page_query.order_by(Term.starts_on.desc(), Term.id.desc()).limit(limit + 1)
    async with ctx.session_factory() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = list((await session.scalars(page_query)).all())
    items = rows[:limit]
    for row in items:
        ctx.loaders.term_by_id.prime(row.id, row)
    return Page(
        items=items,
        cursors=[encode_cursor(json.dumps([row.starts_on.isoformat(), row.id])) for row in items],
        total_count=total,
        has_next_page=len(rows) > limit,
    )


async def term_classes(ctx: Context, term: Term, first: int | None, after: str | None) -> ClassPage:
    """A page of the term's classes in id order. Staff, admins and teachers list them all;
    students, guardians and mentors only the classes of the students they relate to, as the
    school's class list shows them."""
    limit = page_size(first, ctx.settings.max_page_size)
    key = TermClassesKey(term.id, limit, cursor_id(after), await _listed_students(ctx))
    return await ctx.loaders.term_classes.load(key)


def class_cursor(klass: Class) -> str:
    return encode_cursor(str(klass.id))


async def _listed_students(ctx: Context) -> frozenset[int] | None:
    user = require_user(ctx)
    if user.role in CLASS_LISTERS:
        return None
    if user.role == Role.STUDENT:
        return frozenset({user.id})
    relation = RELATION_OF_ROLE[user.role]
    related: frozenset[int] = await getattr(ctx.loaders, RELATED_STUDENTS_LOADER[relation]).load(user.id)
    return related


def _decode_cursor(cursor: str) -> tuple[date, int]:
    try:
        starts_on, term_id = json.loads(decode_cursor(cursor))
        return date.fromisoformat(starts_on), cursor_key(term_id)
    except (ValueError, TypeError) as error:
        raise BadInput("Not a valid cursor.") from error


# --- Writes -----------------------------------------------------------------------------------


async def create_term(ctx: Context, draft: TermDraft) -> Term | list[Problem]:
    """Staff and admins: a new OPEN term with its grading periods, all of it or nothing."""
    user = require_staff(ctx)
    term = replace(draft.term, name=draft.term.name.strip())
    problems = span_problems(term, ("input",))
    if not problems:
        for index, period in enumerate(draft.grading_periods):
            problems += period_problems(
                replace(period, name=period.name.strip()),
                ("input", "gradingPeriods", str(index)),
                term,
                draft.grading_periods[:index],
            )
    if problems:
        return problems
    try:
        async with ctx.writer.begin() as session:
            await _require_free_name(session, user.school_id, term.name, None)
            row = Term(
                school_id=user.school_id,
                name=term.name,
                starts_on=term.starts_on,
                ends_on=term.ends_on,
                status=TermStatus.OPEN,
            )
            session.add(row)
            await session.flush()
            session.add_all(
                GradingPeriod(
                    school_id=user.school_id,
                    term_id=row.id,
                    name=period.name.strip(),
                    starts_on=period.starts_on,
                    ends_on=period.ends_on,
                )
                for period in draft.grading_periods
            )
            audit.record(
                session, ctx, "term.created", "Term", row.id,
                detail={"name": row.name, "gradingPeriods": len(draft.grading_periods)},
            )  # fmt: skip
    except ProblemError as refused:
        return refused.problems
    except IntegrityError:  # a concurrent write took the name first
        return [name_taken()]
    return row


async def update_term(ctx: Context, term_global_id: str, changes: Changes) -> Term | list[Problem]:
    """Staff and admins. The checks of `create_term`; new dates must keep every grading period
    inside the term."""
    user = require_staff(ctx)
    try:
        async with ctx.writer.begin() as session:
            term = await locked_term(session, term_global_id, user.school_id, ("input", "termId"))
            require_open(term, ("input", "termId"))
            wanted = changes.applied_to(span_of(term))
            problems = span_problems(wanted, ("input",), dates_given=changes)
            if not problems:
                problems = await _periods_left_outside(session, term.id, wanted)
            if problems:
                raise ProblemError(*problems)
            if wanted.name != term.name:
                await _require_free_name(session, user.school_id, wanted.name, term.id)
            term.name, term.starts_on, term.ends_on = wanted.name, wanted.starts_on, wanted.ends_on
            await session.flush()
            audit.record(session, ctx, "term.updated", "Term", term.id, detail=changes.detail())
    except ProblemError as refused:
        return refused.problems
    except IntegrityError:
        return [name_taken()]
    return term


async def create_grading_period(
    ctx: Context, term_global_id: str, period: Span
) -> GradingPeriod | list[Problem]:
    """Staff and admins: a grading period inside its open term, overlapping none of its others."""
    user = require_staff(ctx)
    period = replace(period, name=period.name.strip())
    try:
        async with ctx.writer.begin() as session:
            term = await locked_term(session, term_global_id, user.school_id, ("input", "termId"))
            require_open(term, ("input", "termId"))
            others = await _periods_of(session, term.id)
            problems = period_problems(period, ("input",), span_of(term), [span_of(o) for o in others])
            if problems:
                raise ProblemError(*problems)
            row = GradingPeriod(
                school_id=term.school_id,
                term_id=term.id,
                name=period.name,
                starts_on=period.starts_on,
                ends_on=period.ends_on,
            )
            session.add(row)
            await session.flush()
            audit.record(
                session, ctx, "grading_period.created", "GradingPeriod", row.id,
                detail={"termId": term.id, "name": row.name},
            )  # fmt: skip
    except ProblemError as refused:
        return refused.problems
    return row


async def update_grading_period(
    ctx: Context, period_global_id: str, changes: Changes
) -> GradingPeriod | list[Problem]:
    """Staff and admins; the checks of `create_grading_period`."""
    user = require_staff(ctx)
    try:
        async with ctx.writer.begin() as session:
            row = await own_row(
                session, GradingPeriod, period_global_id, "GradingPeriod", user.school_id,
                ("input", "gradingPeriodId"),
            )  # fmt: skip
            term = await locked_term_by_id(session, row.term_id)
            require_open(term, ("input", "gradingPeriodId"))
            wanted = changes.applied_to(span_of(row))
            others = [span_of(o) for o in await _periods_of(session, term.id) if o.id != row.id]
            problems = period_problems(wanted, ("input",), span_of(term), others)
            if problems:
                raise ProblemError(*problems)
            row.name, row.starts_on, row.ends_on = wanted.name, wanted.starts_on, wanted.ends_on
            await session.flush()
            audit.record(
                session, ctx, "grading_period.updated", "GradingPeriod", row.id,
                detail={"termId": term.id, **changes.detail()},
            )  # fmt: skip
    except ProblemError as refused:
        return refused.problems
    return row


# --- Rules ------------------------------------------------------------------------------------


def span_problems(span: Span, field: Field, *, dates_given: Changes | None = None) -> list[Problem]:
    """A name of 1 to 80 characters, and an end on or after the start. `dates_given` (an
    update) points the date problem at the date the update gave."""
    problems = []
    if not 1 <= len(span.name) <= MAX_NAME:
        problems.append(Problem(f"Give a name of 1 to {MAX_NAME} characters.", "INVALID", (*field, "name")))
    if span.ends_on < span.starts_on:
        which = "startsOn" if dates_given and dates_given.ends_on is None else "endsOn"
        problems.append(Problem("The end must not be before the start.", "INVALID", (*field, which)))
    return problems


def period_problems(period: Span, field: Field, term: Span, others: Sequence[Span]) -> list[Problem]:
    """A grading period's own checks, then: inside `term`, and overlapping none of `others`."""
    problems = span_problems(period, field)
    if problems:
        return problems
    which = period.end_outside(term)
    if which is not None:
        return [
            Problem(
                f"A grading period must lie inside its term ({term.starts_on} to {term.ends_on}).",
                "INVALID",
                (*field, which),
            )
        ]
    clash = next((other for other in others if other.overlaps(period)), None)
    if clash is not None:
        return [
            Problem(
                f"It overlaps the grading period {clash.name} ({clash.starts_on} to {clash.ends_on}).",
                "INVALID",
                (*field, "startsOn"),
            )
        ]
    return []


async def _periods_left_outside(session: AsyncSession, term_id: int, term: Span) -> list[Problem]:
    for period in await _periods_of(session, term_id):
        which = span_of(period).end_outside(term)
        if which is not None:
            message = (
                f"The grading period {period.name} ({period.starts_on} to {period.ends_on}) "
                "would fall outside the term: change it first."
            )
            return [Problem(message, "INVALID", ("input", which))]
    return []


def name_taken() -> Problem:
    return Problem("The school already has a term of this name.", "CONFLICT", ("input", "name"))


async def _require_free_name(session: AsyncSession, school_id: int, name: str, term_id: int | None) -> None:
    query = select(Term.id).where(Term.school_id == school_id, Term.name == name)
    if term_id is not None:
        query = query.where(Term.id != term_id)
    if await session.scalar(query.limit(1)) is not None:
        raise ProblemError(name_taken())


async def _periods_of(session: AsyncSession, term_id: int) -> list[GradingPeriod]:
    query = select(GradingPeriod).where(GradingPeriod.term_id == term_id).order_by(GradingPeriod.starts_on)
    return list((await session.scalars(query)).all())


async def locked_term(session: AsyncSession, global_id: str, school_id: int, field: Field) -> Term:
    """The caller's school's term an input names, its row locked for the transaction; else
    NOT_FOUND on `field` (another school's term as an unknown one)."""
    pk = decode_or_none(global_id, "Term")
    term = None
    if pk is not None:
        term = await session.scalar(
            select(Term).where(Term.id == pk, Term.school_id == school_id).with_for_update()
        )
    if term is None:
        raise ProblemError(not_found(field, "term"))
    return term


async def locked_term_by_id(session: AsyncSession, term_id: int) -> Term:
    term = await session.scalar(select(Term).where(Term.id == term_id).with_for_update())
    if term is None:
        raise LookupError(f"term {term_id} does not exist")
    return term
