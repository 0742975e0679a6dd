"""Sample exports for the renderer tests, and how the tests read the files back."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from pypdf import PdfReader

from resolvers.reports.gradebook import GradebookSheet, SheetAssignment, SheetRow

GENERATED = datetime(2025, 6, 1, 14, 30, tzinfo=UTC)

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
