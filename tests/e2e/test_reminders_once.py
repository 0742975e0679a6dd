"""Concurrent runPaymentReminders calls spread over two real server processes on PostgreSQL send
each reminder once: one reminder row per invoice, rule and due date, one notification and one
e-mail in the outbox per recipient, however the calls interleave. (On SQLite, writers take turns
through the file lock, so there is no race to show: the test runs on PostgreSQL only.)"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Delivery, Notification, PaymentReminder
from models.enums import CommunicationChannel
from tests.contract.documents import contract_operation
from tests.factories import Factory
from tests.resolvers.finance.payments_helper import issued_invoice

RUN = contract_operation("RunPaymentReminders")
CREATE = contract_operation("CreatePaymentReminderRule")
INVOICES = 20
DUE = date(2031, 5, 1)  # years ahead: the servers' own hourly runs (as of now) find nothing due


@pytest.fixture(autouse=True)
def on_postgres(settings: Settings) -> None:
    if settings.is_sqlite:
        pytest.skip("needs DATABASE_URL of a PostgreSQL database")


async def call(base_url: str, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        answer = await http.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    body: dict[str, Any] = answer.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def test_concurrent_runs_on_two_processes_send_each_reminder_once(
    start_server: Any, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    for index in range(INVOICES):
        await issued_invoice(session_factory, north, [("12.00", DUE + timedelta(days=index % 4))])
    servers = [start_server(), start_server()]
    token = factory.token(north.admin)
    rule = {"name": "Late", "trigger": "OVERDUE", "days": 0, "sendEmail": True}
    created = await call(servers[0].base_url, token, CREATE, {"input": rule})
    assert created["createPaymentReminderRule"]["userErrors"] == []
    as_of = {"input": {"asOf": "2031-06-01T00:00:00+00:00"}}
    answers = await asyncio.gather(
        *(call(servers[index % 2].base_url, token, RUN, as_of) for index in range(8))
    )
    counts = [answer["runPaymentReminders"]["sentCount"] for answer in answers]
    assert sum(counts) == INVOICES, counts
    sent_ids = [r["id"] for answer in answers for r in answer["runPaymentReminders"]["reminders"]]
    assert len(set(sent_ids)) == INVOICES, "no reminder is reported by two runs"
    async with session_factory() as session:
        reminders = await session.scalar(select(func.count()).select_from(PaymentReminder))
        notes = (
            await session.execute(select(Notification.user_id, func.count()).group_by(Notification.user_id))
        ).all()
        emails = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.channel == CommunicationChannel.EMAIL)
        )
    assert reminders == INVOICES
    assert sorted(notes) == sorted([(north.student.id, INVOICES), (north.guardian.id, INVOICES)])
    assert emails == 2 * INVOICES, "one e-mail per recipient and reminder"
