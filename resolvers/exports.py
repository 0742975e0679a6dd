"""Gradebook and transcript exports as file bytes (CSV and PDF), made from plain data.

These are pure functions: the caller loads the data into the dataclasses below, calls one
function, and stores the bytes (`MediaStore.save`, then `sign_url`). Rendering a PDF is
CPU-bound (a 120-student, 25-assignment sheet takes about half a second) and renders take
turns within a process: from async code call them with `asyncio.to_thread`.

The same input always gives the same bytes: PDFs are made with reportlab's `invariant` mode,
which fixes the creation date and the document ID instead of taking them from the clock.

Fonts: text is set in DejaVu Sans when the system has it (Debian's `fonts-dejavu-core`), which
covers Latin, Greek and Cyrillic names; otherwise in Bitstream Vera, which ships inside
reportlab and covers Western European accents only. Either is embedded in the PDF, so every
viewer shows the same glyphs. The PDF base fonts (Helvetica) are not used: they cannot show
a name such as "Łukasz".
"""

from __future__ import annotations

import csv
import io
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.enums import TA_CENTER, TA_RIGHT  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import LETTER, landscape, portrait  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    CondPageBreak,
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

PageSize = tuple[float, float]

MISSING = "—"
"""Shown in a PDF where there is no value yet (an ungraded score, a course still in progress)."""

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
    name: str
    courses: Sequence[TranscriptCourse]


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


def term_gpa(courses: Sequence[TranscriptCourse]) -> float | None:
    """The credit-weighted mean of the grade points, over courses that have points and credits.

    None when no course counts (all in progress, pass/fail, or without credits). Not rounded.
    """
    counted = [c for c in courses if c.grade_points is not None and c.credits > 0]
    credits = sum(c.credits for c in counted)
    if credits <= 0:
        return None
    return sum(c.credits * (c.grade_points or 0.0) for c in counted) / credits


# --- CSV --------------------------------------------------------------------------------------

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_DECIMALS = 4  # more than the PDF's two: the CSV is data to re-use, not only to read


def neutralize_formula(text: str) -> str:
    """`text`, prefixed with a single quote if a spreadsheet would read it as a formula.

    OWASP's rule for CSV injection: a cell starting with =, +, -, @, tab or carriage return
    could run as a formula (e.g. `=HYPERLINK(...)` leaking data) when the file is opened.
    """
    return f"'{text}" if text.startswith(_FORMULA_STARTS) else text


def plain_number(value: float, decimals: int) -> str:
    """`value` rounded to at most `decimals` places, without float noise: 10.0 -> "10", 8.50 -> "8.5"."""
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def gradebook_csv(sheet: GradebookSheet) -> bytes:
    """The sheet as CSV in UTF-8 with a byte order mark, which Excel needs to read accents right.

    Columns: Student number, Student, one per assignment ("Title (max)"), Final %, Letter.
    An ungraded score is an empty cell. Every text cell is guarded by `neutralize_formula`;
    numbers are written by us and need no guard (a negative score stays a number).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            "Student number",
            "Student",
            *(
                neutralize_formula(f"{a.title} ({plain_number(a.max_score, CSV_DECIMALS)})")
                for a in sheet.assignments
            ),
            "Final %",
            "Letter",
        ]
    )
    for row in sheet.rows:
        writer.writerow(
            [
                neutralize_formula(row.student_number),
                neutralize_formula(row.student_name),
                *(_csv_number(score) for score in row.scores),
                _csv_number(row.final_percentage),
                neutralize_formula(row.final_letter or ""),
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def _csv_number(value: float | None) -> str:
    return "" if value is None else plain_number(value, CSV_DECIMALS)


# --- PDF: fonts, styles, page furniture -------------------------------------------------------

REGULAR, BOLD = "CampusGraphSans", "CampusGraphSans-Bold"
_DEJAVU_FOLDERS = (
    Path("/usr/share/fonts/truetype/dejavu"),  # Debian, Ubuntu
    Path("/usr/share/fonts/dejavu-sans-fonts"),  # Fedora
    Path("/usr/share/fonts/dejavu"),  # Alpine, older Fedora
    Path("/usr/share/fonts/TTF"),  # Arch
)
FURNITURE_SIZE = 7.5
# SimpleDocTemplate's frame pads its content by this much inside the page margins.
_FRAME_PADDING = 6.0
# reportlab's TrueType fonts keep per-document state in shared objects, and its documentation
# says a font must not serve two documents at the same time: renders take turns.
_RENDER_LOCK = threading.Lock()
_FONT_LOCK = threading.Lock()

INK = colors.HexColor("#1c2733")
MUTED = colors.HexColor("#5c6b7a")
FAINT = colors.HexColor("#9aa5b1")
RULE = colors.HexColor("#d5dbe2")
HEADER_FILL = colors.HexColor("#25405f")
HEADER_SUBTLE = colors.HexColor("#c3d1e0")
ZEBRA = colors.HexColor("#f1f4f8")
PANEL = colors.HexColor("#e9eef4")


def _font_files() -> tuple[Path, Path]:
    """The regular and bold font files: DejaVu Sans if installed, else reportlab's own Vera."""
    for folder in _DEJAVU_FOLDERS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    bundled = Path(reportlab.__file__).parent / "fonts"
    return bundled / "Vera.ttf", bundled / "VeraBd.ttf"


