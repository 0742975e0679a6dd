"""Reading invoices through the contract's operations: the school's list (Invoices) with its
filters and pages, one invoice (InvoiceDetail) with its lines and payments, its PDF
(GenerateInvoicePdf), and who may read them."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Invoice, Payment
from models.enums import EntryKind, PaymentMethod
from resolvers import ledger
from resolvers.finance.lines import allocate
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.resolvers.reports.samples import pdf_pages

CREATE_FEE = contract_operation("CreateFee")
GENERATE = contract_operation("GenerateInvoices")
INVOICES = contract_operation("Invoices")
DETAIL = contract_operation("InvoiceDetail")
PDF = contract_operation("GenerateInvoicePdf")


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def bill(client: GraphQLClient, school: SchoolData, *, issue: bool = True) -> None:
    """Tuition in two installments (one long past due) for every student, then a run."""
    plan = [{"dueDate": "2020-01-15", "amount": "300.00"}, {"dueDate": "2099-06-01", "amount": "700.00"}]
    fee = {
        "termId": encode_id("Term", school.klass.term_id), "name": "Tuition", "amount": "1000.00",
        "currency": "USD", "dueDate": "2099-06-01", "installments": plan,
    }  # fmt: skip
    assert (await client.data(CREATE_FEE, {"input": fee}))["createFee"]["userErrors"] == []
    given = {"termId": encode_id("Term", school.klass.term_id), "issue": issue}
    assert (await client.data(GENERATE, {"input": given}))["generateInvoices"]["userErrors"] == []


async def invoice_of(session_factory: async_sessionmaker[AsyncSession], student_id: int) -> Invoice:
    async with session_factory() as session:
        invoice = await session.scalar(select(Invoice).where(Invoice.student_id == student_id))
    assert invoice is not None
    return invoice


async def pay(session_factory: async_sessionmaker[AsyncSession], school: SchoolData, amount: str) -> Payment:
    async with session_factory.begin() as session:
        payment = Payment(
            school_id=school.school.id, student_id=school.student.id, idempotency_key=amount,
            request_hash=amount, receipt_number=f"R-{amount}", amount=Decimal(amount), currency="USD",
            method=PaymentMethod.CARD,
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


async def listed(client: GraphQLClient, **variables: Any) -> dict[str, Any]:
    page: dict[str, Any] = (await client.data(INVOICES, variables))["invoices"]
    return page


async def test_staff_list_the_schools_invoices_filtered_and_paged(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    staff = gql.as_user(factory.token(north.staff))
    await bill(staff, north)
    await bill(gql.as_user(factory.token(south.staff)), south)
    await pay(session_factory, north, "400.00")

    page = await listed(staff)
    assert page["totalCount"] == 2
    other, mine = page["nodes"]  # newest first
    assert mine["student"]["id"] == encode_id("Student", north.student.id)
    assert other["student"]["id"] == encode_id("Student", north.other_student.id)
    assert (mine["status"], mine["total"], mine["amountPaid"], mine["amountCredited"], mine["amountDue"]) == (
        "PARTIALLY_PAID", "1000.00", "400.00", "0.00", "600.00",
    )  # fmt: skip
    assert mine["overdue"] is False  # the past installment is paid
    assert other["overdue"] is True
    assert mine["term"]["name"] == "Fall"
    assert [(line["amount"], line["amountDue"], line["installmentNumber"]) for line in mine["lines"]] == [
        ("300.00", "0.00", 1),
        ("700.00", "600.00", 2),
    ]
    assert mine["lines"][0]["fee"]["id"] == mine["lines"][1]["fee"]["id"]

    student_id = encode_id("Student", north.student.id)
    assert [n["id"] for n in (await listed(staff, filter={"studentId": student_id}))["nodes"]] == [mine["id"]]
    assert (await listed(staff, filter={"overdue": True}))["nodes"] == [other]
    assert (await listed(staff, filter={"overdue": False}))["nodes"] == [mine]
    assert (await listed(staff, filter={"status": ["ISSUED"]}))["nodes"] == [other]
    south_term = encode_id("Term", south.klass.term_id)
    assert (await listed(staff, filter={"termId": south_term}))["totalCount"] == 0
    first = await listed(staff, first=1)
    assert first["pageInfo"]["hasNextPage"] is True
    rest = await listed(staff, first=1, after=first["pageInfo"]["endCursor"])
    assert rest["nodes"] == [mine]
    assert rest["pageInfo"]["hasNextPage"] is False

    for role in ("teacher", "mentor", "student", "guardian"):
        refused = await gql.as_user(factory.token(north.users[role])).execute(INVOICES)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role


async def test_the_student_guardians_and_staff_read_one_invoice(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    await bill(gql.as_user(factory.token(north.staff)), north)
    payment = await pay(session_factory, north, "350.00")
    invoice = await invoice_of(session_factory, north.student.id)
    invoice_id = encode_id("Invoice", invoice.id)

    for role in ("student", "guardian", "staff", "admin"):
        shown = (await gql.as_user(factory.token(north.users[role])).data(DETAIL, {"id": invoice_id}))[
            "invoice"
        ]
        assert shown["number"] == invoice.number, role
    assert (shown["amountPaid"], shown["amountDue"], shown["overdue"]) == ("350.00", "650.00", False)
    assert shown["student"]["studentNumber"].startswith("T-")
    assert [line["amountPaid"] for line in shown["lines"]] == ["300.00", "50.00"]
    assert shown["lines"][0]["fee"]["name"] == "Tuition"
    assert shown["lines"][0]["description"] == "Tuition (installment 1 of 2)"
    assert [(a["amount"], a["payment"]["id"], a["line"]["id"]) for a in shown["allocations"]] == [
        ("300.00", encode_id("Payment", payment.id), shown["lines"][0]["id"]),
        ("50.00", encode_id("Payment", payment.id), shown["lines"][1]["id"]),
    ]
    assert shown["allocations"][0]["payment"]["method"] == "CARD"
    assert (shown["voidedAt"], shown["voidReason"]) == (None, None)

    refusals = [(north.users[role], invoice_id) for role in ("teacher", "mentor", "other_student")] + [
        (south.staff, invoice_id),
        (north.staff, encode_id("Invoice", 999_999)),
    ]
    messages = set()
    for user, asked in refusals:
        refused = await gql.as_user(factory.token(user)).execute(DETAIL, {"id": asked})
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.name
        assert refused["data"]["invoice"] is None
        messages.add(refused["errors"][0]["message"])
    assert "Not found, or not yours to see." in messages


async def test_drafts_are_for_staff_only(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await bill(gql.as_user(factory.token(north.staff)), north, issue=False)
    invoice_id = encode_id("Invoice", (await invoice_of(session_factory, north.student.id)).id)
    draft = (await gql.as_user(factory.token(north.staff)).data(DETAIL, {"id": invoice_id}))["invoice"]
    assert (draft["status"], draft["issuedAt"], draft["overdue"]) == ("DRAFT", None, False)
    for role in ("student", "guardian"):
        client = gql.as_user(factory.token(north.users[role]))
        refused = await client.execute(DETAIL, {"id": invoice_id})
        assert refused["errors"][0]["message"] == "Not found, or not yours to see.", role
        refused = await client.execute(PDF, {"input": {"invoiceId": invoice_id}})
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role


async def test_the_pdf_is_behind_a_signed_link_for_the_invoices_readers(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    south = await factory.school("south")
    await bill(gql.as_user(factory.token(north.staff)), north)
    await pay(session_factory, north, "100.00")
    invoice = await invoice_of(session_factory, north.student.id)
    invoice_id = encode_id("Invoice", invoice.id)

    link = (await gql.as_user(factory.token(north.guardian)).data(PDF, {"input": {"invoiceId": invoice_id}}))[
        "generateInvoicePdf"
    ]
    assert link["userErrors"] == []
    assert link["expiresAt"] is not None
    document = await http.get(link["url"])
    assert document.status_code == 200
    assert document.content.startswith(b"%PDF-")
    text = " ".join(pdf_pages(document.content))
    assert invoice.number in text
    assert "Tuition (installment 1 of 2)" in text
    assert "USD 900.00" in text  # what is due
    assert (await http.get(link["url"] + "x")).status_code == 403

    for role in ("teacher", "mentor", "other_student"):
        refused = await gql.as_user(factory.token(north.users[role])).execute(
            PDF, {"input": {"invoiceId": invoice_id}}
        )
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", role
    for asked in (invoice_id, encode_id("Invoice", 999_999)):
        payload = (await gql.as_user(factory.token(south.staff)).data(PDF, {"input": {"invoiceId": asked}}))[
            "generateInvoicePdf"
        ]
        assert (payload["url"], payload["userErrors"][0]["code"]) == (None, "NOT_FOUND")
