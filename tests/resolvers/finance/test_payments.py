"""recordPayment and payment(id:) through the contract's operations: allocation, credit, the
idempotency key (replay, concurrent retries, CONFLICT), validation that writes nothing, the
audit entry, and who may record and read."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Allocation, AuditEntry, LedgerEntry, Payment
from models.enums import LedgerAccount
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.resolvers.finance.payments_helper import issued_invoice

RECORD = contract_operation("RecordPayment")
DETAIL = contract_operation("PaymentDetail")
AUDIT = contract_operation("FinanceAuditTrail")
PAST, FUTURE, LATER = date(2020, 1, 15), date(2099, 1, 15), date(2099, 6, 15)


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


def payment_input(school: SchoolData, amount: str, key: str = "key-1", **fields: Any) -> dict[str, Any]:
    return {
        "studentId": encode_id("Student", school.student.id),
        "amount": amount,
        "currency": "USD",
        "method": "CASH",
        "idempotencyKey": key,
    } | fields


async def record(client: GraphQLClient, given: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(RECORD, {"input": given}))["recordPayment"]
    return payload


async def counts(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    """Payments, ledger entries and allocations in the database."""
    async with session_factory() as session:
        found = [
            await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Payment, LedgerEntry, Allocation)
        ]
    return found[0], found[1], found[2]


async def test_a_payment_pays_the_oldest_lines_and_the_rest_is_credit(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    later = await issued_invoice(session_factory, north, [("100.00", LATER)])
    overdue = await issued_invoice(session_factory, north, [("40.00", PAST), ("60.00", FUTURE)])
    staff = gql.as_user(factory.token(north.staff))
    first = await record(staff, payment_input(north, "70.00", reference="R-1"))
    assert first["userErrors"] == []
    assert first["replayed"] is False
    payment = first["payment"]
    assert payment["receiptNumber"] == "RCT-000001"
    assert (payment["amount"], payment["status"], payment["creditAmount"]) == ("70.00", "COMPLETED", "0.00")
    assert [
        (row["amount"], row["invoice"]["id"], row["invoice"]["status"]) for row in payment["allocations"]
    ] == [
        ("40.00", encode_id("Invoice", overdue.id), "PARTIALLY_PAID"),
        ("30.00", encode_id("Invoice", overdue.id), "PARTIALLY_PAID"),
    ]
    assert payment["student"]["financialSummary"] == {
        "balance": "130.00",
        "creditBalance": "0.00",
        "overdueAmount": "0.00",
        "nextDueDate": "2099-01-15",
        "nextDueAmount": "30.00",
    }
    second = (await record(staff, payment_input(north, "150.00", key="key-2", method="CARD")))["payment"]
    assert second["receiptNumber"] == "RCT-000002"
    assert [row["amount"] for row in second["allocations"]] == ["30.00", "100.00"]
    assert second["allocations"][1]["invoice"] == {
        "id": encode_id("Invoice", later.id),
        "number": later.number,
        "status": "PAID",
        "amountDue": "0.00",
    }
    assert second["creditAmount"] == "20.00"
    assert second["student"]["financialSummary"]["balance"] == "-20.00"
    assert second["student"]["financialSummary"]["creditBalance"] == "20.00"
    async with session_factory() as session:
        cash = await session.scalar(
            select(func.sum(LedgerEntry.amount)).where(LedgerEntry.account == LedgerAccount.CASH)
        )
    assert cash == Decimal("220.00")


async def test_explicit_allocations_come_first(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await issued_invoice(session_factory, north, [("50.00", PAST)])
    chosen = await issued_invoice(session_factory, north, [("80.00", FUTURE)])
    staff = gql.as_user(factory.token(north.staff))
    allocations = [{"invoiceId": encode_id("Invoice", chosen.id), "amount": "80.00"}]
    payment = (await record(staff, payment_input(north, "90.00", allocations=allocations)))["payment"]
    assert [(row["amount"], row["invoice"]["number"]) for row in payment["allocations"]] == [
        ("80.00", chosen.number),
        ("10.00", "INV-00001"),
    ]


async def test_a_retry_returns_the_same_payment_and_other_details_conflict(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await issued_invoice(session_factory, north, [("50.00", PAST)])
    staff = gql.as_user(factory.token(north.staff))
    first = await record(staff, payment_input(north, "20.00"))
    again = await record(gql.as_user(factory.token(north.admin)), payment_input(north, "20.00"))
    assert again["replayed"] is True
    assert again["payment"]["id"] == first["payment"]["id"]
    assert again["payment"]["allocations"] == first["payment"]["allocations"]
    conflict = await record(staff, payment_input(north, "25.00"))
    assert conflict["payment"] is None
    assert conflict["userErrors"][0]["code"] == "CONFLICT"
    assert await counts(session_factory) == (1, 4, 1)


async def test_ten_concurrent_requests_with_one_key_make_one_payment(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await issued_invoice(session_factory, north, [("50.00", PAST)])
    staff = gql.as_user(factory.token(north.staff))
    answers = await asyncio.gather(*(record(staff, payment_input(north, "30.00")) for _ in range(10)))
    assert len({answer["payment"]["id"] for answer in answers}) == 1
    assert sorted(answer["replayed"] for answer in answers) == [False] + [True] * 9
    assert {answer["payment"]["receiptNumber"] for answer in answers} == {"RCT-000001"}
    assert await counts(session_factory) == (1, 4, 1)


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"amount": "0"}, "INVALID", ["input", "amount"]),
        ({"amount": "-5.00"}, "INVALID", ["input", "amount"]),
        ({"amount": "10.001"}, "INVALID", ["input", "amount"]),
        ({"amount": "1000000000.01"}, "INVALID", ["input", "amount"]),
        ({"amount": 3.1433005847961764e150}, "INVALID", ["input", "amount"]),  # the fuzzer's: was a 500
        ({"currency": "EUR"}, "CURRENCY_MISMATCH", ["input", "currency"]),
        ({"idempotencyKey": " "}, "INVALID", ["input", "idempotencyKey"]),
        (
            {"allocations": [{"invoiceId": "bad", "amount": "5.00"}]},
            "NOT_FOUND",
            ["input", "allocations", "0", "invoiceId"],
        ),
        ({"allocations": [{"invoiceId": "OWN", "amount": "60.00"}]}, "INVALID", ["input", "allocations"]),
        (
            {"allocations": [{"invoiceId": "OWN", "amount": "45.00"}]},
            "INVALID",
            ["input", "allocations", "0", "amount"],
        ),
        (
            {"allocations": [{"invoiceId": "OTHER", "amount": "5.00"}]},
            "NOT_FOUND",
            ["input", "allocations", "0", "invoiceId"],
        ),
        ({"studentId": "FOREIGN"}, "NOT_FOUND", ["input", "studentId"]),
    ],
    ids=[
        "zero",
        "negative",
        "fractions of a cent",
        "over a billion",
        "beyond Decimal's precision",
        "currency",
        "blank key",
        "bad invoice id",
        "allocated more than paid",
        "more than the invoice owes",
        "another student's invoice",
        "another school's student",
    ],
)
async def test_refused_payments_write_nothing(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
    fields: dict[str, Any],
    code: str,
    field: list[str],
) -> None:
    own = await issued_invoice(session_factory, north, [("40.00", PAST)])
    other = await issued_invoice(session_factory, north, [("40.00", PAST)], student=north.other_student)
    south = await factory.school("south")
    names = {"OWN": encode_id("Invoice", own.id), "OTHER": encode_id("Invoice", other.id)}
    for allocation in fields.get("allocations", []):
        allocation["invoiceId"] = names.get(allocation["invoiceId"], allocation["invoiceId"])
    if fields.get("studentId") == "FOREIGN":
        fields["studentId"] = encode_id("Student", south.student.id)
    before = await counts(session_factory)
    answer = await record(gql.as_user(factory.token(north.staff)), payment_input(north, "50.00") | fields)
    assert answer["payment"] is None
    assert [(error["code"], error["field"]) for error in answer["userErrors"]] == [(code, field)]
    assert await counts(session_factory) == before
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == 0


async def test_only_staff_and_admins_record_payments(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    for user in (north.teacher, north.mentor, north.guardian, north.student):
        result = await gql.as_user(factory.token(user)).execute(
            RECORD, {"input": payment_input(north, "5.00")}
        )
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.name
    assert await counts(session_factory) == (0, 0, 0)


async def test_payment_detail_and_its_audit_trail_for_those_who_may_read_the_account(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await issued_invoice(session_factory, north, [("40.00", PAST)])
    staff = gql.as_user(factory.token(north.staff))
    payment_id = (await record(staff, payment_input(north, "50.00", reference="CHK-9")))["payment"]["id"]
    for user in (north.student, north.guardian, north.admin):
        detail = (await gql.as_user(factory.token(user)).data(DETAIL, {"id": payment_id}))["payment"]
        assert detail["recordedBy"]["name"] == north.staff.name
        assert (detail["reference"], detail["creditAmount"], detail["refundedAmount"]) == (
            "CHK-9",
            "10.00",
            "0.00",
        )
        assert [row["line"]["dueDate"] for row in detail["allocations"]] == ["2020-01-15"]
    south = await factory.school("south")
    for user in (north.teacher, north.mentor, north.other_student, south.admin):
        result = await gql.as_user(factory.token(user)).execute(DETAIL, {"id": payment_id})
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.name
        assert result["data"]["payment"] is None
    trail = (await staff.data(AUDIT, {"subjectId": payment_id}))["auditLog"]
    assert [(node["action"], node["subjectId"]) for node in trail["nodes"]] == [
        ("payment.recorded", payment_id)
    ]
    assert trail["nodes"][0]["detail"]["receiptNumber"] == "RCT-000001"
