"""What every PDF export shares: fonts, colours, paragraph styles, page furniture, and the render.

The same input always gives the same bytes: PDFs are made with reportlab's `invariant` mode,
which fixes the creation date and the document ID instead of taking them from the clock.

Fonts: text is set in DejaVu Sans when the system has it (Debian's `fonts-dejavu-core`), which
covers Latin, Greek and Cyrillic names; otherwise in Bitstream Vera, which ships inside
reportlab and covers Western European accents only. Either is embedded in the PDF, so every
viewer shows the same glyphs. The PDF base fonts (Helvetica) are not used: they cannot show
a name such as "Łukasz".
"""

from __future__ import annotations

import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.enums import TA_CENTER, TA_RIGHT  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen import canvas  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Flowable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
)

from resolvers.reports.formatting import shorten

PageSize = tuple[float, float]

# --- Fonts ------------------------------------------------------------------------------------

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


def _font_files() -> tuple[Path, Path]:
    """The regular and bold font files: DejaVu Sans if installed, else reportlab's own Vera."""
    for folder in _DEJAVU_FOLDERS:
        regular, bold = folder / "DejaVuSans.ttf", folder / "DejaVuSans-Bold.ttf"
        if regular.is_file() and bold.is_file():
            return regular, bold
    bundled = Path(reportlab.__file__).parent / "fonts"
    return bundled / "Vera.ttf", bundled / "VeraBd.ttf"


def register_fonts() -> None:
    """Register the fonts on first use. Paragraphs look their family up as they are made."""
    with _FONT_LOCK:
        if REGULAR in pdfmetrics.getRegisteredFontNames():
            return
        regular, bold = _font_files()
        pdfmetrics.registerFont(TTFont(REGULAR, str(regular)))
        pdfmetrics.registerFont(TTFont(BOLD, str(bold)))
        pdfmetrics.registerFontFamily(REGULAR, normal=REGULAR, bold=BOLD, italic=REGULAR, boldItalic=BOLD)


# --- Colours and styles -----------------------------------------------------------------------

INK = colors.HexColor("#1c2733")
MUTED = colors.HexColor("#5c6b7a")
FAINT = colors.HexColor("#9aa5b1")
RULE = colors.HexColor("#d5dbe2")
HEADER_FILL = colors.HexColor("#25405f")
HEADER_SUBTLE = colors.HexColor("#c3d1e0")
ZEBRA = colors.HexColor("#f1f4f8")
PANEL = colors.HexColor("#e9eef4")


def _style(name: str, size: float, **options: Any) -> ParagraphStyle:
    options.setdefault("fontName", REGULAR)
    options.setdefault("textColor", INK)
    return ParagraphStyle(name, fontSize=size, leading=round(size * 1.25, 1), **options)


KICKER = _style("Kicker", 9.5, textColor=MUTED)
TITLE = _style("Title", 17, fontName=BOLD, spaceBefore=2, spaceAfter=5)
FACTS = _style("Facts", 8.5, textColor=MUTED)
NOTE = _style("Note", 8.5, textColor=MUTED)
SUBHEADING = _style("Subheading", 9.5, fontName=BOLD, spaceBefore=14, spaceAfter=5)
HEAD = _style("Head", 7, fontName=BOLD, textColor=colors.white)
HEAD_RIGHT = _style("HeadRight", 7, fontName=BOLD, textColor=colors.white, alignment=TA_RIGHT)
HEAD_CENTER = _style("HeadCenter", 7, fontName=BOLD, textColor=colors.white, alignment=TA_CENTER)
CELL = _style("Cell", 8)
TERM = _style("Term", 11, fontName=BOLD, spaceBefore=10, spaceAfter=4)
COURSE = _style("Course", 8.5)
TOTAL_LABEL = _style("TotalLabel", 9, textColor=MUTED)
TOTAL_VALUE = _style("TotalValue", 14, fontName=BOLD)

# --- Text and layout --------------------------------------------------------------------------


def content_width(page_size: PageSize, margin: float) -> float:
    return page_size[0] - 2 * (margin + _FRAME_PADDING)


def markup(text: str) -> str:
    """`text` as Paragraph markup that shows it literally: "O'Brien <b>" stays "O'Brien <b>"."""
    return escape(text)


def fit(text: str, width: float, size: float) -> str:
    """`text` shortened with "…" until it fits in `width` points on one line."""
    while len(text) > 1 and pdfmetrics.stringWidth(text, REGULAR, size) > width:
        text = shorten(text, len(text) - 1)
    return text


def title_block(kicker: str, title: str, facts: Sequence[tuple[str, str]]) -> list[Flowable]:
    """A small grey line above a large title, then "Label value" facts that wrap as needed."""
    line = "&nbsp;&nbsp;&nbsp;".join(
        f"<font name={BOLD} color='{INK.hexval()}'>{markup(label)}</font>&nbsp;{markup(value)}"
        for label, value in facts
    )
    return [
        Paragraph(markup(kicker), KICKER),
        Paragraph(markup(title), TITLE),
        Paragraph(line, FACTS),
        Spacer(0, 12),
    ]


# --- Page furniture and the render ------------------------------------------------------------


@dataclass(frozen=True)
class PageFurniture:
    """What every page carries: a footer line and, from page 2 on, a running header."""

    footer: str
    running_header: str
    margin: float


class _NumberedCanvas(canvas.Canvas):  # type: ignore[misc]  # reportlab is untyped
    """A canvas that holds its pages back until the end, so each can say "Page N of M"."""

    def __init__(self, *args: Any, furniture: PageFurniture, **kwargs: Any) -> None:
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
        self.drawString(margin, 20, fit(self._furniture.footer, line - 80, FURNITURE_SIZE))
        self.drawRightString(width - margin, 20, f"Page {number} of {total}")
        if number > 1:
            self.drawString(margin, height - 24, fit(self._furniture.running_header, line, FURNITURE_SIZE))
        self.restoreState()


def render(
    story: list[Flowable], *, page_size: PageSize, title: str, author: str, furniture: PageFurniture
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
