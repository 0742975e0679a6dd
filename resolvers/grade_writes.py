"""Grade writes: one cell (`updateGrade`) or many (`bulkUpdateGrades`), with optimistic
concurrency, in one transaction whose statements do not grow per cell beyond the cell's own
UPDATE (or INSERT).

A write succeeds only against the version the writer saw (`expectedVersion`): the UPDATE
carries `WHERE version = seen`, so of concurrent writers exactly one wins and the others get
VERSION_CONFLICT with nothing written. Every change writes a history row, a notification for
the student, a new risk snapshot and an audit entry in the same transaction, each batched over
the cells; events go out after commit.

A write sets the cell's score and status (NONE when not given: a score alone is an ordinary
grade); EXCUSED and MISSING carry no score, a late penalty goes with LATE only, and a comment
not given (or null) is kept, an empty one removed. A closed term's cells are not written
(TERM_CLOSED).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Problem, ProblemError
from models import Assignment, Enrollment, Grade, GradeChange, School
from models.base import utcnow
from models.enums import EnrollmentStatus, GradeStatus, NotificationCategory
from models.grade_math import GradingScale, Mark, adjusted_score
from models.upsert import upsert_insert
from resolvers import audit
from resolvers.after_commit import teacher_dashboards_changed
from resolvers.analytics import refresh_student_risk
from resolvers.grading import assignment_of, gradebook_access, lock_open_term, standing_locks
from resolvers.ids import decode_id_of
from resolvers.notifications import NewNotification, add_each
from resolvers.policy import require_user
from resolvers.student_dashboard import dashboards_changed
from subscriptions.channels import gradebook_channel, user_notifications_channel
from subscriptions.events import GradeSnapshot, GradeUpdated, NotificationAdded, UserRef

if TYPE_CHECKING:
    from auth.identity import CurrentUser
    from context import Context
    from subscriptions.locks import CellLock

MAX_BULK_UPDATES = 500
MAX_COMMENT = 2000
WITHOUT_SCORE = frozenset({GradeStatus.EXCUSED, GradeStatus.MISSING})


@dataclass
class GradeInput:
    student_global_id: str
    assignment_global_id: str
    score: float | None
    expected_version: int | None
    status: GradeStatus | None = None
    late_penalty: float | None = None
    comment: str | None = None


@dataclass(frozen=True)
class WrittenCell:
    """A grade as it is after the write."""

    id: int
    student_id: int
    assignment_id: int
    score: float | None
    version: int
    updated_at: datetime
    updated_by_id: int
    status: GradeStatus
    late_penalty: float | None
    comment: str | None

    @property
    def mark(self) -> Mark:
        return Mark(self.score, self.status, self.late_penalty)

    @property
    def adjusted_score(self) -> float | None:
        """What the score counts for (models/grade_math.py)."""
        return adjusted_score(self.mark)


@dataclass
class WrittenGrade:
    grade: WrittenCell
    class_id: int
    by: CurrentUser
    notification_id: int | None
    letter: str | None
    # The cell's lock as the write found it (held by the writer, or none).
    lock: CellLock | None = None


@dataclass(frozen=True)
class _Stored:
    """A cell's grade as read before the batch (or as this batch left it)."""

    id: int
    score: float | None
    version: int
    comment: str | None


@dataclass(frozen=True)
class _Cell:
    """One requested write, decoded; `field` is where its problems point in the input."""

    item: GradeInput
    student_id: int
    assignment_id: int
    field: tuple[str, ...]


async def update_grade(ctx: Context, item: GradeInput) -> WrittenGrade | list[Problem]:
    assignment = await assignment_of(ctx, decode_id_of(item.assignment_global_id, "Assignment"))
    await gradebook_access(ctx, assignment.class_id, edit=True)
    try:
        async with ctx.writer.begin() as session:
            written, _ = await _write_all(session, ctx, assignment.class_id, [_decode(item, ())], atomic=True)
    except ProblemError as refused:
        return refused.problems
    await _announce(ctx, written)
    return written[0]


