"""A student's transcript as it is exported (plain dataclasses, made from the transcript as data
by `printed_transcript`), its term GPA, and its PDF rendering."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import LETTER, portrait  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Flowable,
    KeepTogether,
    Paragraph,
    Table,
    TableStyle,
)

from models.enums import TermStatus
from resolvers.reports.formatting import MISSING, display_time, fixed_number, plain_number
from resolvers.reports.pdf import (
    BOLD,
    COURSE,
    FAINT,
    HEADER_SUBTLE,
    INK,
    MUTED,
    NOTE,
    PANEL,
    REGULAR,
    TERM,
    TOTAL_LABEL,
    TOTAL_VALUE,
    ZEBRA,
    PageFurniture,
    PageSize,
    content_width,
    markup,
    register_fonts,
    render,
    title_block,
)
from resolvers.transcripts import Transcript as TranscriptRecord

# --- Input ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TranscriptCourse:
    """A course taken. `letter` and `grade_points` are None while it is in progress; a course
    graded without points (pass/fail) has a letter but no points and does not count in the GPA."""

    code: str
    title: str
    credits: float
    letter: str | None = None
    grade_points: float | None = None


@dataclass(frozen=True)
class TranscriptTerm:
    """A term's courses; `in_progress`: the term is open, its grades are not final yet."""

    name: str
    courses: Sequence[TranscriptCourse]
    in_progress: bool = False


@dataclass(frozen=True)
class Transcript:
    """A student's record. The cumulative figures are given, not derived: the school's rules for
    repeated or transferred courses decide them, and they are the caller's to apply."""

    school_name: str
    student_name: str
    student_number: str
    generated_at: datetime
    terms: Sequence[TranscriptTerm]
    cumulative_gpa: float | None
    earned_credits: float


def printed_transcript(
    record: TranscriptRecord,
    *,
    school_name: str,
    student_name: str,
    student_number: str,
    generated_at: datetime,
) -> Transcript:
    """The PDF's input, oldest term first: a closed term's classes with the final grades frozen
    when it closed, an open term's in progress (no grade before its close)."""
    return Transcript(
        school_name=school_name,
        student_name=student_name,
        student_number=student_number,
        generated_at=generated_at,
        terms=[
            TranscriptTerm(
                term.term.name,
                [
                    TranscriptCourse(
                        e.course.code,
                        e.course.title,
                        e.credits,
                        e.letter if e.final else None,
                        e.grade_points if e.final else None,
                    )
                    for e in term.entries
                ],
                in_progress=term.term.status != TermStatus.CLOSED,
            )
            for term in reversed(record.terms)
        ],
        cumulative_gpa=record.cumulative_gpa,
        earned_credits=record.earned_credits,
    )


def term_gpa(courses: Sequence[TranscriptCourse]) -> float | None:
    """The credit-weighted mean of the grade points, over courses that have points and credits.

    None when no course counts (all in progress, pass/fail, or without credits). Not rounded.
    """
    counted = [c for c in courses if c.grade_points is not None and c.credits > 0]
    credits = sum(c.credits for c in counted)
    if credits <= 0:
        return None
    return sum(c.credits * (c.grade_points or 0.0) for c in counted) / credits


# --- PDF --------------------------------------------------------------------------------------

TRANSCRIPT_MARGIN = 54
CODE_WIDTH, CREDITS_WIDTH, GRADE_WIDTH, POINTS_WIDTH = 78.0, 56.0, 50.0, 56.0


def transcript_pdf(transcript: Transcript, *, page_size: PageSize = LETTER) -> bytes:
    """The transcript as a portrait PDF: a section per term with its courses and term GPA
    (`term_gpa`), then the cumulative GPA and earned credits. Every page's footer says it is
    unofficial and when it was generated; pages after the first name the student at the top."""
    register_fonts()
    size = portrait(page_size)
    width = content_width(size, TRANSCRIPT_MARGIN)
    generated = display_time(transcript.generated_at)
    story = title_block(
        transcript.school_name,
        "Unofficial transcript",
        [
            ("Student", transcript.student_name),
            ("Student number", transcript.student_number),
            ("Generated", generated),
        ],
    )
    story += [_term_section(term, width) for term in transcript.terms]
    if not transcript.terms:
        story.append(Paragraph("No courses on record yet.", NOTE))
    story.append(_totals(transcript, width))
    return render(
        story,
        page_size=size,
        title=f"Unofficial transcript: {transcript.student_name}",
        author=transcript.school_name,
        furniture=PageFurniture(
            footer=f"Unofficial transcript — generated {generated}",
            running_header=f"{transcript.student_name} · {transcript.student_number}",
            margin=TRANSCRIPT_MARGIN,
        ),
    )


