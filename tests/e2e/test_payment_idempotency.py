"""The issue's first "Must show": ten concurrent recordPayment calls with one idempotency key,
spread over two server processes, make exactly one payment, one receipt number and one ledger
transaction; and a server killed (SIGKILL) in the middle of payments leaves each of them whole
or absent, never half-written."""

from __future__ import annotations

import asyncio
import signal
from datetime import date
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import Allocation, AuditEntry, FinanceCounter, LedgerEntry, Payment
from resolvers.ids import encode_id
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.resolvers.finance.payments_helper import issued_invoice

RECORD = contract_operation("RecordPayment")


def payment_input(school: SchoolData, key: str, amount: str = "30.00") -> dict[str, Any]:
    return {
        "studentId": encode_id("Student", school.student.id),
        "amount": amount,
        "currency": "USD",
        "method": "CARD",
        "idempotencyKey": key,
    }


async def record(base_url: str, token: str, given: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        answer = await http.post(
            "/graphql",
            json={"query": RECORD, "variables": {"input": given}},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"]["recordPayment"]
    return payload


async def test_ten_concurrent_calls_with_one_key_on_two_processes_make_one_payment(
    start_server: Any, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    await issued_invoice(session_factory, north, [("50.00", date(2020, 1, 15))])
    servers = [start_server(), start_server()]
    token = factory.token(north.staff)
    answers = await asyncio.gather(
        *(record(servers[index % 2].base_url, token, payment_input(north, "one-key")) for index in range(10))
    )
    assert {answer["payment"]["id"] for answer in answers} == {answers[0]["payment"]["id"]}
    assert sorted(answer["replayed"] for answer in answers) == [False] + [True] * 9
    assert {answer["payment"]["receiptNumber"] for answer in answers} == {"RCT-000001"}
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Payment)) == 1
        transactions = await session.scalar(
            select(func.count(func.distinct(LedgerEntry.transaction_id))).where(
                LedgerEntry.payment_id.is_not(None)
            )
        )
        assert transactions == 1
        assert await session.scalar(select(func.count()).select_from(Allocation)) == 1
        assert await session.scalar(select(FinanceCounter.value).where(FinanceCounter.name == "receipt")) == 1
        assert await session.scalar(select(func.count()).where(AuditEntry.action == "payment.recorded")) == 1


async def test_a_server_killed_mid_payment_leaves_each_payment_whole_or_absent(
    start_server: Any, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    await issued_invoice(session_factory, north, [("500.00", date(2020, 1, 15))])
    server = start_server()
    token = factory.token(north.staff)
    calls = [
        asyncio.create_task(record(server.base_url, token, payment_input(north, f"key-{index}", "7.00")))
        for index in range(40)
    ]
    await asyncio.sleep(0.3)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    await asyncio.gather(*calls, return_exceptions=True)
    async with session_factory() as session:
        payments = list(await session.scalars(select(Payment)))
        for payment in payments:
            entries = list(
                await session.scalars(select(LedgerEntry).where(LedgerEntry.payment_id == payment.id))
            )
            allocated = await session.scalar(
                select(func.sum(Allocation.amount)).where(Allocation.payment_id == payment.id)
            )
            audited = await session.scalar(
                select(func.count()).where(
                    AuditEntry.action == "payment.recorded", AuditEntry.subject_id == payment.id
                )
            )
            assert len(entries) == 2, payment.receipt_number
            assert sum(entry.amount for entry in entries) == 0, payment.receipt_number
            assert allocated == payment.amount, payment.receipt_number
            assert audited == 1, payment.receipt_number
        counter = await session.scalar(select(FinanceCounter.value).where(FinanceCounter.name == "receipt"))
    assert (counter or 0) == len(payments), "no receipt number of a rolled-back payment was kept"
    survivor = start_server()
    replay = await record(survivor.base_url, token, payment_input(north, "key-0", "7.00"))
    assert replay["userErrors"] == []
    assert replay["replayed"] is any(payment.idempotency_key == "key-0" for payment in payments)
