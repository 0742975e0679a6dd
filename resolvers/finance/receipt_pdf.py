"""A payment's receipt as a PDF behind a signed, expiring link (generateReceiptPdf): its number,
the student, what it paid (net of refunds), its credit and its refunds. Made with reportlab as
the other reports are (resolvers/reports/pdf.py), for the same readers as the student's account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import LETTER  # type: ignore[import-untyped]
from reportlab.platypus import Paragraph  # type: ignore[import-untyped]
from sqlalchemy import select

from errors import Problem
from models import Allocation, Invoice, InvoiceLine, Payment, Refund, StudentProfile, User
from resolvers import audit
from resolvers.finance.access import require_account_reader
from resolvers.finance.refunds import payment_credit
from resolvers.policy import require_user
from resolvers.reports import LINK_SECONDS
from resolvers.reports.formatting import display_time
from resolvers.reports.pdf import (
    CELL,
    NOTE,
    SUBHEADING,
    PageFurniture,
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


@dataclass(frozen=True)
class ReceiptLine:
    invoice_number: str
    description: str
    amount: Decimal


@dataclass(frozen=True)
class Receipt:
    school_name: str
    receipt_number: str
    student_name: str
    student_number: str
    received_at: datetime
    method: str
    reference: str | None
    amount: Decimal
    currency: str
    lines: Sequence[ReceiptLine]
    credit: Decimal
    refunds: Sequence[tuple[datetime, Decimal, str]]


def receipt_pdf(receipt: Receipt) -> bytes:
    register_fonts()
    money = f"{receipt.amount} {receipt.currency}"
    facts = [
        ("Student", f"{receipt.student_name} ({receipt.student_number})"),
        ("Received", display_time(receipt.received_at)),
        ("Method", receipt.method.replace("_", " ").title()),
        ("Amount", money),
    ]
    if receipt.reference:
        facts.append(("Reference", receipt.reference))
    story = title_block(receipt.school_name, f"Receipt {receipt.receipt_number}", facts)
    story.append(Paragraph("Applied to", SUBHEADING))
    for line in receipt.lines:
        story.append(Paragraph(markup(f"{line.invoice_number} · {line.description}: {line.amount}"), CELL))
    if not receipt.lines:
        story.append(Paragraph("No invoice lines.", NOTE))
    story.append(Paragraph(markup(f"On account (credit): {receipt.credit} {receipt.currency}"), CELL))
    if receipt.refunds:
        story.append(Paragraph("Refunds", SUBHEADING))
        for at, amount, reason in receipt.refunds:
            story.append(
                Paragraph(markup(f"{display_time(at)}: {amount} {receipt.currency} ({reason})"), CELL)
            )
    return bytes(
        render(
            story,
            page_size=LETTER,
            title=f"Receipt {receipt.receipt_number}",
            author=receipt.school_name,
            furniture=PageFurniture(
                footer=f"Receipt {receipt.receipt_number} · {money}",
                running_header=f"{receipt.student_name} · {receipt.receipt_number}",
                margin=MARGIN,
            ),
        )
    )


async def generate_receipt_pdf(ctx: Context, payment_global_id: str) -> tuple[str, datetime] | list[Problem]:
    """NOT_FOUND for a missing payment or another school's; FORBIDDEN for teachers, mentors and
    other students."""
    pk = decode_or_none(payment_global_id, "Payment")
    payment = await ctx.loaders.payment_by_id.load(pk) if pk is not None else None
    user = require_user(ctx)
    if payment is None or payment.school_id != user.school_id:
        return [not_found(("input", "paymentId"), "payment")]
    await require_account_reader(ctx, payment.student_id, payment.school_id)
    receipt = await _receipt(ctx, payment)
    data = await asyncio.to_thread(receipt_pdf, receipt)
    async with ctx.writer.begin() as session:
        audit.record(session, ctx, "payment.receipt_generated", "Payment", payment.id)
    key = await asyncio.to_thread(MediaStore(ctx.settings.media_dir).save, data, suffix=".pdf")
    return sign_url(
        ctx.settings,
        key,
        filename=f"receipt-{payment.receipt_number}.pdf",
        content_type="application/pdf",
        expires_in_seconds=LINK_SECONDS,
        disposition="attachment",
    )


async def _receipt(ctx: Context, payment: Payment) -> Receipt:
    school = await ctx.loaders.school_by_id.load_existing(payment.school_id)
    async with ctx.session_factory() as session:
        student = await session.get_one(User, payment.student_id)
        profile = await session.get_one(StudentProfile, payment.student_id)
        allocations = list(
            await session.scalars(
                select(Allocation).where(Allocation.payment_id == payment.id).order_by(Allocation.id)
            )
        )
        refunds = list(
            await session.scalars(select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.id))
        )
        described = {
            line_id: (number, description)
            for line_id, number, description in await session.execute(
                select(InvoiceLine.id, Invoice.number, InvoiceLine.description)
                .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                .where(InvoiceLine.id.in_({allocation.invoice_line_id for allocation in allocations}))
            )
        }
    net: dict[int, Decimal] = {}
    for allocation in allocations:
        net[allocation.invoice_line_id] = (
            net.get(allocation.invoice_line_id, Decimal("0.00")) + allocation.amount
        )
    zone = ZoneInfo(school.timezone)
    return Receipt(
        school_name=school.name,
        receipt_number=payment.receipt_number,
        student_name=student.name,
        student_number=profile.student_number,
        received_at=payment.received_at.astimezone(zone),
        method=payment.method.value,
        reference=payment.reference,
        amount=payment.amount,
        currency=payment.currency,
        lines=[ReceiptLine(*described[line_id], amount) for line_id, amount in net.items() if amount != 0],
        credit=payment_credit(payment, refunds, allocations),
        refunds=[(refund.refunded_at.astimezone(zone), refund.amount, refund.reason) for refund in refunds],
    )