def _register_fonts() -> None:
    """Register the fonts on first use. Paragraphs look their family up as they are made."""
    with _FONT_LOCK:
        if REGULAR in pdfmetrics.getRegisteredFontNames():
            return
        regular, bold = _font_files()
        pdfmetrics.registerFont(TTFont(REGULAR, str(regular)))
        pdfmetrics.registerFont(TTFont(BOLD, str(bold)))
        pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)


def _style(name: str, size: float, **options: Any) -> ParagraphStyle:
    options.setdefault("fontName", REGULAR)
    options.setdefault("textColor", INK)
    return ParagraphStyle(name, fontSize=size, leading=round(size * 1.25, 1), **options)


_KICKER = _style("Kicker", 9.5, textColor=MUTED)
_TITLE = _style("Title", 17, fontName=BOLD, spaceBefore=2, spaceAfter=5)
_FACTS = _style("Facts", 8.5, textColor=MUTED)
_NOTE = _style("Note", 8.5, textColor=MUTED)
_SUBHEADING = _style("Subheading", 9.5, fontName=BOLD, spaceBefore=14, spaceAfter=5)
_HEAD = _style("Head", 7, fontName=BOLD, textColor=colors.white)
_HEAD_RIGHT = _style("HeadRight", 7, fontName=BOLD, textColor=colors.white, alignment=TA_RIGHT)
_HEAD_CENTER = _style("HeadCenter", 7, fontName=BOLD, textColor=colors.white, alignment=TA_CENTER)
_CELL = _style("Cell", 8)
_TERM = _style("Term", 11, fontName=BOLD, spaceBefore=10, spaceAfter=4)
_COURSE = _style("Course", 8.5)
_TOTAL_LABEL = _style("TotalLabel", 9, textColor=MUTED)
_TOTAL_VALUE = _style("TotalValue", 14, fontName=BOLD)


def _content_width(page_size: PageSize, margin: float) -> float:
    return page_size[0] - 2 * (margin + _FRAME_PADDING)


def _text(text: str) -> str:
    """`text` as Paragraph markup that shows it literally: "O'Brien <b>" stays "O'Brien <b>"."""
    return escape(text)


