"""Skill assessments of a student (by their teachers and mentors) and the progress they show.

A level (1 to 5) comes from the share of the points: below 40% is 1, then 2 from 40%, 3 from
55%, 4 from 70% and 5 from 85%. A skill's progress is its latest assessment (level and score
as a percentage) and its trend against the assessment of the same skill before it: UP or
DOWN by more than FLAT_POINTS percentage points, else FLAT; none with a single assessment.
The overall level is the mean of the skills' latest levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from statistics import mean
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, or_, select

from errors import Forbidden, Problem
from models import Assessment, StudentProfile, User
from models.base import utcnow
from resolvers import audit
from resolvers.ids import decode_id_of
from resolvers.pagination import (
    DIGITS,
    Page,
    cursor_key,
    cursor_time,
    decode_cursor,
    encode_cursor,
    page_size,
)
from resolvers.policy import NOT_VISIBLE, Relation, relation_to_student, require_user
from resolvers.students import get_student

if TYPE_CHECKING:
    from context import Context

LEVEL_FLOORS = (0.4, 0.55, 0.7, 0.85)
FLAT_POINTS = 2.0
ASSESSORS = frozenset({Relation.TEACHER, Relation.MENTOR})
MAX_SKILL_LENGTH, MAX_NOTES_LENGTH, MAX_POINTS = 120, 2000, 10_000.0


def assessment_level(share: float) -> int:
    """The level (1 to 5) of a share (0 to 1) of the points."""
    return 1 + sum(share >= floor for floor in LEVEL_FLOORS)


@dataclass(frozen=True)
class SkillProgress:
    skill: str
    level: int
    score: float  # percent of the points, latest assessment
    trend: str | None  # UP, DOWN, FLAT; None with one assessment
    updated_at: datetime


@dataclass(frozen=True)
class Progress:
    student: User
    profile: StudentProfile
    overall_level: float | None
    skills: list[SkillProgress]


def _percent(assessment: Assessment) -> float:
    return round(100 * assessment.score / assessment.max_score, 1)


async def student_progress(ctx: Context, student_global_id: str) -> Progress:
    """For everyone who may see the student (policy): themselves, guardians, mentors, teachers, staff."""
    student, profile, _ = await get_student(ctx, student_global_id)
    query = (
        select(Assessment)
        .where(Assessment.student_id == student.id)
        .order_by(Assessment.skill, Assessment.assessed_at, Assessment.id)
    )
    async with ctx.session_factory() as session:
        assessments = (await session.scalars(query)).all()
    by_skill: dict[str, list[Assessment]] = {}
    for assessment in assessments:
        by_skill.setdefault(assessment.skill, []).append(assessment)
    skills = []
    for skill, series in by_skill.items():
        latest = series[-1]
        trend = None
        if len(series) > 1:
            change = _percent(latest) - _percent(series[-2])
            trend = "UP" if change > FLAT_POINTS else "DOWN" if change < -FLAT_POINTS else "FLAT"
        skills.append(SkillProgress(skill, latest.level, _percent(latest), trend, latest.assessed_at))
    overall = round(mean(s.level for s in skills), 1) if skills else None
    return Progress(student, profile, overall, skills)


async def assessments(
    ctx: Context, student_id: int, first: int | None, after: str | None
) -> Page[Assessment]:
    """A page of the student's assessments, newest first (the caller has been allowed to see them)."""
    limit = page_size(first, ctx.settings.max_page_size, default=10)
    query = select(Assessment).where(Assessment.student_id == student_id)
    async with ctx.session_factory() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
        if after is not None:
            at, last_id = _decode_cursor(after)
            query = query.where(
                or_(Assessment.assessed_at < at, and_(Assessment.assessed_at == at, Assessment.id < last_id))
            )
        ordered = query.order_by(Assessment.assessed_at.desc(), Assessment.id.desc()).limit(limit + 1)
        rows = list((await session.scalars(ordered)).all())
    items = rows[:limit]
    return Page(
        items=items,
        cursors=[encode_cursor(f"{a.assessed_at.isoformat()}|{a.id}") for a in items],
        total_count=total,
        has_next_page=len(rows) > limit,
    )


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    at, _, raw_id = decode_cursor(cursor).partition("|")
    return cursor_time(at), cursor_key(int(raw_id) if DIGITS.fullmatch(raw_id) else None)


@dataclass
class NewAssessment:
    student_id: str
    skill: str
    score: float
    max_score: float
    notes: str | None


async def create_assessment(ctx: Context, new: NewAssessment) -> Assessment | list[Problem]:
    """By the student's teachers and mentors."""
    user = require_user(ctx)
    student_id = decode_id_of(new.student_id, "Student")
    profile = await ctx.loaders.student_profile_by_user_id.load(student_id)
    relation = await relation_to_student(ctx, student_id, profile.school_id) if profile else None
    if relation is None:
        raise Forbidden(NOT_VISIBLE)
    if relation not in ASSESSORS:
        raise Forbidden("Only the student's teachers and mentors assess them.")
    problems = _problems(new)
    if problems:
        return problems
    score, max_score = new.score, new.max_score
    assessment = Assessment(
        student_id=student_id,
        assessor_id=user.id,
        skill=new.skill.strip(),
        score=score,
        max_score=max_score,
        level=assessment_level(score / max_score),
        notes=new.notes.strip() if new.notes and new.notes.strip() else None,
        assessed_at=utcnow(),
    )
    async with ctx.writer.begin() as session:
        session.add(assessment)
        await session.flush()
        audit.record(
            session, ctx, "assessment.created", "Student", student_id,
            detail={"assessmentId": assessment.id, "skill": assessment.skill, "level": assessment.level},
        )  # fmt: skip
    return assessment


def _problems(new: NewAssessment) -> list[Problem]:
    problems = []
    if not new.skill.strip() or len(new.skill) > MAX_SKILL_LENGTH:
        message = f"Name the skill in 1 to {MAX_SKILL_LENGTH} characters."
        problems.append(Problem(message, "INVALID", ("input", "skill")))
    if not (math.isfinite(new.max_score) and 0 < new.max_score <= MAX_POINTS):
        message = f"The maximum score is more than 0 and at most {MAX_POINTS:g}."
        problems.append(Problem(message, "INVALID", ("input", "maxScore")))
    elif not (math.isfinite(new.score) and 0 <= new.score <= new.max_score):
        message = f"The score must be between 0 and {new.max_score:g}."
        problems.append(Problem(message, "INVALID", ("input", "score")))
    if new.notes and len(new.notes) > MAX_NOTES_LENGTH:
        message = f"Notes are limited to {MAX_NOTES_LENGTH} characters."
        problems.append(Problem(message, "INVALID", ("input", "notes")))
    return problems
