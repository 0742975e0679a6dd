"""Assignments and category weights: the gradebook's columns and how its categories count.

Who: the class's teachers (co-teachers too) and the school's admins write them (the gradebook's
editors, `resolvers.grading.gradebook_access`); others are FORBIDDEN. An id of another school's
class or assignment is NOT_FOUND, as an unknown one.

Each write is one transaction that first locks the class and checks its term is open
(TERM_CLOSED otherwise), so it never runs beside a grade write or a `closeTerm` of the class;
it is audited, refreshes the class's students' risk (their grades moved), and after commit tells
open gradebooks (AssignmentAdded/Changed/Removed, CategoryWeightsChanged) and the dashboards.
Archiving keeps the assignment and its grades; it only leaves every gradebook view and grade.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import BadInput, Problem, ProblemError
from models import Assignment, CategoryWeight, Class, Enrollment, Grade, GradingPeriod
from models.base import utcnow
from models.enums import AssignmentCategory, EnrollmentStatus, Role
from resolvers import audit
from resolvers.after_commit import teacher_dashboards_changed
from resolvers.analytics import refresh_student_risk
from resolvers.grading import gradebook_access, lock_open_term, ordered_weights
from resolvers.pagination import Page, cursor_key, cursor_time, decode_cursor, encode_cursor, page_size
from resolvers.policy import require_user
from resolvers.roster_rules import decode_or_none, not_found
from resolvers.student_dashboard import dashboards_changed
from subscriptions.channels import gradebook_channel
from subscriptions.events import (
    AssignmentAdded,
    AssignmentChanged,
    AssignmentRemoved,
    CategoryWeightsChanged,
    CategoryWeightValue,
    GradebookEvent,
    UserRef,
)

if TYPE_CHECKING:
    from context import Context

MAX_TITLE = 200
MAX_DESCRIPTION = 4000
# Students and guardians see published assignments only.
PUBLISHED_ONLY = frozenset({Role.STUDENT, Role.GUARDIAN})
CLASS_FIELD = ("input", "classId")
ASSIGNMENT_FIELD = ("input", "assignmentId")
WEIGHTS_FIELD = ("input", "weights")
# What a new assignment is when its input leaves these out.
CREATE_DEFAULTS: dict[str, Any] = {"weight": 1.0, "published": True}


@dataclass(frozen=True)
class AssignmentChanges:
    """An assignment's fields as a write gives them; None: not given (unchanged on update)."""

    title: str | None = None
    category: AssignmentCategory | None = None
    max_score: float | None = None
    weight: float | None = None
    due_at: datetime | None = None
    grading_period_global_id: str | None = None
    published: bool | None = None
    description: str | None = None


async def create_assignment(
    ctx: Context, class_global_id: str, draft: AssignmentChanges
) -> Assignment | list[Problem]:
    try:
        klass = await _editable_class(ctx, class_global_id)
        async with ctx.writer.begin() as session:
            await lock_open_term(session, klass.id, "update")
            values = await _checked(session, klass, draft, None)
            assignment = Assignment(class_id=klass.id, created_at=utcnow(), **(CREATE_DEFAULTS | values))
            session.add(assignment)
            await session.flush()
            audit.record(
                session, ctx, "assignment.created", "Assignment", assignment.id,
                detail={"classId": klass.id, "title": assignment.title},
            )  # fmt: skip
            student_ids = await _grades_moved(session, klass.id)
    except ProblemError as refused:
        return refused.problems
    added = AssignmentAdded(class_id=klass.id, assignment_id=assignment.id, by=_by(ctx))
    await _announce(ctx, klass.id, student_ids, added)
    return assignment


async def update_assignment(
    ctx: Context, assignment_global_id: str, changes: AssignmentChanges
) -> Assignment | list[Problem]:
    """As `create_assignment`, and a max score below a score already given: INVALID; an archived
    assignment: FORBIDDEN_STATE."""

    async def update(session: AsyncSession, klass: Class, assignment: Assignment) -> None:
        values = await _checked(session, klass, changes, assignment)
        for name, value in values.items():
            setattr(assignment, name, value)
        audit.record(
            session, ctx, "assignment.updated", "Assignment", assignment.id,
            detail={"classId": klass.id, "changed": sorted(values)},
        )  # fmt: skip

    return await _change_assignment(ctx, assignment_global_id, update, AssignmentChanged)


async def archive_assignment(ctx: Context, assignment_global_id: str) -> Assignment | list[Problem]:
    """Archived already: FORBIDDEN_STATE."""

    async def archive(session: AsyncSession, klass: Class, assignment: Assignment) -> None:
        assignment.archived_at = utcnow()
        audit.record(
            session, ctx, "assignment.archived", "Assignment", assignment.id, detail={"classId": klass.id}
        )

    return await _change_assignment(ctx, assignment_global_id, archive, AssignmentRemoved)


