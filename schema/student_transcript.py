"""A student's transcript as data (`Student.transcript`): each term's classes
with their final or current grades, term and cumulative GPA.

A base class of the type it extends, so that it is written apart from that type's module, which
it must not import at import time (strawberry.lazy for the way back).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from resolvers import transcripts
from schema.base import Info
from schema.terms import Term

if TYPE_CHECKING:
    from schema.academics import Class, Course


@strawberry.type(description="A class on a transcript, with its final or current grade.")
class TranscriptEntry:
    credits: float
    percentage: float | None
    letter: str | None
    grade_points: float | None
    final: bool = strawberry.field(
        description="The grade frozen when the term closed; false: the current grade of an open term."
    )
    entry: strawberry.Private[transcripts.TranscriptEntry]

    @classmethod
    def of(cls, entry: transcripts.TranscriptEntry) -> TranscriptEntry:
        return cls(
            credits=entry.credits,
            percentage=entry.percentage,
            letter=entry.letter,
            grade_points=entry.grade_points,
            final=entry.final,
            entry=entry,
        )

    @strawberry.field(name="class")
    def class_(self) -> Annotated[Class, strawberry.lazy("schema.academics")]:
        from schema.academics import Class  # noqa: PLC0415 - schema.academics leads back here

        return Class.from_model(self.entry.klass)

    @strawberry.field
    def course(self) -> Annotated[Course, strawberry.lazy("schema.academics")]:
        from schema.academics import Course  # noqa: PLC0415

        return Course.from_model(self.entry.course)


@strawberry.type
class TranscriptTerm:
    term: Term
    term_gpa: float | None = strawberry.field(description="Credit-weighted, over the final grades.")
    entries: list[TranscriptEntry]


@strawberry.type(description="The student's record: each term's classes, newest term first.")
class Transcript:
    cumulative_gpa: float | None = strawberry.field(description="Credit-weighted, over every final grade.")
    earned_credits: float = strawberry.field(description="Credits of final grades with points above zero.")
    terms: list[TranscriptTerm]


@strawberry.type
class StudentTranscriptFields:
    student_id: strawberry.Private[int]
    school_id: strawberry.Private[int]

    @strawberry.field(description="The student, their guardians and the school's staff and admins.")
    async def transcript(self, info: Info) -> Transcript | None:
        record = await transcripts.readable_transcript(info.context, self.student_id, self.school_id)
        return Transcript(
            cumulative_gpa=record.cumulative_gpa,
            earned_credits=record.earned_credits,
            terms=[
                TranscriptTerm(
                    term=Term.from_model(term.term),
                    term_gpa=term.gpa,
                    entries=[TranscriptEntry.of(entry) for entry in term.entries],
                )
                for term in record.terms
            ],
        )