async def bulk_update(
    ctx: Context, class_global_id: str, items: list[GradeInput], *, atomic: bool
) -> tuple[list[WrittenGrade], list[Problem]]:
    """All or nothing (`atomic`), or as many as can be written, each failure reported by index."""
    class_id = decode_id_of(class_global_id, "Class")
    await gradebook_access(ctx, class_id, edit=True)
    if len(items) > MAX_BULK_UPDATES:
        return [], [Problem(f"At most {MAX_BULK_UPDATES} grades at once.", "INVALID", ("input", "updates"))]
    cells = [_decode(item, ("input", "updates", str(index))) for index, item in enumerate(items)]
    try:
        async with ctx.writer.begin() as session:
            written, problems = await _write_all(session, ctx, class_id, cells, atomic=atomic)
    except ProblemError as refused:
        return [], refused.problems
    await _announce(ctx, written)
    return written, problems


def _decode(item: GradeInput, field: tuple[str, ...]) -> _Cell:
    return _Cell(
        item,
        decode_id_of(item.student_global_id, "Student"),
        decode_id_of(item.assignment_global_id, "Assignment"),
        field,
    )


async def _write_all(
    session: AsyncSession,
    ctx: Context,
    class_id: int,
    cells: list[_Cell],
    *,
    atomic: bool,
) -> tuple[list[WrittenGrade], list[Problem]]:
    """Writes the cells in the caller's transaction, in order (a cell given twice is written
    twice): what was written and the problems of the rest. With `atomic`, any problem raises
    ProblemError with all of them instead, so the caller's transaction writes nothing."""
    problems: list[Problem] = []
    user = require_user(ctx)
    await lock_open_term(session, class_id, "share")
    assignments = await _assignments(session, class_id, {cell.assignment_id for cell in cells})
    enrolled = await _enrolled(session, class_id, {cell.student_id for cell in cells})
    stored = await _stored(session, cells)
    locks = await standing_locks(ctx, class_id)
    valid = []
    for cell in cells:
        refusal = _refusal(cell, assignments.get(cell.assignment_id), enrolled, locks, user.id)
        if refusal is None:
            valid.append(cell)
        else:
            problems.append(refusal)
    if atomic and problems:
        raise ProblemError(*problems)
    now = utcnow()
    changes: list[tuple[WrittenCell, float | None]] = []
    for cell in valid:
        before = stored.get((cell.student_id, cell.assignment_id))
        after = await _store(session, cell, before, user.id, now)
        if after is None:
            problems.append(
                Problem(
                    "Someone changed this grade first; reload it and try again.",
                    "VERSION_CONFLICT",
                    cell.field or None,
                )
            )
            continue
        stored[(cell.student_id, cell.assignment_id)] = _Stored(
            after.id, after.score, after.version, after.comment
        )
        changes.append((after, before.score if before else None))
    if atomic and problems:
        raise ProblemError(*problems)
    notified = await _record_changes(session, ctx, changes, assignments)
    # The transaction's own session: a writer holding SQLite's lock must not wait for another connection.
    scale = GradingScale(
        await session.scalar(select(School.grading_scale).where(School.id == user.school_id))
    )
    written = [
        WrittenGrade(
            grade,
            class_id,
            user,
            notification_id,
            scale.letter_of(grade.adjusted_score, assignments[grade.assignment_id].max_score),
            locks.get((grade.student_id, grade.assignment_id)),
        )
        for (grade, _), notification_id in zip(changes, notified, strict=True)
    ]
    return written, problems


async def _assignments(session: AsyncSession, class_id: int, ids: set[int]) -> dict[int, Assignment]:
    """The class's assignments among `ids`; archived ones are out of the gradebook."""
    found = await session.scalars(
        select(Assignment).where(
            Assignment.id.in_(ids), Assignment.class_id == class_id, Assignment.archived_at.is_(None)
        )
    )
    return {assignment.id: assignment for assignment in found}


