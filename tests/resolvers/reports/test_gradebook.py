"""The gradebook's PDF, read back with pypdf."""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4

from resolvers.reports.formatting import MISSING
from resolvers.reports.gradebook import GradebookSheet, SheetAssignment, SheetRow, gradebook_pdf
from resolvers.reports.pdf import _font_files
from tests.resolvers.reports.samples import ASSIGNMENTS, GENERATED, pdf_pages, sheet

HAS_DEJAVU = _font_files()[0].name.startswith("DejaVu")


def test_a_row_must_have_a_score_slot_per_assignment() -> None:
    with pytest.raises(ValueError, match="'S1' has 2 scores for 3 assignments"):
        sheet([SheetRow("A", "S1", [1, 2])])


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