async def _change_assignment(
    ctx: Context,
    assignment_global_id: str,
    change: Callable[[AsyncSession, Class, Assignment], Awaitable[None]],
    event: type[AssignmentChanged | AssignmentRemoved],
) -> Assignment | list[Problem]:
    """The write of an assignment that is not archived: `change` in the transaction (it may raise
    ProblemError), then the event after commit."""
    try:
        klass, assignment_id = await _editable_assignment(ctx, assignment_global_id)
        async with ctx.writer.begin() as session:
            await lock_open_term(session, klass.id, "update")
            assignment = await session.get_one(Assignment, assignment_id)
            _require_not_archived(assignment)
            await change(session, klass, assignment)
            await session.flush()
            student_ids = await _grades_moved(session, klass.id)
    except ProblemError as refused:
        return refused.problems
    told = event(class_id=klass.id, assignment_id=assignment.id, by=_by(ctx))
    await _announce(ctx, klass.id, student_ids, told)
    return assignment


async def set_category_weights(
    ctx: Context, class_global_id: str, weights: list[tuple[AssignmentCategory, float]]
) -> Class | list[Problem]:
    """Replaces the class's weights: each 0-100, each category once, adding up to 100."""
    try:
        klass = await _editable_class(ctx, class_global_id)
        problems = _weight_problems(weights)
        if problems:
            raise ProblemError(*problems)
        async with ctx.writer.begin() as session:
            await lock_open_term(session, klass.id, "update")
            await session.execute(delete(CategoryWeight).where(CategoryWeight.class_id == klass.id))
            await session.execute(
                insert(CategoryWeight),
                [
                    {"class_id": klass.id, "category": category, "weight": weight}
                    for category, weight in weights
                ],
            )
            audit.record(
                session, ctx, "class.category_weights_set", "Class", klass.id,
                detail={"weights": {category.value: weight for category, weight in weights}},
            )  # fmt: skip
            student_ids = await _grades_moved(session, klass.id)
    except ProblemError as refused:
        return refused.problems
    ctx.loaders.category_weights_by_class.clear(klass.id)
    stored = ordered_weights(dict(weights))
    changed = CategoryWeightsChanged(
        class_id=klass.id,
        weights=tuple(CategoryWeightValue(category=c.value, weight=w) for c, w in stored),
    )
    await _announce(ctx, klass.id, student_ids, changed)
    return klass


async def class_assignments(
    ctx: Context, class_id: int, first: int | None, after: str | None
) -> Page[Assignment]:
    """A page of the class's assignments in the gradebook's order (archived ones left out);
    students and guardians get the published ones only."""
    user = require_user(ctx)
    rows = await ctx.loaders.assignments_by_class.load(class_id)
    if user.role in PUBLISHED_ONLY:
        rows = [row for row in rows if row.published]
    size = page_size(first, ctx.settings.max_page_size)
    start = 0
    if after is not None:
        mark = _position_of_cursor(after)
        start = next((n for n, row in enumerate(rows) if _position(row) > mark), len(rows))
    items = rows[start : start + size]
    return Page(
        items=items,
        cursors=[_cursor(row) for row in items],
        total_count=len(rows),
        has_next_page=start + size < len(rows),
    )


async def class_weights(ctx: Context, class_id: int) -> list[tuple[AssignmentCategory, float]]:
    rows = await ctx.loaders.category_weights_by_class.load(class_id)
    return ordered_weights({row.category: row.weight for row in rows})


# --- who may write, and what ---------------------------------------------------------------------


async def _editable_class(ctx: Context, class_global_id: str) -> Class:
    """The class the input names, if the caller edits its gradebook (FORBIDDEN otherwise); a
    class of another school, or none: NOT_FOUND."""
    user = require_user(ctx)
    pk = decode_or_none(class_global_id, "Class")
    klass = await ctx.loaders.class_by_id.load(pk) if pk is not None else None
    if klass is None or klass.school_id != user.school_id:
        raise ProblemError(not_found(CLASS_FIELD, "class"))
    await gradebook_access(ctx, klass.id, edit=True)
    return klass


async def _editable_assignment(ctx: Context, assignment_global_id: str) -> tuple[Class, int]:
    user = require_user(ctx)
    pk = decode_or_none(assignment_global_id, "Assignment")
    assignment = await ctx.loaders.assignment_by_id.load(pk) if pk is not None else None
    klass = await ctx.loaders.class_by_id.load(assignment.class_id) if assignment else None
    if assignment is None or klass is None or klass.school_id != user.school_id:
        raise ProblemError(not_found(ASSIGNMENT_FIELD, "assignment"))
    await gradebook_access(ctx, klass.id, edit=True)
    return klass, assignment.id


def _require_not_archived(assignment: Assignment) -> None:
    if assignment.archived_at is not None:
        raise ProblemError(Problem("The assignment is archived.", "FORBIDDEN_STATE", ASSIGNMENT_FIELD))


