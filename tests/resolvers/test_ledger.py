"""The ledger's posting rules: balanced transactions only, reversals that name what they
reverse, balances that are sums of entries to the cent, and numbers unique under concurrency."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from models import LedgerEntry
from models.db import create_writer_session_factory
from models.enums import EntryKind, LedgerAccount
from resolvers import ledger
from resolvers.ledger import Posting, UnbalancedTransaction
from tests.factories import Factory, SchoolData

RECEIVABLE, REVENUE, CASH = LedgerAccount.RECEIVABLE, LedgerAccount.REVENUE, LedgerAccount.CASH


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


async def post(session: AsyncSession, school: SchoolData, kind: EntryKind, postings: list[Posting]) -> str:
    return await ledger.post(
        session,
        school_id=school.school.id,
        student_id=school.student.id,
        currency="USD",
        kind=kind,
        postings=postings,
        description=kind.value.lower(),
        posted_by_id=school.staff.id,
    )


async def entries_of(session: AsyncSession, transaction_id: str) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.transaction_id == transaction_id).order_by(LedgerEntry.id)
    return list(await session.scalars(query))


@pytest.mark.parametrize(
    "postings",
    [
        [Posting(RECEIVABLE, Decimal("10.00"))],
        [Posting(RECEIVABLE, Decimal("10.00")), Posting(REVENUE, Decimal("-9.99"))],
        [Posting(RECEIVABLE, Decimal("10.001")), Posting(REVENUE, Decimal("-10.001"))],
        [Posting(RECEIVABLE, Decimal("0.00")), Posting(REVENUE, Decimal("0.00"))],
    ],
    ids=["one entry", "unbalanced", "fractions of a cent", "zero"],
)
async def test_a_transaction_that_does_not_balance_is_refused_and_writes_nothing(
    session_factory: async_sessionmaker[AsyncSession], north: SchoolData, postings: list[Posting]
) -> None:
    async with session_factory() as session:
        with pytest.raises(UnbalancedTransaction):
            await post(session, north, EntryKind.CHARGE, postings)
        assert await session.scalar(select(func.count()).select_from(LedgerEntry)) == 0


async def test_cents_add_exactly_and_a_reversal_names_each_entry_it_reverses(
    session_factory: async_sessionmaker[AsyncSession], north: SchoolData
) -> None:
    async with session_factory.begin() as session:
        for cents in ("0.10", "0.20"):
            await post(session, north, EntryKind.CHARGE, ledger.charge(Decimal(cents)))
        paid = await post(session, north, EntryKind.PAYMENT, ledger.receipt(Decimal("0.25")))
    async with session_factory() as session:
        assert await ledger.balances(session, [north.student.id, north.other_student.id]) == {
            north.student.id: Decimal("0.05"),
            north.other_student.id: Decimal("0.00"),
        }
    async with session_factory.begin() as session:
        payment = await entries_of(session, paid)
        refund = await ledger.reverse(
            session,
            payment,
            kind=EntryKind.REFUND,
            description="refund",
            posted_by_id=None,
            share=Decimal("0.05"),
        )
    async with session_factory() as session:
        mirrored = await entries_of(session, refund)
        assert [(e.account, e.amount, e.reverses_id) for e in mirrored] == [
            (CASH, Decimal("-0.05"), payment[0].id),
            (RECEIVABLE, Decimal("0.05"), payment[1].id),
        ]
        assert (await ledger.balances(session, [north.student.id]))[north.student.id] == Decimal("0.10")


async def test_numbers_are_unique_and_without_gaps_under_concurrency(
    engine: AsyncEngine, north: SchoolData
) -> None:
    writer = create_writer_session_factory(engine)

    async def take() -> int:
        async with writer.begin() as session:
            return await ledger.next_number(session, north.school.id, "receipt")

    numbers = await asyncio.gather(*(take() for _ in range(12)))
    assert sorted(numbers) == list(range(1, 13))
    async with writer.begin() as session:
        assert await ledger.next_number(session, north.school.id, "invoice") == 1, "each kind counts alone"


amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)
operations = st.lists(st.tuples(st.sampled_from(["charge", "receipt", "reverse"]), amounts), max_size=25)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=operations)
async def test_every_balance_is_the_sum_of_its_entries_and_every_transaction_sums_to_zero(
    session_factory: async_sessionmaker[AsyncSession], north: SchoolData, steps: list[tuple[str, Decimal]]
) -> None:
    expected = await _balance(session_factory, north)
    async with session_factory.begin() as session:
        made: list[tuple[str, Decimal]] = []
        for operation, amount in steps:
            if operation == "reverse" and made:
                transaction_id, signed = made.pop()
                await ledger.reverse(
                    session,
                    await entries_of(session, transaction_id),
                    kind=EntryKind.VOID,
                    description="reversed",
                    posted_by_id=None,
                )
                expected -= signed
            elif operation in ("charge", "receipt"):
                postings = ledger.charge(amount) if operation == "charge" else ledger.receipt(amount)
                kind = EntryKind.CHARGE if operation == "charge" else EntryKind.PAYMENT
                signed = amount if operation == "charge" else -amount
                made.append((await post(session, north, kind, postings), signed))
                expected += signed
    assert await _balance(session_factory, north) == expected
    async with session_factory() as session:
        unbalanced = await session.scalar(
            select(func.count()).select_from(
                select(LedgerEntry.transaction_id)
                .group_by(LedgerEntry.transaction_id)
                .having(func.sum(LedgerEntry.amount) != 0)
                .subquery()
            )
        )
        assert unbalanced == 0


async def _balance(session_factory: async_sessionmaker[AsyncSession], school: SchoolData) -> Decimal:
    async with session_factory() as session:
        return (await ledger.balances(session, [school.student.id]))[school.student.id]