async def _enrolled(session: AsyncSession, class_id: int, student_ids: set[int]) -> set[int]:
    found = await session.scalars(
        select(Enrollment.student_id).where(
            Enrollment.class_id == class_id,
            Enrollment.student_id.in_(student_ids),
            Enrollment.status == EnrollmentStatus.ACTIVE,
        )
    )
    return set(found)


async def _stored(session: AsyncSession, cells: list[_Cell]) -> dict[tuple[int, int], _Stored]:
    """The current grades of the cells (a superset: students by assignments of the batch)."""
    rows = await session.execute(
        select(
            Grade.student_id, Grade.assignment_id, Grade.id, Grade.score, Grade.version, Grade.comment
        ).where(
            Grade.student_id.in_({cell.student_id for cell in cells}),
            Grade.assignment_id.in_({cell.assignment_id for cell in cells}),
        )
    )
    return {
        (student_id, assignment_id): _Stored(grade_id, score, version, comment)
        for student_id, assignment_id, grade_id, score, version, comment in rows
    }


def _refusal(
    cell: _Cell,
    assignment: Assignment | None,
    enrolled: set[int],
    locks: dict[tuple[int, int], CellLock],
    user_id: int,
) -> Problem | None:
    field = cell.field
    if assignment is None:
        return Problem("No such assignment in this class.", "NOT_FOUND", (*field, "assignmentId"))
    if cell.student_id not in enrolled:
        return Problem("This student is not in the class.", "NOT_FOUND", (*field, "studentId"))
    score = cell.item.score
    if score is not None and (not math.isfinite(score) or not 0 <= score <= assignment.max_score):
        return Problem(
            f"The score must be between 0 and {assignment.max_score:g}.", "INVALID", (*field, "score")
        )
    refusal = _status_refusal(cell.item, field)
    if refusal is not None:
        return refusal
    lock = locks.get((cell.student_id, cell.assignment_id))
    if lock is not None and lock.holder_id != user_id:
        return Problem(f"{lock.holder_name} is editing this cell.", "CELL_LOCKED", field or None)
    return None


def _status_refusal(item: GradeInput, field: tuple[str, ...]) -> Problem | None:
    status, penalty = item.status or GradeStatus.NONE, item.late_penalty
    if status in WITHOUT_SCORE and item.score is not None:
        return Problem(
            f"A cell marked {status.value} has no score: clear the score or choose another status.",
            "INVALID",
            (*field, "score"),
        )
    if penalty is not None and status != GradeStatus.LATE:
        return Problem("A late penalty goes with the status LATE only.", "INVALID", (*field, "latePenalty"))
    if penalty is not None and (not math.isfinite(penalty) or not 0 <= penalty <= 100):
        return Problem(
            "The late penalty is a percent of the score, 0 to 100.", "INVALID", (*field, "latePenalty")
        )
    if item.comment is not None and len(item.comment) > MAX_COMMENT:
        return Problem(f"At most {MAX_COMMENT} characters.", "INVALID", (*field, "comment"))
    return None


async def _store(
    session: AsyncSession, cell: _Cell, before: _Stored | None, user_id: int, now: datetime
) -> WrittenCell | None:
    """Writes one cell against the version its writer saw; None on a version conflict."""
    item = cell.item
    expected, score, penalty = item.expected_version, item.score, item.late_penalty
    status = item.status or GradeStatus.NONE
    kept = before.comment if before else None
    comment = kept if item.comment is None else (item.comment or None)
    values = {
        "score": score, "status": status, "late_penalty": penalty, "comment": comment,
        "updated_at": now, "updated_by_id": user_id,
    }  # fmt: skip
    if before is None:
        if expected not in (None, 0):
            return None
        insert_grade = upsert_insert(session, Grade).values(
            assignment_id=cell.assignment_id, student_id=cell.student_id, version=1, **values
        )
        new_id = await session.scalar(insert_grade.on_conflict_do_nothing().returning(Grade.id))
        if new_id is None:  # another writer created it first
            return None
        grade_id, version = new_id, 1
    else:
        if expected is not None and expected != before.version:
            return None
        changed = await session.execute(
            update(Grade)
            .where(Grade.id == before.id, Grade.version == before.version)
            .values(version=before.version + 1, **values)
            .execution_options(synchronize_session=False)
        )
        if changed.rowcount != 1:  # type: ignore[attr-defined]
            return None
        grade_id, version = before.id, before.version + 1
    return WrittenCell(
        grade_id, cell.student_id, cell.assignment_id, score, version, now, user_id, status, penalty, comment
    )


