"""Student.financialSummary (StudentFinancialSummary, WardBalances) and studentAccount: balances
from the ledger, overdue and next due from the lines, credit, entries newest first with running
balances, and who may read them."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import GuardianLink
from models.enums import InvoiceStatus
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.resolvers.finance.payments_helper import issued_invoice
from tests.statements import statements

SUMMARY = contract_operation("StudentFinancialSummary")
WARDS = contract_operation("WardBalances")
RECORD = contract_operation("RecordPayment")
REFUND = contract_operation("RefundPayment")
# The contract's StudentAccount without `awards` (ScholarshipAward comes with the scholarships).
ACCOUNT = contract_operation("StudentAccount").replace(
    "awards {\n      id\n      amount\n      status\n      awardedAt\n"
    "      scholarship {\n        id\n        name\n      }\n    }",
    "",
)
assert "awards" not in ACCOUNT
PAST, SOON, LATER = date(2020, 1, 15), date(2099, 1, 15), date(2099, 6, 15)


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def pay(client: GraphQLClient, school: SchoolData, amount: str, key: str) -> dict[str, Any]:
    given = {
        "studentId": encode_id("Student", school.student.id),
        "amount": amount,
        "currency": "USD",
        "method": "CASH",
        "idempotencyKey": key,
    }
    payment: dict[str, Any] = (await client.data(RECORD, {"input": given}))["recordPayment"]["payment"]
    return payment


async def test_the_summary_sums_the_ledger_and_reads_the_lines(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    student_id = encode_id("Student", north.student.id)
    staff = gql.as_user(factory.token(north.staff))
    empty = (await staff.data(SUMMARY, {"id": student_id}))["student"]["financialSummary"]
    assert empty == {
        "balance": "0.00",
        "overdueAmount": "0.00",
        "nextDueDate": None,
        "nextDueAmount": None,
        "creditBalance": "0.00",
        "currency": "USD",
    }
    await issued_invoice(session_factory, north, [("40.00", PAST), ("25.00", SOON)])
    await issued_invoice(session_factory, north, [("35.00", SOON), ("100.00", LATER)])
    await issued_invoice(session_factory, north, [("999.00", PAST)], status=InvoiceStatus.DRAFT)
    await pay(staff, north, "10.00", "a")
    for user in (north.student, north.guardian, north.admin):
        summary = (await gql.as_user(factory.token(user)).data(SUMMARY, {"id": student_id}))["student"]
        assert summary["financialSummary"] == {
            "balance": "190.00",
            "overdueAmount": "30.00",
            "nextDueDate": "2099-01-15",
            "nextDueAmount": "60.00",
            "creditBalance": "0.00",
            "currency": "USD",
        }
    await pay(staff, north, "250.00", "b")
    summary = (await staff.data(SUMMARY, {"id": student_id}))["student"]["financialSummary"]
    assert (summary["balance"], summary["creditBalance"], summary["overdueAmount"]) == (
        "-60.00",
        "60.00",
        "0.00",
    )
    assert summary["nextDueDate"] is None


async def test_teachers_and_mentors_never_see_the_summary(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await issued_invoice(session_factory, north, [("40.00", PAST)])
    for user in (north.teacher, north.mentor):
        result = await gql.as_user(factory.token(user)).execute(
            SUMMARY, {"id": encode_id("Student", north.student.id)}
        )
        assert result["data"]["student"]["financialSummary"] is None, user.name
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert result["errors"][0]["path"] == ["student", "financialSummary"]


async def test_a_guardian_sees_each_wards_balance_at_a_fixed_cost(
    gql: GraphQLClient,
    metered: httpx.AsyncClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    await issued_invoice(session_factory, north, [("40.00", PAST)])
    await issued_invoice(session_factory, north, [("15.00", SOON)], student=north.other_student)
    guardian = factory.token(north.guardian)
    one_ward = await statements(metered, guardian, WARDS, {})
    async with session_factory.begin() as session:
        session.add(GuardianLink(guardian_id=north.guardian.id, student_id=north.other_student.id))
    nodes = (await gql.as_user(guardian).data(WARDS))["students"]["nodes"]
    balances = {node["name"]: node["financialSummary"]["balance"] for node in nodes}
    assert balances == {north.student.name: "40.00", north.other_student.name: "15.00"}
    assert await statements(metered, guardian, WARDS, {}) == one_ward


async def test_the_account_lists_entries_newest_first_with_running_balances(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    invoice = await issued_invoice(session_factory, north, [("40.00", PAST), ("60.00", SOON)])
    draft = await issued_invoice(session_factory, north, [("5.00", SOON)], status=InvoiceStatus.DRAFT)
    staff = gql.as_user(factory.token(north.staff))
    payment = await pay(staff, north, "70.00", "a")
    await staff.data(REFUND, {"input": {"paymentId": payment["id"], "amount": "20.00", "reason": "Error"}})
    variables = {"studentId": encode_id("Student", north.student.id), "first": 2}
    account = (await gql.as_user(factory.token(north.student)).data(ACCOUNT, variables))["studentAccount"]
    assert account["summary"]["balance"] == "50.00"
    entries = account["entries"]
    assert entries["totalCount"] == 4
    assert entries["pageInfo"]["hasNextPage"] is True
    assert [(node["kind"], node["amount"], node["runningBalance"]) for node in entries["nodes"]] == [
        ("REFUND", "20.00", "50.00"),
        ("PAYMENT", "-70.00", "30.00"),
    ]
    refund, paid = entries["nodes"]
    assert refund["reverses"] == {"id": paid["id"]}
    assert paid["payment"] == {"id": payment["id"], "receiptNumber": "RCT-000001"}
    rest = (
        await gql.as_user(factory.token(north.guardian)).data(
            ACCOUNT, variables | {"after": entries["pageInfo"]["endCursor"]}
        )
    )["studentAccount"]["entries"]
    assert [(node["kind"], node["runningBalance"], node["invoice"]["number"]) for node in rest["nodes"]] == [
        ("CHARGE", "100.00", invoice.number),
        ("CHARGE", "40.00", invoice.number),
    ]
    assert [node["number"] for node in account["invoices"]["nodes"]] == [invoice.number]
    assert account["invoices"]["nodes"][0]["amountDue"] == "50.00"
    assert [(node["status"], node["refundedAmount"]) for node in account["payments"]["nodes"]] == [
        ("PARTIALLY_REFUNDED", "20.00")
    ]
    as_staff = (await staff.data(ACCOUNT, variables))["studentAccount"]["invoices"]["nodes"]
    assert [node["number"] for node in as_staff] == [draft.number, invoice.number]


async def test_the_account_is_for_the_student_guardians_and_staff_only(
    gql: GraphQLClient, factory: Factory, north: SchoolData
) -> None:
    south = await factory.school("south")
    variables = {"studentId": encode_id("Student", north.student.id)}
    for user in (north.teacher, north.mentor, north.other_student, south.admin):
        result = await gql.as_user(factory.token(user)).execute(ACCOUNT, variables)
        assert result["data"]["studentAccount"] is None, user.name
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
