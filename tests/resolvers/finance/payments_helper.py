"""Issued invoices made straight from the models and the ledger, for the payment tests (so they
do not depend on the billing resolvers): one fee per line, each line charged to the ledger."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Fee, Invoice, InvoiceLine, User
from models.enums import EntryKind, InvoiceStatus
from resolvers import ledger
from resolvers.ledger import Links
from tests.factories import SchoolData


async def issued_invoice(
    session_factory: async_sessionmaker[AsyncSession],
    school: SchoolData,
    lines: list[tuple[str, date]],
    *,
    student: User | None = None,
    status: InvoiceStatus = InvoiceStatus.ISSUED,
) -> Invoice:
    """An invoice of `student` (school.student by default) with a line per (amount, due date),
    its charges posted unless it is a DRAFT."""
    owner = student or school.student
    async with session_factory.begin() as session:
        number = await ledger.next_number(session, school.school.id, "invoice")
        amounts = [Decimal(amount) for amount, _ in lines]
        invoice = Invoice(
            school_id=school.school.id,
            term_id=school.klass.term_id,
            student_id=owner.id,
            number=f"INV-{number:05d}",
            status=status,
            currency="USD",
            total=sum(amounts, Decimal("0.00")),
            due_date=min(due for _, due in lines),
        )
        session.add(invoice)
        await session.flush()
        for amount, (_, due) in zip(amounts, lines, strict=True):
            await _line(
                session, school, invoice, owner, amount, due, posted=status is not InvoiceStatus.DRAFT
            )
    return invoice


async def _line(
    session: AsyncSession,
    school: SchoolData,
    invoice: Invoice,
    owner: User,
    amount: Decimal,
    due: date,
    *,
    posted: bool,
) -> None:
    fee = Fee(
        school_id=school.school.id,
        term_id=invoice.term_id,
        name=f"Fee due {due}",
        amount=amount,
        currency="USD",
        due_date=due,
    )
    session.add(fee)
    await session.flush()
    line = InvoiceLine(
        invoice_id=invoice.id,
        school_id=school.school.id,
        student_id=owner.id,
        fee_id=fee.id,
        description=fee.name,
        amount=amount,
        due_date=due,
    )
    session.add(line)
    await session.flush()
    if posted:
        await ledger.post(
            session,
            school_id=school.school.id,
            student_id=owner.id,
            currency="USD",
            kind=EntryKind.CHARGE,
            postings=ledger.charge(amount),
            description=line.description,
            posted_by_id=school.staff.id,
            links=Links(invoice_id=invoice.id, invoice_line_id=line.id),
        )