async def _record_changes(
    session: AsyncSession,
    ctx: Context,
    changes: list[tuple[WrittenCell, float | None]],
    assignments: dict[int, Assignment],
) -> list[int | None]:
    """History, the students' notifications (their ids, in order), the new risk snapshots and
    the audit entries: a statement or two each, whatever the number of cells."""
    if not changes:
        return []
    await session.execute(
        insert(GradeChange),
        [
            {
                "grade_id": grade.id, "old_score": old, "new_score": grade.score, "version": grade.version,
                "changed_at": grade.updated_at, "changed_by_id": grade.updated_by_id,
            }
            for grade, old in changes
        ],
    )  # fmt: skip
    notes = {
        index: note
        for index, (grade, old) in enumerate(changes)
        if (note := _notification(grade, old, assignments[grade.assignment_id])) is not None
    }
    added = await add_each(session, ctx.settings, list(notes.values()), category=NotificationCategory.GRADES)
    ids = dict(zip(notes, added, strict=True))
    await refresh_student_risk(session, sorted({grade.student_id for grade, _ in changes}), utcnow())
    entries = [(grade.student_id, _audit_detail(grade, old)) for grade, old in changes]
    await audit.record_each(session, ctx, "grade.updated", "Student", entries)
    return [ids.get(index) for index in range(len(changes))]


def _notification(grade: WrittenCell, old: float | None, assignment: Assignment) -> NewNotification | None:
    """The student hears of a grade posted or changed (not of one cleared, nor of a grade of an
    assignment not published to them yet)."""
    if grade.score is None or not assignment.published:
        return None
    verb = "posted" if old is None else "changed"
    title = assignment.title
    body = f"{title}: {grade.score:g}/{assignment.max_score:g}"
    return NewNotification(grade.student_id, f"grade_{verb}", f"Grade {verb}: {title}", body)


def _audit_detail(grade: WrittenCell, old: float | None) -> dict[str, Any]:
    return {
        "assignmentId": grade.assignment_id, "old": old, "new": grade.score, "version": grade.version,
        "status": grade.status.value, "latePenalty": grade.late_penalty,
    }  # fmt: skip


async def _announce(ctx: Context, written: list[WrittenGrade]) -> None:
    """After commit: the gradebook's editors, the students' notification feeds and dashboards."""
    for item in written:
        await ctx.bus.publish(gradebook_channel(item.class_id), _grade_updated(item))
        if item.notification_id is not None:
            channel = user_notifications_channel(item.grade.student_id)
            await ctx.bus.publish(channel, NotificationAdded(notification_id=item.notification_id))
    if not written:
        return
    await dashboards_changed(ctx.app, sorted({item.grade.student_id for item in written}))
    await teacher_dashboards_changed(
        ctx.app,
        class_ids={item.class_id for item in written},
        student_ids={item.grade.student_id for item in written},
    )


def _grade_updated(written: WrittenGrade) -> GradeUpdated:
    grade = written.grade
    return GradeUpdated(
        student_id=grade.student_id,
        assignment_id=grade.assignment_id,
        grade=GradeSnapshot(
            id=grade.id,
            score=grade.score,
            adjusted_score=grade.adjusted_score,
            letter=written.letter,
            status=grade.status,
            late_penalty=grade.late_penalty,
            comment=grade.comment,
            version=grade.version,
            updated_at=grade.updated_at,
        ),
        by=UserRef(id=written.by.id, name=written.by.name),
        lock=written.lock,
    )
