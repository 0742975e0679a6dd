"""A class's grade sheet as it is exported (plain dataclasses) and its PDF rendering.

The CSV of the same sheet is `resolvers.reports.spreadsheets.gradebook_csv`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import LETTER, landscape  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    CondPageBreak,
    Flowable,
    PageBreak,
    Paragraph,
    Table,
    TableStyle,
)

from resolvers.reports.formatting import (
    MISSING,
    display_number,
    display_time,
    fixed_number,
    plain_number,
    shorten,
)
from resolvers.reports.pdf import (
    BOLD,
    CELL,
    FAINT,
    HEAD,
    HEAD_CENTER,
    HEAD_RIGHT,
    HEADER_FILL,
    HEADER_SUBTLE,
    INK,
    NOTE,
    REGULAR,
    RULE,
    SUBHEADING,
    ZEBRA,
    PageFurniture,
    PageSize,
    content_width,
    markup,
    register_fonts,
    render,
    title_block,
)

# --- Input ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetAssignment:
    """One gradebook column. `category` is display text, e.g. "Homework"."""

    title: str
    category: str
    max_score: float
    due_at: datetime | None = None


@dataclass(frozen=True)
class SheetRow:
    """One student: a score per assignment, in the sheet's assignment order (None = not graded)."""

    student_name: str
    student_number: str
    scores: Sequence[float | None]
    final_percentage: float | None = None
    final_letter: str | None = None


@dataclass(frozen=True)
class GradebookSheet:
    """A class's grade sheet as it is exported. `generated_at` is shown as given (use local time)."""

    school_name: str
    class_title: str
    course_code: str
    term_name: str
    teacher_names: Sequence[str]
    generated_at: datetime
    assignments: Sequence[SheetAssignment]
    rows: Sequence[SheetRow]

    def __post_init__(self) -> None:
        for row in self.rows:
            if len(row.scores) != len(self.assignments):
                raise ValueError(
                    f"Student {row.student_number!r} has {len(row.scores)} scores "
                    f"for {len(self.assignments)} assignments."
                )


# --- PDF --------------------------------------------------------------------------------------

GRADEBOOK_MARGIN = 36
NUMBER_WIDTH, FINAL_WIDTH, LETTER_WIDTH = 58.0, 46.0, 38.0
MIN_NAME_WIDTH = 140.0
# Wide enough for a header word such as "Homework" in 7 pt bold DejaVu Sans.
MIN_SCORE_WIDTH, MAX_SCORE_WIDTH = 50.0, 72.0
HEADER_TITLE_CHARACTERS = 40


def gradebook_pdf(sheet: GradebookSheet, *, page_size: PageSize = LETTER) -> bytes:
    """The sheet as a landscape PDF: title block, the grade table, and an assignment key.

    Wide sheets: the font stays at a readable 8 pt, and when the assignments do not fit across
    one page (more than 8 on Letter, 9 on A4) they are split into bands of equal size, each on its own
    pages and each repeating the student number and name and the final grade, so that every
    page reads on its own. Each band's header row repeats on every page it runs over. Titles
    are cut to 40 characters in the table's header; the key at the end has them in full, with
    the category, the maximum and the due date. Scores show at most two decimals.
    """
    register_fonts()
    size = landscape(page_size)
    width = content_width(size, GRADEBOOK_MARGIN)
    bands = _score_bands(len(sheet.assignments), width)
    teachers = ", ".join(sheet.teacher_names) or MISSING
    story = title_block(
        sheet.school_name,
        sheet.class_title,
        [
            ("Course", sheet.course_code),
            ("Term", sheet.term_name),
            ("Teachers", teachers),
            ("Students", str(len(sheet.rows))),
            ("Generated", display_time(sheet.generated_at)),
        ],
    )
    for index, band in enumerate(bands):
        if index:
            story.append(PageBreak())
        if len(bands) > 1:
            label = f"Assignments {band.start + 1} to {band.stop} of {len(sheet.assignments)}"
            story.append(Paragraph(label, SUBHEADING))
        story.append(_grade_table(sheet, band, width))
    story += _assignment_key(sheet.assignments, width)
    identity = f"{sheet.class_title} · {sheet.course_code} · {sheet.term_name}"
    return render(
        story,
        page_size=size,
        title=f"Gradebook: {identity}",
        author=sheet.school_name,
        furniture=PageFurniture(
            footer=f"{sheet.school_name} · Gradebook generated {display_time(sheet.generated_at)}",
            running_header=identity,
            margin=GRADEBOOK_MARGIN,
        ),
    )


