"""Transcripts: the term GPA, and the PDF read back with pypdf."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from resolvers.reports.formatting import MISSING
from resolvers.reports.transcripts import (
    Transcript,
    TranscriptCourse,
    TranscriptTerm,
    term_gpa,
    transcript_pdf,
)
from tests.resolvers.reports.samples import GENERATED, pdf_pages


def course(code: str, credits: float, letter: str | None, points: float | None) -> TranscriptCourse:
    return TranscriptCourse(code, f"Course {code}", credits, letter, points)


def test_term_gpa_weighs_grade_points_by_credits() -> None:
    courses = [
        course("A", 4, "A", 4.0),
        course("B", 3, "B+", 3.3),
        course("C", 2, "C", 2.0),
        course("PE", 1, "P", None),  # pass/fail: no points, not in the GPA
        course("SP", 3, None, None),  # in progress
        course("SEM", 0, "A", 4.0),  # no credits, no weight
    ]
    # (4 * 4.0 + 3 * 3.3 + 2 * 2.0) / (4 + 3 + 2) = 29.9 / 9
    assert term_gpa(courses) == pytest.approx(3.32222, abs=1e-5)


def test_term_gpa_is_none_when_nothing_counts() -> None:
    assert term_gpa([]) is None
    assert term_gpa([course("PE", 1, "P", None), course("X", 0, "A", 4.0)]) is None


TRANSCRIPT = Transcript(
    school_name="Lincoln High School",
    student_name="Zoë O'Brien",
    student_number="S10042",
    generated_at=GENERATED,
    terms=[
        TranscriptTerm(
            "Fall 2024",
            [
                TranscriptCourse("MATH-201", "Algebra II", 4, "A", 4.0),
                TranscriptCourse("HIST-110", "World History <Honors> & Geography", 3, "B+", 3.3),
                TranscriptCourse("PE-100", "Physical Education", 1, "P", None),
            ],
        ),
        TranscriptTerm("Spring 2025", [TranscriptCourse("CHEM-150", "Chemistry", 4, None, None)]),
    ],
    cumulative_gpa=3.7,
    earned_credits=8,
)


def test_transcript_pdf_shows_terms_courses_and_gpas() -> None:
    data = transcript_pdf(TRANSCRIPT)
    assert data.startswith(b"%PDF-")
    page = PdfReader(io.BytesIO(data)).pages[0]
    assert page.mediabox.height > page.mediabox.width  # portrait
    (text,) = pdf_pages(data)
    assert "Student Zoë O'Brien Student number S10042 Generated 2025-06-01 14:30 UTC" in text
    assert "Fall 2024 Code Course Credits Grade Points" in text
    assert "MATH-201 Algebra II 4 A 4.00" in text
    assert "HIST-110 World History <Honors> & Geography 3 B+ 3.30" in text
    assert f"PE-100 Physical Education 1 P {MISSING}" in text
    # (4 * 4.0 + 3 * 3.3) / 7 = 3.7
    assert "Term credits 8 GPA 3.70" in text
    assert f"CHEM-150 Chemistry 4 {MISSING} {MISSING} Term credits 4 GPA {MISSING}" in text
    assert "Cumulative GPA Earned credits 3.70 8" in text
    assert "Unofficial transcript — generated 2025-06-01 14:30 UTC" in text
    assert "Page 1 of 1" in text


def test_a_long_transcript_numbers_its_pages_and_names_the_student_on_each() -> None:
    terms = [
        TranscriptTerm(f"Term {n}", [course(f"C{n}-{i}", 3, "A", 4.0) for i in range(8)]) for n in range(12)
    ]
    pages = pdf_pages(transcript_pdf(Transcript("School", "Ana Silva", "S7", GENERATED, terms, 4.0, 288)))
    assert len(pages) > 1
    for number, page in enumerate(pages, start=1):
        assert f"Unofficial transcript — generated 2025-06-01 14:30 UTC Page {number} of {len(pages)}" in page
        assert number == 1 or "Ana Silva · S7" in page  # the running header


def test_an_empty_transcript_still_renders() -> None:
    (text,) = pdf_pages(transcript_pdf(Transcript("School", "Ana", "S1", GENERATED, [], None, 0)))
    assert "No courses on record yet." in text
    assert f"Cumulative GPA Earned credits {MISSING} 0" in text


def test_transcript_pdf_renders_the_same_bytes_twice() -> None:
    assert transcript_pdf(TRANSCRIPT) == transcript_pdf(TRANSCRIPT)