def _term_section(term: TranscriptTerm, width: float) -> Flowable:
    """A term's heading and table, kept on one page when they fit on one."""
    heading = Paragraph(markup(f"{term.name} (in progress)" if term.in_progress else term.name), TERM)
    header = ["Code", "Course", "Credits", "Grade", "Points"]
    rows: list[list[Paragraph | str]] = [
        [
            Paragraph(markup(c.code), COURSE),
            Paragraph(markup(c.title), COURSE),
            plain_number(c.credits, 2),
            c.letter or MISSING,
            fixed_number(c.grade_points),
        ]
        for c in term.courses
    ]
    attempted = plain_number(sum(c.credits for c in term.courses), 2)
    footer: list[Paragraph | str] = [
        "",
        "Term credits",
        attempted,
        "GPA",
        fixed_number(term_gpa(term.courses)),
    ]
    title_width = width - CODE_WIDTH - CREDITS_WIDTH - GRADE_WIDTH - POINTS_WIDTH
    table = Table(
        [header, *rows, footer],
        colWidths=[CODE_WIDTH, title_width, CREDITS_WIDTH, GRADE_WIDTH, POINTS_WIDTH],
        repeatRows=1,
    )
    table.setStyle(_term_table_style(term))
    return KeepTogether([heading, table])


def _term_table_style(term: TranscriptTerm) -> TableStyle:
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), REGULAR, 8.5),
        ("FONT", (0, 0), (-1, 0), BOLD, 8),
        ("FONT", (0, -1), (-1, -1), BOLD, 8.5),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("TEXTCOLOR", (0, 0), (-1, 0), MUTED),
        ("BACKGROUND", (0, 0), (-1, 0), PANEL),
        ("ROWBACKGROUNDS", (0, 1), (-1, -2), [colors.white, ZEBRA]),
        ("LINEBELOW", (0, 0), (-1, 0), 0.75, HEADER_SUBTLE),
        ("LINEABOVE", (0, -1), (-1, -1), 0.75, HEADER_SUBTLE),
        ("ALIGN", (2, 0), (2, -1), "RIGHT"),
        ("ALIGN", (3, 0), (3, -1), "CENTER"),
        ("ALIGN", (4, 0), (4, -1), "RIGHT"),
        ("ALIGN", (1, -1), (1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
    ]
    for y, course in enumerate(term.courses, start=1):
        if course.letter is None:
            commands.append(("TEXTCOLOR", (3, y), (3, y), FAINT))
        if course.grade_points is None:
            commands.append(("TEXTCOLOR", (4, y), (4, y), FAINT))
    return TableStyle(commands)


def _totals(transcript: Transcript, width: float) -> Table:
    """The closing panel: cumulative GPA and earned credits."""
    table = Table(
        [
            [Paragraph("Cumulative GPA", TOTAL_LABEL), Paragraph("Earned credits", TOTAL_LABEL)],
            [
                Paragraph(fixed_number(transcript.cumulative_gpa), TOTAL_VALUE),
                Paragraph(plain_number(transcript.earned_credits, 2), TOTAL_VALUE),
            ],
        ],
        colWidths=[width / 2, width / 2],
        spaceBefore=16,
    )
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), PANEL),
                ("LEFTPADDING", (0, 0), (-1, -1), 12),
                ("TOPPADDING", (0, 0), (-1, 0), 9),
                ("BOTTOMPADDING", (0, -1), (-1, -1), 10),
            ]
        )
    )
    return table
