"""A student's transcript as data: each term's classes, newest term first, with the final grade
frozen when the term closed (`final`) or, while it is open, the current one.

The student, their guardians and the school's staff and admins read it; reads by others than
the student are audited. Classes come from ACTIVE and COMPLETED enrollments (a dropped class is
not on the transcript). The GPAs weigh grade points by course credits over final entries only,
as `loaders.academics.AcademicRecord` does; a class earns its credits with points above zero.
Everything is read through loaders, so a list of students costs the same few statements.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from errors import Forbidden
from loaders.academics import AcademicRecord
from models import Class, Course, Term
from models.enums import TermStatus
from models.grade_math import GradingScale
from resolvers import audit
from resolvers.policy import Relation, relation_to_student

if TYPE_CHECKING:
    from context import Context

TRANSCRIPT_READERS = frozenset({Relation.SELF, Relation.GUARDIAN, Relation.SCHOOL})
NOT_A_READER = "Transcripts are for the student, their guardians and school staff."


@dataclass(frozen=True)
class TranscriptEntry:
    klass: Class
    course: Course
    credits: float
    percentage: float | None
    letter: str | None
    grade_points: float | None
    final: bool


@dataclass(frozen=True)
class TranscriptTerm:
    term: Term
    entries: list[TranscriptEntry]

    @property
    def gpa(self) -> float | None:
        return record_of(self.entries).gpa


@dataclass(frozen=True)
class Transcript:
    terms: list[TranscriptTerm]
    record: AcademicRecord

    @property
    def cumulative_gpa(self) -> float | None:
        return self.record.gpa

    @property
    def earned_credits(self) -> float:
        return self.record.earned_credits


def record_of(entries: Sequence[TranscriptEntry]) -> AcademicRecord:
    """Credit-weighted grade points of the final entries that have points."""
    graded = [e for e in entries if e.final and e.grade_points is not None]
    return AcademicRecord(
        quality_points=sum((e.grade_points or 0.0) * e.credits for e in graded),
        attempted_credits=sum(e.credits for e in graded),
        earned_credits=sum(e.credits for e in graded if (e.grade_points or 0.0) > 0),
    )


async def readable_transcript(ctx: Context, student_id: int, school_id: int) -> Transcript:
    """The transcript if the caller may read it; FORBIDDEN otherwise."""
    relation = await relation_to_student(ctx, student_id, school_id)
    if relation not in TRANSCRIPT_READERS:
        raise Forbidden(NOT_A_READER)
    if relation is not Relation.SELF:
        audit.note_read(ctx, "Student", student_id)
    return await transcript_of(ctx, student_id, school_id)


async def transcript_of(ctx: Context, student_id: int, school_id: int) -> Transcript:
    """The transcript, for a caller already allowed to read it."""
    loaders = ctx.loaders
    enrollments = await loaders.transcript_enrollments_by_student.load(student_id)
    classes = [c for c in await loaders.class_by_id.load_many([e.class_id for e in enrollments]) if c]
    terms, courses, school = await asyncio.gather(
        loaders.term_by_id.load_many(sorted({c.term_id for c in classes})),
        loaders.course_by_id.load_many(sorted({c.course_id for c in classes})),
        loaders.school_by_id.load_existing(school_id),
    )
    term_of = {t.id: t for t in terms if t is not None}
    course_of = {c.id: c for c in courses if c is not None}
    closed = [c for c in classes if term_of[c.term_id].status == TermStatus.CLOSED]
    current = [c for c in classes if term_of[c.term_id].status != TermStatus.CLOSED]
    finals, percentages = await asyncio.gather(
        loaders.final_grade.load_many([(c.id, student_id) for c in closed]),
        loaders.current_percentage.load_many([(c.id, student_id) for c in current]),
    )
    scale = GradingScale(school.grading_scale)
    entries: defaultdict[int, list[TranscriptEntry]] = defaultdict(list)
    for klass, final in zip(closed, finals, strict=True):
        percentage = final.percentage if final else None
        letter = final.letter if final else None
        points = final.grade_points if final else None
        entries[klass.term_id].append(_entry(klass, course_of, percentage, letter, points, final=True))
    for klass, percentage in zip(current, percentages, strict=True):
        grade = scale.grade(percentage) if percentage is not None else None
        letter, points = (grade.letter, grade.points) if grade else (None, None)
        entries[klass.term_id].append(_entry(klass, course_of, percentage, letter, points, final=False))
    ordered = sorted(term_of.values(), key=lambda t: (t.starts_on, t.id), reverse=True)
    transcript_terms = [
        TranscriptTerm(
            term, sorted(entries[term.id], key=lambda e: (e.course.code, e.klass.title, e.klass.id))
        )
        for term in ordered
    ]
    every_entry = [entry for term in transcript_terms for entry in term.entries]
    return Transcript(terms=transcript_terms, record=record_of(every_entry))


def _entry(
    klass: Class,
    course_of: dict[int, Course],
    percentage: float | None,
    letter: str | None,
    points: float | None,
    *,
    final: bool,
) -> TranscriptEntry:
    course = course_of[klass.course_id]
    return TranscriptEntry(klass, course, float(course.credits), percentage, letter, points, final)