async def _checked(
    session: AsyncSession, klass: Class, given: AssignmentChanges, current: Assignment | None
) -> dict[str, Any]:
    """The column values `given` sets, checked (ProblemError with every problem found)."""
    values, problems = _given_values(given)
    if "max_score" in values and current is not None and not problems:
        highest = await _highest_score(session, current.id)
        if highest is not None and highest > values["max_score"]:
            problems.append(
                _invalid(
                    "maxScore", f"A score of {highest:g} was given already: the maximum cannot be lower."
                )
            )
    if given.grading_period_global_id is not None:
        period = await _grading_period(session, given.grading_period_global_id, klass.school_id)
        if period is None:
            problems.append(not_found(("input", "gradingPeriodId"), "grading period"))
        elif period.term_id != klass.term_id:
            problems.append(_invalid("gradingPeriodId", "The grading period is not of the class's term."))
        else:
            values["grading_period_id"] = period.id
    if problems:
        raise ProblemError(*problems)
    return values


def _given_values(given: AssignmentChanges) -> tuple[dict[str, Any], list[Problem]]:
    """The plain fields `given` sets (not None), and what is wrong with them."""
    values: dict[str, Any] = {
        name: getattr(given, name)
        for name in ("title", "category", "max_score", "weight", "due_at", "published", "description")
        if getattr(given, name) is not None
    }
    problems = []
    if "title" in values:
        values["title"] = values["title"].strip()
        if not 1 <= len(values["title"]) <= MAX_TITLE:
            problems.append(_invalid("title", f"Give a title of 1 to {MAX_TITLE} characters."))
    if "max_score" in values and (not math.isfinite(values["max_score"]) or values["max_score"] <= 0):
        problems.append(_invalid("maxScore", "The maximum score must be above 0."))
    if "weight" in values and (not math.isfinite(values["weight"]) or values["weight"] < 0):
        problems.append(_invalid("weight", "The weight cannot be below 0."))
    if "due_at" in values and values["due_at"].tzinfo is None:
        problems.append(
            _invalid("dueAt", "Give the due time with its time zone (e.g. 2026-10-01T17:00:00Z).")
        )
    if "description" in values:
        if len(values["description"]) > MAX_DESCRIPTION:
            problems.append(_invalid("description", f"At most {MAX_DESCRIPTION} characters."))
        values["description"] = values["description"].strip() or None
    return values, problems


def _invalid(field: str, message: str) -> Problem:
    return Problem(message, "INVALID", ("input", field))


async def _grading_period(session: AsyncSession, global_id: str, school_id: int) -> GradingPeriod | None:
    pk = decode_or_none(global_id, "GradingPeriod")
    period = await session.get(GradingPeriod, pk) if pk is not None else None
    return period if period is not None and period.school_id == school_id else None


async def _highest_score(session: AsyncSession, assignment_id: int) -> float | None:
    return await session.scalar(select(func.max(Grade.score)).where(Grade.assignment_id == assignment_id))


def _weight_problems(weights: list[tuple[AssignmentCategory, float]]) -> list[Problem]:
    messages = []
    if any(not math.isfinite(weight) or not 0 <= weight <= 100 for _, weight in weights):
        messages.append("Each weight is 0 to 100.")
    if len({category for category, _ in weights}) != len(weights):
        messages.append("Give each category once.")
    elif not messages and not math.isclose(sum(weight for _, weight in weights), 100, abs_tol=1e-6):
        messages.append("The weights must add up to 100.")
    return [Problem(message, "INVALID", WEIGHTS_FIELD) for message in messages]


# --- after the write -----------------------------------------------------------------------------


async def _grades_moved(session: AsyncSession, class_id: int) -> list[int]:
    """The class's students, whose grades the write moved: their risk is refreshed in the write's
    transaction; the caller tells their dashboards after commit."""
    student_ids = list(
        (
            await session.scalars(
                select(Enrollment.student_id)
                .where(Enrollment.class_id == class_id, Enrollment.status == EnrollmentStatus.ACTIVE)
                .order_by(Enrollment.student_id)
            )
        ).all()
    )
    await refresh_student_risk(session, student_ids, utcnow())
    return student_ids


def _by(ctx: Context) -> UserRef:
    user = require_user(ctx)
    return UserRef(id=user.id, name=user.name)


async def _announce(ctx: Context, class_id: int, student_ids: list[int], event: GradebookEvent) -> None:
    """After commit: open gradebooks, and the dashboards that show the class's grades."""
    ctx.loaders.assignment_by_id.clear_all()
    ctx.loaders.assignments_by_class.clear(class_id)
    await ctx.bus.publish(gradebook_channel(class_id), event)
    await dashboards_changed(ctx.app, student_ids)
    await teacher_dashboards_changed(ctx.app, class_ids=[class_id])


# --- cursors: (due date, id), the gradebook's order ----------------------------------------------

Position = tuple[bool, datetime | None, int]


def _position(row: Assignment) -> Position:
    return (row.due_at is None, row.due_at, row.id)


def _cursor(row: Assignment) -> str:
    return encode_cursor(json.dumps([row.due_at.isoformat() if row.due_at else None, row.id]))


def _position_of_cursor(cursor: str) -> Position:
    try:
        due, pk = json.loads(decode_cursor(cursor))
    except (ValueError, TypeError) as error:
        raise BadInput("Not a valid cursor.") from error
    due_at = cursor_time(due) if due is not None else None
    return (due_at is None, due_at, cursor_key(pk))
