"""A term's finance report (exportFinanceReport), as CSV or PDF behind a signed, expiring link.

The CSV has one row per invoice of the term (DRAFT and VOID ones too, with their status), with
the columns the contract names; its amounts come from the same per-line sums as financeAnalytics
(`analytics.line_totals`, as of the end of the school's today), so billed = paid + credited +
outstanding on every row and the columns add up to the analytics' totals of that day: billed is
net of voids (0 for a VOID invoice) and posted charges only (0 for a DRAFT), credited is what
scholarship awards pay. The PDF shows those analytics (totals, aging, months, forecast) and then
the same rows.

The renderers are pure functions of a `FinanceReport` (plain data). Staff/admin only; another
school's term is NOT_FOUND. The export is audited (finance.report_exported).
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import LETTER, landscape  # type: ignore[import-untyped]
from reportlab.platypus import Flowable, Paragraph, Table, TableStyle  # type: ignore[import-untyped]
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Problem, ProblemError
from models import Invoice, StudentProfile, Term, User
from models.base import utcnow
from models.money import from_cents
from resolvers import audit
from resolvers.finance.access import require_finance_staff
from resolvers.finance.analytics import FinanceAnalytics, analytics_of, cutoff_of, line_totals
from resolvers.finance.invoices import school_today
from resolvers.finance.lines import ZERO
from resolvers.reports import LINK_SECONDS
from resolvers.reports.formatting import MISSING, display_time
from resolvers.reports.pdf import (
    BOLD,
    CELL,
    HEADER_SUBTLE,
    INK,
    MUTED,
    NOTE,
    PANEL,
    REGULAR,
    SUBHEADING,
    ZEBRA,
    PageFurniture,
    content_width,
    markup,
    register_fonts,
    render,
    title_block,
)
from resolvers.reports.spreadsheets import neutralize_formula
from resolvers.roster_rules import own_row
from stores.media import MediaStore, sign_url

if TYPE_CHECKING:
    from context import Context

ReportFormat = Literal["CSV", "PDF"]
CSV_COLUMNS = (
    "invoice_number", "student_number", "student_name", "status", "due_date", "currency",
    "billed", "paid", "credited", "outstanding",
)  # fmt: skip
MARGIN = 48


@dataclass(frozen=True)
class ReportRow:
    invoice_number: str
    student_number: str
    student_name: str
    status: str
    due_date: date
    currency: str
    billed: Decimal
    paid: Decimal
    credited: Decimal
    outstanding: Decimal

    @property
    def amounts(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """billed, paid, credited, outstanding: the CSV's last four columns."""
        return (self.billed, self.paid, self.credited, self.outstanding)


@dataclass(frozen=True)
class FinanceReport:
    school_name: str
    term_name: str
    generated_at: datetime
    analytics: FinanceAnalytics
    rows: Sequence[ReportRow]


async def report_rows(
    session: AsyncSession, school_id: int, term_id: int, cutoff: datetime
) -> list[ReportRow]:
    """The term's invoices by number, each with its lines' sums at `cutoff` (one statement)."""
    lines = line_totals(school_id, cutoff, term_id)
    sums = (
        select(
            lines.c.invoice_id,
            func.sum(lines.c.billed).label("billed"),
            func.sum(lines.c.paid).label("paid"),
            func.sum(lines.c.awarded).label("credited"),
            func.sum(lines.c.open).label("outstanding"),
        )
        .group_by(lines.c.invoice_id)
        .subquery("sums")
    )
    amounts = (sums.c.billed, sums.c.paid, sums.c.credited, sums.c.outstanding)
    rows = await session.execute(
        select(
            Invoice.number,
            StudentProfile.student_number,
            User.name,
            Invoice.status,
            Invoice.due_date,
            Invoice.currency,
            *amounts,
        )
        .join(sums, sums.c.invoice_id == Invoice.id)
        .join(User, User.id == Invoice.student_id)
        .join(StudentProfile, StudentProfile.user_id == Invoice.student_id)
        .order_by(Invoice.number)
    )
    return [
        ReportRow(number, student_number, name, status.value, due, currency, *map(_from_cents, cents))
        for number, student_number, name, status, due, currency, *cents in rows
    ]


def _from_cents(value: int) -> Decimal:
    return from_cents(int(value))


