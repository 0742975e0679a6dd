"""Line states and allocation: explicit invoices first, then the oldest open lines, the rest
credit; invoice statuses follow the lines; drafts and voided invoices take nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Allocation, Invoice, Payment
from models.enums import InvoiceStatus, PaymentMethod
from resolvers.finance.lines import AllocationRefused, allocate, line_states
from tests.factories import Factory, SchoolData
from tests.resolvers.finance.payments_helper import issued_invoice

JAN, FEB, MAR = date(2026, 1, 15), date(2026, 2, 15), date(2026, 3, 15)


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def payment(session: AsyncSession, school: SchoolData, amount: str, key: str) -> Payment:
    row = Payment(
        school_id=school.school.id,
        student_id=school.student.id,
        idempotency_key=key,
        request_hash=key,
        receipt_number=key,
        amount=Decimal(amount),
        currency="USD",
        method=PaymentMethod.CASH,
    )
    session.add(row)
    await session.flush()
    return row


async def statuses(
    session_factory: async_sessionmaker[AsyncSession], *invoices: Invoice
) -> list[InvoiceStatus]:
    async with session_factory() as session:
        found: dict[int, InvoiceStatus] = dict(
            (await session.execute(select(Invoice.id, Invoice.status))).all()
        )
    return [found[invoice.id] for invoice in invoices]


async def test_money_goes_to_the_oldest_open_lines_and_the_rest_is_credit(
    session_factory: async_sessionmaker[AsyncSession], north: SchoolData
) -> None:
    later = await issued_invoice(session_factory, north, [("100.00", MAR)])
    earlier = await issued_invoice(session_factory, north, [("30.00", FEB), ("20.00", JAN)])
    async with session_factory.begin() as session:
        paid = await payment(session, north, "60.00", "a")
        made = await allocate(
            session,
            school_id=north.school.id,
            student_id=north.student.id,
            amount=Decimal("60.00"),
            payment_id=paid.id,
        )
    assert [(row.invoice_id, row.amount) for row in made] == [
        (earlier.id, Decimal("20.00")),
        (earlier.id, Decimal("30.00")),
        (later.id, Decimal("10.00")),
    ]
    assert await statuses(session_factory, earlier, later) == [
        InvoiceStatus.PAID,
        InvoiceStatus.PARTIALLY_PAID,
    ]
    async with session_factory.begin() as session:
        paid = await payment(session, north, "100.00", "b")
        made = await allocate(
            session,
            school_id=north.school.id,
            student_id=north.student.id,
            amount=Decimal("100.00"),
            payment_id=paid.id,
        )
    assert [row.amount for row in made] == [Decimal("90.00")], "the other 10.00 is credit"
    async with session_factory() as session:
        states = await line_states(session, student_id=north.student.id)
    assert [(state.due_date, state.paid, state.due) for state in states] == [
        (JAN, Decimal("20.00"), Decimal("0.00")),
        (FEB, Decimal("30.00"), Decimal("0.00")),
        (MAR, Decimal("100.00"), Decimal("0.00")),
    ]
    assert await statuses(session_factory, later) == [InvoiceStatus.PAID]


async def test_explicit_invoice_amounts_come_first(
    session_factory: async_sessionmaker[AsyncSession], north: SchoolData
) -> None:
    earlier = await issued_invoice(session_factory, north, [("50.00", JAN)])
    later = await issued_invoice(session_factory, north, [("40.00", FEB), ("40.00", MAR)])
    async with session_factory.begin() as session:
        paid = await payment(session, north, "70.00", "a")
        made = await allocate(
            session,
            school_id=north.school.id,
            student_id=north.student.id,
            amount=Decimal("70.00"),
            payment_id=paid.id,
            explicit=[(later.id, Decimal("50.00"))],
        )
    assert [(row.invoice_id, row.amount) for row in made] == [
        (later.id, Decimal("40.00")),
        (later.id, Decimal("10.00")),
        (earlier.id, Decimal("20.00")),
    ]
    assert await statuses(session_factory, earlier, later) == [InvoiceStatus.PARTIALLY_PAID] * 2


@pytest.mark.parametrize(
    ("wanted", "missing"),
    [("81.00", False), ("10.00", True)],
    ids=["more than due", "not the student's open invoice"],
)
async def test_an_explicit_amount_that_cannot_be_applied_is_refused(
    session_factory: async_sessionmaker[AsyncSession], north: SchoolData, wanted: str, missing: bool
) -> None:
    invoice = await issued_invoice(session_factory, north, [("40.00", FEB), ("40.00", MAR)])
    other = await issued_invoice(session_factory, north, [("10.00", FEB)], student=north.other_student)
    async with session_factory() as session:
        paid = await payment(session, north, "100.00", "a")
        with pytest.raises(AllocationRefused) as refused:
            await allocate(
                session,
                school_id=north.school.id,
                student_id=north.student.id,
                amount=Decimal("100.00"),
                payment_id=paid.id,
                explicit=[((other if missing else invoice).id, Decimal(wanted))],
            )
    assert refused.value.missing is missing


async def test_drafts_and_voided_invoices_take_nothing(
    session_factory: async_sessionmaker[AsyncSession], north: SchoolData
) -> None:
    draft = await issued_invoice(session_factory, north, [("10.00", JAN)], status=InvoiceStatus.DRAFT)
    void = await issued_invoice(session_factory, north, [("10.00", JAN)], status=InvoiceStatus.VOID)
    async with session_factory.begin() as session:
        paid = await payment(session, north, "5.00", "a")
        made = await allocate(
            session,
            school_id=north.school.id,
            student_id=north.student.id,
            amount=Decimal("5.00"),
            payment_id=paid.id,
        )
        assert made == []
        assert await session.scalar(select(Allocation.id)) is None
        assert [state.invoice_id for state in await line_states(session, student_id=north.student.id)] == [
            draft.id
        ]
        everything = await line_states(session, student_id=north.student.id, include_void=True)
        assert {state.invoice_id for state in everything} == {draft.id, void.id}
        assert await line_states(session, student_id=north.student.id, posted_only=True) == []
    assert await statuses(session_factory, draft, void) == [InvoiceStatus.DRAFT, InvoiceStatus.VOID]
