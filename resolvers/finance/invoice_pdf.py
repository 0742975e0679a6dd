"""An invoice as a PDF behind a signed, expiring link (generateInvoicePdf), for those who may
read the invoice: staff/admin of its school, the student and their guardians.

The renderer is a pure function of a `PrintedInvoice` (plain data, made from the rows by
`generate_invoice_pdf`), drawn with the reports' fonts, styles and page furniture
(resolvers/reports/pdf.py), off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import LETTER, portrait  # type: ignore[import-untyped]
from reportlab.platypus import Paragraph, Table, TableStyle  # type: ignore[import-untyped]

from errors import Forbidden, Problem
from models.base import utcnow
from models.enums import InvoiceStatus, Role
from resolvers import audit
from resolvers.finance.access import require_account_reader
from resolvers.finance.invoices import amount_due
from resolvers.finance.lines import ZERO, line_states
from resolvers.policy import NOT_VISIBLE, Relation, require_user
from resolvers.reports import LINK_SECONDS
from resolvers.reports.formatting import display_time
from resolvers.reports.pdf import (
    BOLD,
    COURSE,
    HEADER_SUBTLE,
    INK,
    MUTED,
    PANEL,
    REGULAR,
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
from resolvers.roster_rules import decode_or_none, not_found
from stores.media import MediaStore, sign_url

if TYPE_CHECKING:
    from context import Context

MARGIN = 54
DATE_WIDTH, MONEY_WIDTH = 70.0, 72.0


@dataclass(frozen=True)
class PrintedLine:
    description: str
    due_date: date
    amount: Decimal
    paid: Decimal
    due: Decimal


@dataclass(frozen=True)
class PrintedInvoice:
    school_name: str
    number: str
    status: str
    student_name: str
    student_number: str
    term_name: str
    currency: str
    issued_at: datetime | None
    generated_at: datetime
    lines: Sequence[PrintedLine]
    void_reason: str | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def due(self) -> Decimal:
        return sum((line.due for line in self.lines), ZERO)


def money(amount: Decimal, currency: str) -> str:
    return f"{currency} {amount:,.2f}"


def invoice_pdf(invoice: PrintedInvoice, *, page_size: PageSize = LETTER) -> bytes:
    """The invoice as a portrait PDF: who and what it bills, a row per line, the totals."""
    register_fonts()
    size = portrait(page_size)
    width = content_width(size, MARGIN)
    facts = [
        ("Student", f"{invoice.student_name} ({invoice.student_number})"),
        ("Term", invoice.term_name),
        ("Status", invoice.status),
        ("Issued", display_time(invoice.issued_at) if invoice.issued_at else "not yet"),
    ]
    story = title_block(invoice.school_name, f"Invoice {invoice.number}", facts)
    if invoice.void_reason:
        story.append(Paragraph(markup(f"Void: {invoice.void_reason}"), TOTAL_LABEL))
    story += [_lines_table(invoice, width), _totals(invoice, width)]
    generated = display_time(invoice.generated_at)
    return render(
        story,
        page_size=size,
        title=f"Invoice {invoice.number}",
        author=invoice.school_name,
        furniture=PageFurniture(
            footer=f"Invoice {invoice.number} — generated {generated}",
            running_header=f"{invoice.number} · {invoice.student_name}",
            margin=MARGIN,
        ),
    )


def _lines_table(invoice: PrintedInvoice, width: float) -> Table:
    header = ["Description", "Due", "Amount", "Paid", "Due now"]
    rows = [
        [
            Paragraph(markup(line.description), COURSE),
            line.due_date.isoformat(),
            money(line.amount, invoice.currency),
            money(line.paid, invoice.currency),
            money(line.due, invoice.currency),
        ]
        for line in invoice.lines
    ]
    description_width = width - DATE_WIDTH - 3 * MONEY_WIDTH
    table = Table(
        [header, *rows], colWidths=[description_width, DATE_WIDTH, *[MONEY_WIDTH] * 3], repeatRows=1
    )
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), REGULAR, 8.5),
                ("FONT", (0, 0), (-1, 0), BOLD, 8),
                ("TEXTCOLOR", (0, 0), (-1, -1), INK),
                ("TEXTCOLOR", (0, 0), (-1, 0), MUTED),
                ("BACKGROUND", (0, 0), (-1, 0), PANEL),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, ZEBRA]),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, HEADER_SUBTLE),
                ("ALIGN", (2, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _totals(invoice: PrintedInvoice, width: float) -> Table:
    table = Table(
        [
            [Paragraph("Total", TOTAL_LABEL), Paragraph("Amount due", TOTAL_LABEL)],
            [
                Paragraph(money(invoice.total, invoice.currency), TOTAL_VALUE),
                Paragraph(money(invoice.due, invoice.currency), TOTAL_VALUE),
            ],
        ],
        colWidths=[width / 2, width / 2],
        spaceBefore=16,
    )
    table.setStyle(
        TableStyle([("BACKGROUND", (0, 0), (-1, -1), PANEL), ("LEFTPADDING", (0, 0), (-1, -1), 12)])
    )
    return table


async def generate_invoice_pdf(ctx: Context, invoice_global_id: str) -> tuple[str, datetime] | list[Problem]:
    """The signed link and when it expires; NOT_FOUND for an invoice the caller cannot see."""
    user = require_user(ctx)
    if user.role in (Role.TEACHER, Role.MENTOR):
        raise Forbidden
    pk = decode_or_none(invoice_global_id, "Invoice")
    invoice = await ctx.loaders.invoice_by_id.load(pk) if pk is not None else None
    if invoice is None or invoice.school_id != user.school_id:
        return [not_found(("input", "invoiceId"), "invoice")]
    relation = await require_account_reader(ctx, invoice.student_id, invoice.school_id)
    if invoice.status is InvoiceStatus.DRAFT and relation is not Relation.SCHOOL:
        raise Forbidden(NOT_VISIBLE)
    loaders = ctx.loaders
    school = await loaders.school_by_id.load_existing(invoice.school_id)
    student = await loaders.user_by_id.load_existing(invoice.student_id)
    profile = await loaders.student_profile_by_user_id.load_existing(invoice.student_id)
    term = await loaders.term_by_id.load_existing(invoice.term_id)
    lines = await loaders.lines_by_invoice.load(invoice.id)
    async with ctx.session_factory() as session:
        states = {
            state.line_id: state
            for state in await line_states(session, invoice_ids=[invoice.id], include_void=True)
        }
    printed = PrintedInvoice(
        school_name=school.name,
        number=invoice.number,
        status=invoice.status.value,
        student_name=student.name,
        student_number=profile.student_number,
        term_name=term.name,
        currency=invoice.currency,
        issued_at=invoice.issued_at.astimezone(ZoneInfo(school.timezone)) if invoice.issued_at else None,
        generated_at=utcnow().astimezone(ZoneInfo(school.timezone)),
        lines=[
            PrintedLine(
                line.description,
                line.due_date,
                line.amount,
                states[line.id].paid,
                amount_due(states[line.id]),
            )
            for line in lines
        ],
        void_reason=invoice.void_reason,
    )
    data = await asyncio.to_thread(invoice_pdf, printed)
    key = await asyncio.to_thread(MediaStore(ctx.settings.media_dir).save, data, suffix=".pdf")
    async with ctx.writer.begin() as session:
        audit.record(session, ctx, "invoice.pdf_generated", "Invoice", invoice.id)
    return sign_url(
        ctx.settings, key, filename=f"invoice-{invoice.number}.pdf", content_type="application/pdf",
        expires_in_seconds=LINK_SECONDS, disposition="attachment",
    )  # fmt: skip
