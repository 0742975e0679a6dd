"""refundPayment: reversing entries, the credit first and then the allocations newest first (the
lines open again), refusals that write nothing, the idempotency key, the audit entry."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Allocation, AuditEntry, LedgerEntry, Refund
from models.enums import EntryKind
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.resolvers.finance.payments_helper import issued_invoice

RECORD = contract_operation("RecordPayment")
REFUND = contract_operation("RefundPayment")
DETAIL = contract_operation("PaymentDetail")
PAST, FUTURE = date(2020, 1, 15), date(2099, 1, 15)


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


@pytest.fixture
async def paid(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> str:
    """A payment of 100.00: 30.00 to an overdue line, 50.00 to a later one, 20.00 credit."""
    await issued_invoice(session_factory, north, [("30.00", PAST), ("50.00", FUTURE)])
    given = {
        "studentId": encode_id("Student", north.student.id),
        "amount": "100.00",
        "currency": "USD",
        "method": "CARD",
        "idempotencyKey": "pay-1",
    }
    payload = (await gql.as_user(factory.token(north.staff)).data(RECORD, {"input": given}))["recordPayment"]
    payment_id: str = payload["payment"]["id"]
    return payment_id


async def refund(client: GraphQLClient, payment_id: str, **fields: Any) -> dict[str, Any]:
    given = {"paymentId": payment_id, "reason": "Overcharged"} | fields
    payload: dict[str, Any] = (await client.data(REFUND, {"input": given}))["refundPayment"]
    return payload


async def written(session_factory: async_sessionmaker[AsyncSession]) -> tuple[int, int, int, int]:
    async with session_factory() as session:
        found = [
            await session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Refund, LedgerEntry, Allocation, AuditEntry)
        ]
    return found[0], found[1], found[2], found[3]


async def test_refunds_take_the_credit_first_then_the_newest_allocations(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    paid: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    first = await refund(staff, paid, amount="30.00")
    assert first["userErrors"] == []
    assert first["refund"]["refundedBy"]["name"] == north.staff.name
    assert first["payment"]["status"] == "PARTIALLY_REFUNDED"
    assert first["payment"]["refundedAmount"] == "30.00"
    assert first["payment"]["student"]["financialSummary"] == {"balance": "10.00", "creditBalance": "0.00"}
    detail = (await staff.data(DETAIL, {"id": paid}))["payment"]
    assert [(row["amount"], row["line"]["dueDate"]) for row in detail["allocations"]] == [
        ("30.00", "2020-01-15"),
        ("40.00", "2099-01-15"),
    ]
    assert detail["creditAmount"] == "0.00"
    rest = await refund(staff, paid, reason="Cancelled")
    assert rest["refund"]["amount"] == "70.00"
    assert (rest["payment"]["status"], rest["payment"]["refundedAmount"]) == ("REFUNDED", "100.00")
    assert rest["payment"]["student"]["financialSummary"]["balance"] == "80.00"
    detail = (await staff.data(DETAIL, {"id": paid}))["payment"]
    assert detail["allocations"] == []
    assert [row["amount"] for row in detail["refunds"]] == ["30.00", "70.00"]
    async with session_factory() as session:
        reversals = list(
            await session.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.REFUND))
        )
        taken_back = list(await session.scalars(select(Allocation).where(Allocation.amount < 0)))
        statuses = {row.reverses_id is not None for row in reversals}
    assert statuses == {True}
    assert all(row.reverses_id is not None and row.refund_id is not None for row in taken_back)
    assert sum(row.amount for row in reversals) == 0
    nothing_left = await refund(staff, paid)
    assert nothing_left["userErrors"][0]["code"] == "INVALID"


async def test_a_retried_key_returns_the_same_refund(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    paid: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    staff = gql.as_user(factory.token(north.staff))
    first = await refund(staff, paid, amount="10.00", idempotencyKey="r-1")
    before = await written(session_factory)
    again = await refund(staff, paid, amount="10.00", idempotencyKey="r-1")
    assert again["refund"]["id"] == first["refund"]["id"]
    assert await written(session_factory) == before
    assert before[0] == 1


@pytest.mark.parametrize(
    "fields",
    [{"amount": "100.01"}, {"amount": "5.001"}, {"amount": "0"}, {"reason": "  "}],
    ids=["more than refundable", "fractions of a cent", "zero", "blank reason"],
)
async def test_refused_refunds_write_nothing(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    paid: str,
    session_factory: async_sessionmaker[AsyncSession],
    fields: dict[str, Any],
) -> None:
    before = await written(session_factory)
    answer = await refund(gql.as_user(factory.token(north.staff)), paid, **fields)
    assert answer["refund"] is None
    assert [error["code"] for error in answer["userErrors"]] == ["INVALID"]
    assert await written(session_factory) == before


async def test_only_the_schools_staff_refund(
    gql: GraphQLClient,
    factory: Factory,
    north: SchoolData,
    paid: str,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    before = await written(session_factory)
    for user in (north.teacher, north.mentor, north.student, north.guardian):
        result = await gql.as_user(factory.token(user)).execute(
            REFUND, {"input": {"paymentId": paid, "reason": "x"}}
        )
        assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.name
    south = await factory.school("south")
    foreign = await refund(gql.as_user(factory.token(south.staff)), paid)
    assert [error["code"] for error in foreign["userErrors"]] == ["NOT_FOUND"]
    assert await written(session_factory) == before