def _shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters, at a space when there is one in its second half."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    head, _, _ = cut.rpartition(" ")
    return (head if len(head) > limit // 2 else cut).rstrip() + "…"


def _when(moment: datetime) -> str:
    """A date and time as `2025-06-01 14:30`, with the zone's name when the time has one."""
    shown = moment.strftime("%Y-%m-%d %H:%M")
    zone = moment.tzname()
    return f"{shown} {zone}" if zone else shown


def _display_number(value: float | None) -> str:
    return MISSING if value is None else plain_number(value, 2)


def _fixed(value: float | None) -> str:
    """A number with exactly two decimals, so that a column of them lines up (GPAs, percentages)."""
    return MISSING if value is None else f"{value:.2f}"


def _fit(text: str, width: float, size: float) -> str:
    """`text` shortened with "…" until it fits in `width` points on one line."""
    while len(text) > 1 and pdfmetrics.stringWidth(text, REGULAR, size) > width:
        text = _shorten(text, len(text) - 1)
    return text


@dataclass(frozen=True)
class _PageFurniture:
    """What every page carries: a footer line and, from page 2 on, a running header."""

    footer: str
    running_header: str
    margin: float


class _NumberedCanvas(canvas.Canvas):  # type: ignore[misc]  # reportlab is untyped
    """A canvas that holds its pages back until the end, so each can say "Page N of M"."""

    def __init__(self, *args: Any, furniture: _PageFurniture, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._furniture = furniture
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._draw_furniture(number, len(self._pages))
            super().showPage()
        super().save()

    def _draw_furniture(self, number: int, total: int) -> None:
        width, height = self._pagesize
        margin = self._furniture.margin + _FRAME_PADDING
        line = width - 2 * margin
        self.saveState()
        self.setFont(REGULAR, FURNITURE_SIZE)
        self.setFillColor(MUTED)
        self.setStrokeColor(RULE)
        self.setLineWidth(0.5)
        self.line(margin, 30, width - margin, 30)
        self.drawString(margin, 20, _fit(self._furniture.footer, line - 80, FURNITURE_SIZE))
        self.drawRightString(width - margin, 20, f"Page {number} of {total}")
        if number > 1:
            self.drawString(margin, height - 24, _fit(self._furniture.running_header, line, FURNITURE_SIZE))
        self.restoreState()


def _render(
    story: list[Flowable], *, page_size: PageSize, title: str, author: str, furniture: _PageFurniture
) -> bytes:
    """Lay out `story` into PDF bytes (deterministically: see the module's docstring)."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=page_size,
        leftMargin=furniture.margin,
        rightMargin=furniture.margin,
        topMargin=40,
        bottomMargin=44,
        title=title,
        author=author,
        creator="CampusGraph",
        invariant=1,
    )
    with _RENDER_LOCK:
        document.build(story, canvasmaker=partial(_NumberedCanvas, furniture=furniture))
    return buffer.getvalue()


def _title_block(kicker: str, title: str, facts: Sequence[tuple[str, str]]) -> list[Flowable]:
    """A small grey line above a large title, then "Label value" facts that wrap as needed."""
    line = "&nbsp;&nbsp;&nbsp;".join(
        f"<font name={BOLD} color='{INK.hexval()}'>{_text(label)}</font>&nbsp;{_text(value)}"
        for label, value in facts
    )
    return [
        Paragraph(_text(kicker), _KICKER),
        Paragraph(_text(title), _TITLE),
        Paragraph(line, _FACTS),
        Spacer(0, 12),
    ]


# --- PDF: gradebook ---------------------------------------------------------------------------

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
    _register_fonts()
    size = landscape(page_size)
    width = _content_width(size, GRADEBOOK_MARGIN)
    bands = _score_bands(len(sheet.assignments), width)
    teachers = ", ".join(sheet.teacher_names) or MISSING
    story = _title_block(
        sheet.school_name,
        sheet.class_title,
        [
            ("Course", sheet.course_code),
            ("Term", sheet.term_name),
            ("Teachers", teachers),
            ("Students", str(len(sheet.rows))),
            ("Generated", _when(sheet.generated_at)),
        ],
    )
    for index, band in enumerate(bands):
        if index:
            story.append(PageBreak())
        if len(bands) > 1:
            label = f"Assignments {band.start + 1} to {band.stop} of {len(sheet.assignments)}"
            story.append(Paragraph(label, _SUBHEADING))
        story.append(_grade_table(sheet, band, width))
    story += _assignment_key(sheet.assignments, width)
    identity = f"{sheet.class_title} · {sheet.course_code} · {sheet.term_name}"
    return _render(
        story,
        page_size=size,
        title=f"Gradebook: {identity}",
        author=sheet.school_name,
        furniture=_PageFurniture(
            footer=f"{sheet.school_name} · Gradebook generated {_when(sheet.generated_at)}",
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
        body = [[Paragraph("No students are enrolled in this class.", _NOTE)]]
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
        Paragraph("Student #", _HEAD),
        Paragraph("Student", _HEAD),
        *(Paragraph(_score_heading(a), _HEAD_RIGHT) for a in assignments),
        Paragraph("Final %", _HEAD_RIGHT),
        Paragraph("Letter", _HEAD_CENTER),
    ]


def _score_heading(assignment: SheetAssignment) -> str:
    title = _shorten(assignment.title, HEADER_TITLE_CHARACTERS)
    maximum = plain_number(assignment.max_score, 2)
    subtle = f"<font name={REGULAR} size=6.5 color='{HEADER_SUBTLE.hexval()}'>"
    return f"{_text(title)}<br/>{subtle}/ {maximum}</font>"


def _grade_row(row: SheetRow, band: range) -> list[Paragraph | str]:
    return [
        Paragraph(_text(row.student_number), _CELL),
        Paragraph(_text(row.student_name), _CELL),
        *(_display_number(row.scores[i]) for i in band),
        _fixed(row.final_percentage),
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
    heading = [CondPageBreak(80), Paragraph("Assignment key", _SUBHEADING)]
    if not assignments:
        return [*heading, Paragraph("No assignments yet.", _NOTE)]
    rows = [
        [
            str(number),
            Paragraph(_text(a.title), _CELL),
            Paragraph(_text(a.category), _CELL),
            plain_number(a.max_score, 2),
            _when(a.due_at) if a.due_at else MISSING,
        ]
        for number, a in enumerate(assignments, start=1)
    ]
    header = [Paragraph(t, _HEAD) for t in ("#", "Assignment", "Category")]
    header += [Paragraph("Max", _HEAD_RIGHT), Paragraph("Due", _HEAD)]
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


# --- PDF: transcript --------------------------------------------------------------------------

TRANSCRIPT_MARGIN = 54
CODE_WIDTH, CREDITS_WIDTH, GRADE_WIDTH, POINTS_WIDTH = 78.0, 56.0, 50.0, 56.0


def transcript_pdf(transcript: Transcript, *, page_size: PageSize = LETTER) -> bytes:
    """The transcript as a portrait PDF: a section per term with its courses and term GPA
    (`term_gpa`), then the cumulative GPA and earned credits. Every page's footer says it is
    unofficial and when it was generated; pages after the first name the student at the top."""
    _register_fonts()
    size = portrait(page_size)
    width = _content_width(size, TRANSCRIPT_MARGIN)
    generated = _when(transcript.generated_at)
    story = _title_block(
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
        story.append(Paragraph("No courses on record yet.", _NOTE))
    story.append(_totals(transcript, width))
    return _render(
        story,
        page_size=size,
        title=f"Unofficial transcript: {transcript.student_name}",
        author=transcript.school_name,
        furniture=_PageFurniture(
            footer=f"Unofficial transcript — generated {generated}",
            running_header=f"{transcript.student_name} · {transcript.student_number}",
            margin=TRANSCRIPT_MARGIN,
        ),
    )


def _term_section(term: TranscriptTerm, width: float) -> Flowable:
    """A term's heading and table, kept on one page when they fit on one."""
    heading = Paragraph(_text(term.name), _TERM)
    header = ["Code", "Course", "Credits", "Grade", "Points"]
    rows: list[list[Paragraph | str]] = [
        [
            Paragraph(_text(c.code), _COURSE),
            Paragraph(_text(c.title), _COURSE),
            plain_number(c.credits, 2),
            c.letter or MISSING,
            _fixed(c.grade_points),
        ]
        for c in term.courses
    ]
    attempted = plain_number(sum(c.credits for c in term.courses), 2)
    footer: list[Paragraph | str] = ["", "Term credits", attempted, "GPA", _fixed(term_gpa(term.courses))]
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
            [Paragraph("Cumulative GPA", _TOTAL_LABEL), Paragraph("Earned credits", _TOTAL_LABEL)],
            [
                Paragraph(_fixed(transcript.cumulative_gpa), _TOTAL_VALUE),
                Paragraph(plain_number(transcript.earned_credits, 2), _TOTAL_VALUE),
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