def _score_bands(count: int, width: float) -> list[range]:
    """Split `count` assignment columns into as few equal-sized bands as fit across `width`."""
    if not count:
        return [range(0)]
    room = width - NUMBER_WIDTH - MIN_NAME_WIDTH - FINAL_WIDTH - LETTER_WIDTH
    per_band = max(1, int(room // MIN_SCORE_WIDTH))
    size = math.ceil(count / math.ceil(count / per_band))
    return [range(start, min(start + size, count)) for start in range(0, count, size)]


def _grade_table(sheet: GradebookSheet, band: range, width: float) -> Table:
    fixed = NUMBER_WIDTH + FINAL_WIDTH + LETTER_WIDTH
    score_width = min(MAX_SCORE_WIDTH, (width - fixed - MIN_NAME_WIDTH) / len(band)) if band else 0.0
    name_width = width - fixed - score_width * len(band)
    header = _grade_header(sheet.assignments[band.start : band.stop])
    body = [_grade_row(row, band) for row in sheet.rows]
    if not body:
        body = [[Paragraph("No students are enrolled in this class.", NOTE)]]
        body[0] += [""] * (len(header) - 1)
    table = Table(
        [header, *body],
        colWidths=[NUMBER_WIDTH, name_width, *[score_width] * len(band), FINAL_WIDTH, LETTER_WIDTH],
        repeatRows=1,
    )
    table.setStyle(_grade_table_style(sheet, band, len(header)))
    return table


def _grade_header(assignments: Sequence[SheetAssignment]) -> list[Paragraph]:
    return [
        Paragraph("Student #", HEAD),
        Paragraph("Student", HEAD),
        *(Paragraph(_score_heading(a), HEAD_RIGHT) for a in assignments),
        Paragraph("Final %", HEAD_RIGHT),
        Paragraph("Letter", HEAD_CENTER),
    ]


def _score_heading(assignment: SheetAssignment) -> str:
    title = shorten(assignment.title, HEADER_TITLE_CHARACTERS)
    maximum = plain_number(assignment.max_score, 2)
    subtle = f"<font name={REGULAR} size=6.5 color='{HEADER_SUBTLE.hexval()}'>"
    return f"{markup(title)}<br/>{subtle}/ {maximum}</font>"


def _grade_row(row: SheetRow, band: range) -> list[Paragraph | str]:
    return [
        Paragraph(markup(row.student_number), CELL),
        Paragraph(markup(row.student_name), CELL),
        *(display_number(row.scores[i]) for i in band),
        fixed_number(row.final_percentage),
        row.final_letter or MISSING,
    ]


def _grade_table_style(sheet: GradebookSheet, band: range, columns: int) -> TableStyle:
    final = columns - 2
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), REGULAR, 8),
        ("TEXTCOLOR", (0, 0), (-1, -1), INK),
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("VALIGN", (0, 0), (-1, 0), "BOTTOM"),
        ("VALIGN", (0, 1), (-1, -1), "MIDDLE"),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, ZEBRA]),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ("LINEBEFORE", (final, 0), (final, -1), 0.75, HEADER_SUBTLE),
        ("ALIGN", (2, 1), (-2, -1), "RIGHT"),
        ("ALIGN", (-1, 1), (-1, -1), "CENTER"),
        ("FONT", (final, 1), (-1, -1), BOLD, 8),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 3),
        ("RIGHTPADDING", (0, 0), (-1, -1), 3),
    ]
    if not sheet.rows:
        return TableStyle([*commands, ("SPAN", (0, 1), (-1, 1))])
    for y, row in enumerate(sheet.rows, start=1):
        for x, index in enumerate(band, start=2):
            if row.scores[index] is None:
                commands.append(("TEXTCOLOR", (x, y), (x, y), FAINT))
        if row.final_percentage is None:
            commands.append(("TEXTCOLOR", (final, y), (final, y), FAINT))
        if row.final_letter is None:
            commands.append(("TEXTCOLOR", (final + 1, y), (final + 1, y), FAINT))
    return TableStyle(commands)


def _assignment_key(assignments: Sequence[SheetAssignment], width: float) -> list[Flowable]:
    heading = [CondPageBreak(80), Paragraph("Assignment key", SUBHEADING)]
    if not assignments:
        return [*heading, Paragraph("No assignments yet.", NOTE)]
    rows = [
        [
            str(number),
            Paragraph(markup(a.title), CELL),
            Paragraph(markup(a.category), CELL),
            plain_number(a.max_score, 2),
            display_time(a.due_at) if a.due_at else MISSING,
        ]
        for number, a in enumerate(assignments, start=1)
    ]
    header = [Paragraph(t, HEAD) for t in ("#", "Assignment", "Category")]
    header += [Paragraph("Max", HEAD_RIGHT), Paragraph("Due", HEAD)]
    table = Table([header, *rows], colWidths=[28, width - 28 - 130 - 50 - 120, 130, 50, 120], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), REGULAR, 8),
                ("TEXTCOLOR", (0, 1), (-1, -1), INK),
                ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, ZEBRA]),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
                ("ALIGN", (3, 1), (3, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return [*heading, table]