def report_csv(rows: Sequence[ReportRow]) -> bytes:
    """UTF-8 with a byte order mark (for Excel); text cells guarded against formula injection,
    amounts as plain decimals with two places."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow(
            [
                neutralize_formula(row.invoice_number),
                neutralize_formula(row.student_number),
                neutralize_formula(row.student_name),
                row.status,
                row.due_date.isoformat(),
                row.currency,
                *(f"{amount:.2f}" for amount in row.amounts),
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def _money(amount: Decimal | None, currency: str) -> str:
    return MISSING if amount is None else f"{currency} {amount:,.2f}"


def _table(rows: Sequence[Sequence[object]], widths: Sequence[float], *, money_from: int) -> Table:
    """A table with a header row, its columns from `money_from` on right-aligned."""
    table = Table([list(row) for row in rows], colWidths=list(widths), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), REGULAR, 8),
                ("FONT", (0, 0), (-1, 0), BOLD, 7.5),
                ("TEXTCOLOR", (0, 0), (-1, -1), INK),
                ("TEXTCOLOR", (0, 0), (-1, 0), MUTED),
                ("BACKGROUND", (0, 0), (-1, 0), PANEL),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, ZEBRA]),
                ("LINEBELOW", (0, 0), (-1, 0), 0.75, HEADER_SUBTLE),
                ("ALIGN", (money_from, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def report_pdf(report: FinanceReport) -> bytes:
    """The analytics (totals, aging, months, forecast), then a row per invoice, landscape (the
    invoice table's eight columns fit a student's name beside full invoice numbers)."""
    register_fonts()
    size = landscape(LETTER)
    width = content_width(size, MARGIN)
    facts = report.analytics
    money = facts.currency
    rate = MISSING if facts.collection_rate is None else f"{facts.collection_rate:.1%}"
    story: list[Flowable] = title_block(
        report.school_name,
        f"Finance report — {report.term_name}",
        [
            ("As of", facts.as_of.isoformat()),
            ("Invoices", str(facts.invoice_count)),
            ("Overdue", str(facts.overdue_invoice_count)),
            ("Collection rate", rate),
        ],
    )
    fifth, third = [width / 5] * 5, [width / 3] * 3
    totals = (facts.billed, facts.collected, facts.awarded, facts.outstanding, facts.credit)
    aging = facts.aging
    buckets = (aging.current, aging.days_1_to_30, aging.days_31_to_60, aging.days_61_to_90, aging.over_90)
    months = [
        [month.month, _money(month.billed, money), _money(month.collected, money)] for month in facts.by_month
    ]
    forecast = [
        [month.month, _money(month.due_amount, money), _money(month.expected_collections, money)]
        for month in facts.forecast.months
    ]
    story += [
        _table(
            [
                ["Billed", "Collected", "Awarded", "Outstanding", "Students' credit"],
                [_money(a, money) for a in totals],
            ],
            fifth,
            money_from=0,
        ),
        Paragraph("Aging of what is open", SUBHEADING),
        _table(
            [
                ["Not yet due", "1-30 days late", "31-60 days late", "61-90 days late", "Over 90 days late"],
                [_money(amount, money) for amount in buckets],
            ],
            fifth,
            money_from=0,
        ),
        Paragraph("By month", SUBHEADING),
        _table([["Month", "Billed", "Collected"], *months], third, money_from=1),
        Paragraph(f"Collection forecast ({markup(facts.forecast.method)})", SUBHEADING),
        Paragraph(markup(facts.forecast.explanation), NOTE),
        _table([["Month", "Falls due", "Expected collections"], *forecast], third, money_from=1),
        Paragraph("Invoices", SUBHEADING),
        _invoice_table(report.rows, width, money),
    ]
    generated = display_time(report.generated_at)
    return render(
        story,
        page_size=size,
        title=f"Finance report {report.term_name}",
        author=report.school_name,
        furniture=PageFurniture(
            footer=f"Finance report, {report.term_name} — generated {generated}",
            running_header=f"{report.school_name} · {report.term_name} · finance report",
            margin=MARGIN,
        ),
    )


def _invoice_table(rows: Sequence[ReportRow], width: float, currency: str) -> Table:
    """A row per invoice and a bold total row."""
    amount_width, number_width, status_width, due_width = 66.0, 86.0, 68.0, 60.0
    student_width = width - number_width - status_width - due_width - 4 * amount_width
    header = ["Invoice", "Student", "Status", "Due", "Billed", "Paid", "Credited", "Outstanding"]
    body = [
        [
            row.invoice_number,
            Paragraph(markup(f"{row.student_name} ({row.student_number})"), CELL),
            row.status.replace("_", " ").lower(),
            row.due_date.isoformat(),
            *(f"{amount:,.2f}" for amount in row.amounts),
        ]
        for row in rows
    ]
    sums = [sum(column, ZERO) for column in zip(*(row.amounts for row in rows), strict=True)] or [ZERO] * 4
    total = ["Total", f"{len(rows)} invoices ({currency})", "", "", *(f"{amount:,.2f}" for amount in sums)]
    widths = [number_width, student_width, status_width, due_width, *[amount_width] * 4]
    table = _table([header, *body, total], widths, money_from=4)
    table.setStyle(
        TableStyle([("FONT", (0, -1), (-1, -1), BOLD, 8), ("LINEABOVE", (0, -1), (-1, -1), 0.75, INK)])
    )
    return table


async def export_finance_report(
    ctx: Context, term_global_id: str, file_format: ReportFormat
) -> tuple[str, datetime] | list[Problem]:
    """The signed link and when it expires; NOT_FOUND for a term not of the caller's school.
    Both formats are as of the end of the school's today, the PDF's analytics and rows alike."""
    user = require_finance_staff(ctx)
    school = await ctx.loaders.school_by_id.load_existing(user.school_id)
    zone = ZoneInfo(school.timezone)
    today = school_today(school.timezone)
    try:
        async with ctx.session_factory() as session:
            term = await own_row(session, Term, term_global_id, "Term", school.id, ("input", "termId"))
            rows = await report_rows(session, school.id, term.id, cutoff_of(today, zone))
            analytics = await analytics_of(session, school, term, today) if file_format == "PDF" else None
    except ProblemError as refused:
        return refused.problems
    if analytics is None:
        data = report_csv(rows)
        suffix, content_type = ".csv", "text/csv; charset=utf-8"
    else:
        report = FinanceReport(school.name, term.name, utcnow().astimezone(zone), analytics, rows)
        data = await asyncio.to_thread(report_pdf, report)
        suffix, content_type = ".pdf", "application/pdf"
    key = await asyncio.to_thread(MediaStore(ctx.settings.media_dir).save, data, suffix=suffix)
    async with ctx.writer.begin() as session:
        audit.record(
            session, ctx, "finance.report_exported", "Term", term.id,
            detail={"format": file_format, "invoices": len(rows), "asOf": today.isoformat()},
        )  # fmt: skip
    return sign_url(
        ctx.settings, key, filename=f"finance-{term.name}-{today.isoformat()}{suffix}",
        content_type=content_type, expires_in_seconds=LINK_SECONDS, disposition="attachment",
    )  # fmt: skip
