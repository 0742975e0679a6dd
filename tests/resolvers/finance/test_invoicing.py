"""Billing a term through the contract's operations: GenerateInvoices (whom a fee applies to, a
line per installment, idempotent even for two runs at once), IssueInvoice and VoidInvoice (its
reversing entries, payments becoming credit, balances staying the sums of entries)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Allocation, AuditEntry, Invoice, InvoiceLine, LedgerEntry, Payment, StudentProfile
from models.enums import EntryKind, InvoiceStatus, LedgerAccount, PaymentMethod, StudentStatus
from resolvers import ledger
from resolvers.finance.lines import allocate
from resolvers.ids import decode_id_of, encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData

CREATE_FEE = contract_operation("CreateFee")
GENERATE = contract_operation("GenerateInvoices")
ISSUE = contract_operation("IssueInvoice")
VOID = contract_operation("VoidInvoice")
INVOICES = contract_operation("Invoices")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


def term_id(school: SchoolData) -> str:
    return encode_id("Term", school.klass.term_id)


async def fee(client: GraphQLClient, school: SchoolData, **fields: Any) -> str:
    given = {
        "termId": term_id(school), "name": "Tuition", "amount": "1000.00", "currency": "USD",
        "dueDate": "2026-10-01",
    } | fields  # fmt: skip
    payload = (await client.data(CREATE_FEE, {"input": given}))["createFee"]
    assert payload["userErrors"] == [], payload
    fee_id: str = payload["fee"]["id"]
    return fee_id


async def generate(client: GraphQLClient, school: SchoolData, issue: bool | None = None) -> dict[str, Any]:
    given: dict[str, Any] = {"termId": term_id(school)} | ({} if issue is None else {"issue": issue})
    payload: dict[str, Any] = (await client.data(GENERATE, {"input": given}))["generateInvoices"]
    return payload


async def invoices_of(session_factory: async_sessionmaker[AsyncSession], student_id: int) -> list[Invoice]:
    async with session_factory() as session:
        return list(await session.scalars(select(Invoice).where(Invoice.student_id == student_id)))


async def assert_balanced(session_factory: async_sessionmaker[AsyncSession], student_id: int) -> Decimal:
    """Every transaction sums to zero and the balance is the sum of the RECEIVABLE entries."""
    async with session_factory() as session:
        entries = list(await session.scalars(select(LedgerEntry).where(LedgerEntry.student_id == student_id)))
        balance = (await ledger.balances(session, [student_id]))[student_id]
    by_transaction: dict[str, Decimal] = {}
    for entry in entries:
        by_transaction[entry.transaction_id] = (
            by_transaction.get(entry.transaction_id, Decimal(0)) + entry.amount
        )
    assert set(by_transaction.values()) <= {Decimal(0)}
    receivable = sum((e.amount for e in entries if e.account is LedgerAccount.RECEIVABLE), Decimal("0.00"))
    assert balance == receivable
    return balance


async def test_a_run_bills_each_enrolled_student_the_fees_that_apply_once(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    ninth, withdrawn = await factory.students(north, ["Nina Ninth", "Walt Withdrawn"])
    async with session_factory.begin() as session:
        (await session.get_one(StudentProfile, ninth.id)).grade_level = 9
        (await session.get_one(StudentProfile, withdrawn.id)).status = StudentStatus.WITHDRAWN
    plan = [{"dueDate": "2026-09-01", "amount": "400.00"}, {"dueDate": "2026-10-01", "amount": "600.00"}]
    await fee(staff, north, gradeLevels=[10], installments=plan)
    await fee(
        staff,
        north,
        name="Lab",
        amount="35.50",
        dueDate="2026-09-20",
        classId=encode_id("Class", north.klass.id),
    )
    await fee(staff, north, name="Activities", amount="20.00", dueDate="2026-09-05")

    result = await generate(staff, north)
    # student: 2 installments + lab + activities; other_student: 2 + activities; ninth: activities.
    assert result == {
        "createdCount": 3, "alreadyBilledCount": 0, "totalAmount": "2095.50", "currency": "USD",
        "userErrors": [],
    }  # fmt: skip
    [invoice] = await invoices_of(session_factory, north.student.id)
    assert invoice.status is InvoiceStatus.ISSUED
    assert invoice.total == Decimal("1055.50")
    assert invoice.due_date.isoformat() == "2026-09-01"
    assert invoice.number.startswith("INV-")
    assert invoice.number.endswith("00001")
    async with session_factory() as session:
        lines = list(
            await session.scalars(
                select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.due_date)
            )
        )
        charges = list(await session.scalars(select(LedgerEntry).where(LedgerEntry.invoice_id == invoice.id)))
    assert [(line.description, line.installment_number) for line in lines] == [
        ("Tuition (installment 1 of 2)", 1),
        ("Activities", 0),
        ("Lab", 0),
        ("Tuition (installment 2 of 2)", 2),
    ]
    assert {entry.invoice_line_id for entry in charges} == {line.id for line in lines}
    assert all(entry.kind is EntryKind.CHARGE and entry.reference == invoice.number for entry in charges)
    assert len(charges) == 2 * len(lines)
    assert await assert_balanced(session_factory, north.student.id) == Decimal("1055.50")
    assert await invoices_of(session_factory, withdrawn.id) == []

    again = await generate(staff, north)
    assert again["createdCount"] == 0
    assert again["alreadyBilledCount"] == 3
    assert again["totalAmount"] == "0.00"

    # A new fee bills only what is new, in a new invoice.
    await fee(staff, north, name="Trip", amount="50.00", dueDate="2026-11-01", gradeLevels=[9])
    later = await generate(staff, north)
    assert (later["createdCount"], later["alreadyBilledCount"], later["totalAmount"]) == (1, 2, "50.00")


async def test_two_runs_at_once_bill_once(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    admin = gql.as_user(factory.token(north.admin))
    await factory.students(north, [f"Pupil {n}" for n in range(8)])
    await fee(staff, north)
    first, second = await asyncio.gather(generate(staff, north), generate(admin, north))
    assert sorted([first["createdCount"], second["createdCount"]]) == [0, 10]
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Invoice)) == 10
        assert await session.scalar(select(func.count()).select_from(InvoiceLine)) == 10
        numbers = set(await session.scalars(select(Invoice.number)))
        charges = await session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.kind == EntryKind.CHARGE)
        )
    assert len(numbers) == 10
    assert charges == 20


async def test_draft_invoices_are_issued_once(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    await fee(staff, north)
    assert (await generate(staff, north, issue=False))["createdCount"] == 2
    [draft] = await invoices_of(session_factory, north.student.id)
    assert draft.status is InvoiceStatus.DRAFT
    assert await assert_balanced(session_factory, north.student.id) == 0
    invoice_id = encode_id("Invoice", draft.id)
    issued = (await staff.data(ISSUE, {"input": {"invoiceId": invoice_id}}))["issueInvoice"]
    assert issued["userErrors"] == []
    assert issued["invoice"]["status"] == "ISSUED"
    assert issued["invoice"]["issuedAt"] is not None
    assert issued["invoice"]["amountDue"] == "1000.00"
    assert await assert_balanced(session_factory, north.student.id) == Decimal("1000.00")
    twice = (await staff.data(ISSUE, {"input": {"invoiceId": invoice_id}}))["issueInvoice"]
    assert twice == {"invoice": None, "userErrors": [twice["userErrors"][0]]}
    assert twice["userErrors"][0]["code"] == "FORBIDDEN_STATE"
    assert await assert_balanced(session_factory, north.student.id) == Decimal("1000.00")


async def pay(session_factory: async_sessionmaker[AsyncSession], school: SchoolData, amount: str) -> Payment:
    """A cash payment of the student, received and allocated as recordPayment does."""
    async with session_factory.begin() as session:
        payment = Payment(
            school_id=school.school.id, student_id=school.student.id, idempotency_key=amount,
            request_hash=amount, receipt_number=f"R-{amount}", amount=Decimal(amount), currency="USD",
            method=PaymentMethod.CASH,
        )  # fmt: skip
        session.add(payment)
        await session.flush()
        await ledger.post(
            session, school_id=school.school.id, student_id=school.student.id, currency="USD",
            kind=EntryKind.PAYMENT, postings=ledger.receipt(payment.amount), description="Payment",
            posted_by_id=school.staff.id, links=ledger.Links(payment_id=payment.id),
        )  # fmt: skip
        await allocate(
            session, school_id=school.school.id, student_id=school.student.id, amount=payment.amount,
            payment_id=payment.id,
        )  # fmt: skip
    return payment


async def test_void_reverses_the_charges_and_turns_payments_into_credit(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    plan = [{"dueDate": "2026-09-01", "amount": "300.00"}, {"dueDate": "2026-10-01", "amount": "700.00"}]
    await fee(staff, north, installments=plan)
    await generate(staff, north)
    [invoice] = await invoices_of(session_factory, north.student.id)
    await pay(session_factory, north, "450.00")
    invoice_id = encode_id("Invoice", invoice.id)

    blank = (await staff.data(VOID, {"input": {"invoiceId": invoice_id, "reason": "  "}}))["voidInvoice"]
    assert blank["userErrors"][0]["code"] == "INVALID"
    assert (await invoices_of(session_factory, north.student.id))[0].status is InvoiceStatus.PARTIALLY_PAID

    voided = (await staff.data(VOID, {"input": {"invoiceId": invoice_id, "reason": "Billed in error"}}))[
        "voidInvoice"
    ]
    assert voided["userErrors"] == []
    shown = voided["invoice"]
    assert (shown["status"], shown["voidReason"], shown["total"]) == ("VOID", "Billed in error", "1000.00")
    assert (shown["amountPaid"], shown["amountDue"]) == ("0.00", "0.00")
    assert shown["voidedAt"] is not None
    # Nothing is charged any more; the payment is the student's credit.
    assert await assert_balanced(session_factory, north.student.id) == Decimal("-450.00")
    async with session_factory() as session:
        voids = list(await session.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.VOID)))
        charges = {
            entry.id: entry
            for entry in await session.scalars(
                select(LedgerEntry).where(
                    LedgerEntry.kind == EntryKind.CHARGE, LedgerEntry.invoice_id == invoice.id
                )
            )
        }
        allocations = list(
            await session.scalars(select(Allocation).where(Allocation.invoice_id == invoice.id))
        )
        audited = await session.scalar(
            select(AuditEntry.detail).where(
                AuditEntry.action == "invoice.voided", AuditEntry.subject_id == invoice.id
            )
        )
    assert sorted(entry.reverses_id for entry in voids if entry.reverses_id) == sorted(charges)
    assert all(entry.amount == -charges[entry.reverses_id].amount for entry in voids if entry.reverses_id)
    taken_back = [row for row in allocations if row.amount < 0]
    assert {row.reverses_id for row in taken_back} == {row.id for row in allocations if row.amount > 0}
    assert sum((row.amount for row in allocations), Decimal(0)) == 0
    assert audited is not None
    assert audited["reason"] == "Billed in error"

    again = (await staff.data(VOID, {"input": {"invoiceId": invoice_id, "reason": "Again"}}))["voidInvoice"]
    assert again["userErrors"][0]["code"] == "FORBIDDEN_STATE"
    assert await assert_balanced(session_factory, north.student.id) == Decimal("-450.00")
    # The lines stay billed: a new run does not bill the student again.
    assert (await generate(staff, north))["createdCount"] == 0


async def test_a_draft_is_voided_without_entries(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    await fee(staff, north)
    await generate(staff, north, issue=False)
    [draft] = await invoices_of(session_factory, north.student.id)
    voided = await staff.data(VOID, {"input": {"invoiceId": encode_id("Invoice", draft.id), "reason": "No"}})
    assert voided["voidInvoice"]["invoice"]["status"] == "VOID"
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    issued = (await staff.data(ISSUE, {"input": {"invoiceId": encode_id("Invoice", draft.id)}}))[
        "issueInvoice"
    ]
    assert issued["userErrors"][0]["code"] == "FORBIDDEN_STATE"


async def test_only_staff_bill_and_other_schools_invoices_are_not_found(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    await fee(staff, north)
    await generate(staff, north, issue=False)
    [draft] = await invoices_of(session_factory, north.student.id)
    invoice_id = encode_id("Invoice", draft.id)
    for role in ("teacher", "mentor", "student", "guardian"):
        client = gql.as_user(factory.token(north.users[role]))
        for document, variables in (
            (GENERATE, {"input": {"termId": term_id(north)}}),
            (ISSUE, {"input": {"invoiceId": invoice_id}}),
            (VOID, {"input": {"invoiceId": invoice_id, "reason": "x"}}),
        ):
            refused = await client.execute(document, variables)
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    south_staff = gql.as_user(factory.token(south.staff))
    for document, variables, name in (
        (GENERATE, {"input": {"termId": term_id(north)}}, "generateInvoices"),
        (ISSUE, {"input": {"invoiceId": invoice_id}}, "issueInvoice"),
        (VOID, {"input": {"invoiceId": invoice_id, "reason": "x"}}, "voidInvoice"),
        (ISSUE, {"input": {"invoiceId": encode_id("Invoice", 999_999)}}, "issueInvoice"),
    ):
        payload = (await south_staff.data(document, variables))[name]
        assert payload["userErrors"][0]["code"] == "NOT_FOUND", name
    [still] = await invoices_of(session_factory, north.student.id)
    assert still.status is InvoiceStatus.DRAFT
    assert decode_id_of(invoice_id, "Invoice") == still.id
