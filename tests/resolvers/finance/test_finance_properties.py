"""The ledger's invariants over generated terms (hypothesis), built through the real services.

Each example is a new school with a term of generated students, random fees (grade levels,
installments, due dates around today) billed by generateInvoices, then for each student a random
sequence of payments (overpayments included), refunds (part or all), scholarship awards,
revocations and voids, each through its resolver (resolvers/finance/*) with a staff Context, as
the API runs them. The test keeps its own account of what it did (`Books`) and then checks, to the
cent:

- every transaction sums to zero, and for every account the sum of its entries is its balance:
  each student's RECEIVABLE entries sum to ledger.balances and to what the test expects, and the
  school's REVENUE, CASH and SCHOLARSHIP entries to what was billed, paid and awarded;
- financeAnalytics: billed = collected + awarded + outstanding; billed is what the test billed
  (net of voids); collected + awarded + credit is every payment and award net of refunds and
  revocations; outstanding - credit is the sum of the students' balances; and its credit is the
  sum of the students' creditBalance (accounts.summaries, another path to the same money).

Students' operations run in rounds (each student's n-th operation in round n), a few at a time.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from itertools import count
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.identity import CurrentUser
from config import Settings
from context import AppState, Context, build_state, close_state
from errors import Problem
from models import Invoice, LedgerEntry, StudentProfile, Term, User
from models.enums import LedgerAccount, PaymentMethod, Role, StudentStatus, Tier
from models.money import from_cents
from resolvers import ledger
from resolvers.finance import accounts, analytics, awards, fees, invoicing, payments, refunds, scholarships
from resolvers.finance.invoices import school_today
from resolvers.ids import encode_id
from tests.factories import PASSWORD_HASH, Factory

ZERO = Decimal("0.00")
OPERATIONS = ("pay", "refund", "award", "revoke", "void")
AT_ONCE = 4
T = TypeVar("T")
_schools = count(1)


@dataclass(frozen=True)
class FeePlan:
    cents: int
    grade_levels: frozenset[int] | None
    installments: int
    due_in_days: int


@dataclass(frozen=True)
class TermPlan:
    fees: Sequence[FeePlan]
    weights: Sequence[int]  # per OPERATIONS
    max_operations: int
    rng: random.Random  # each student's grade, operations and amounts


fee_plans = st.builds(
    FeePlan,
    cents=st.integers(min_value=100, max_value=150_000),
    grade_levels=st.none() | st.frozensets(st.integers(min_value=9, max_value=12), min_size=1, max_size=3),
    installments=st.integers(min_value=1, max_value=3),
    due_in_days=st.integers(min_value=-150, max_value=150),
)


def term_plans(*, least_operations: int = 0, every_kind: bool = False) -> st.SearchStrategy[TermPlan]:
    """Fees, how likely each operation is (payments always possible; with `every_kind`, all of
    them) and up to how many operations a student gets (a bound of at least `least_operations`)."""
    weights = [
        st.integers(min_value=1 if kind == "pay" or every_kind else 0, max_value=4) for kind in OPERATIONS
    ]
    return st.builds(
        TermPlan,
        fees=st.lists(fee_plans, min_size=1, max_size=3),
        weights=st.tuples(*weights),
        max_operations=st.integers(min_value=least_operations, max_value=5),
        # Seeded by hypothesis, then drawn from freely: a thousand students' draws would
        # overrun hypothesis's own buffer.
        rng=st.randoms(use_true_random=True),
    )


@dataclass
class Paid:
    global_id: str
    amount: Decimal
    refunded: Decimal = ZERO


@dataclass
class Account:
    """What the test did to one student: its own account of the money."""

    global_id: str
    invoice: tuple[str, Decimal] | None = None  # global id, total
    voided: bool = False
    payments: list[Paid] = field(default_factory=list)
    award: tuple[str, Decimal] | None = None  # the active one
    awarded: Decimal = ZERO  # net of revocations

    @property
    def billed(self) -> Decimal:
        return self.invoice[1] if self.invoice and not self.voided else ZERO

    @property
    def cash(self) -> Decimal:
        return sum((paid.amount - paid.refunded for paid in self.payments), ZERO)

    @property
    def balance(self) -> Decimal:
        return self.billed - self.cash - self.awarded


@dataclass
class Books:
    staff: User
    school_id: int
    term_id: int
    accounts: dict[int, Account]


def ok(result: T | list[Problem]) -> T:
    assert not isinstance(result, list), result
    return result


def cents_between(rng: random.Random, low: int, high: int) -> Decimal:
    return from_cents(rng.randint(low, max(low, high)))


class Office:
    """A staff member's desk: a fresh Context per call, as the API makes one per request."""

    def __init__(self, state: AppState, staff: User) -> None:
        self.state = state
        self.staff = CurrentUser.from_model(staff)

    def ctx(self) -> Context:
        return Context(app=self.state, request=None, response=None, user=self.staff)


async def new_term(factory: Factory, rng: random.Random, students: int) -> Books:
    """A school (one staff member), its term and `students` ENROLLED students of random grades.
    The people are inserted directly: they are no money; everything of money goes through the
    services."""
    school, staff = await factory.empty_school(f"prop{next(_schools)}")
    today = school_today(school.timezone)
    async with factory.session_factory.begin() as session:
        term = Term(
            school_id=school.id,
            name="Term",
            starts_on=today - timedelta(days=200),
            ends_on=today + timedelta(200),
        )
        session.add(term)
        users = [
            {
                "school_id": school.id,
                "email": f"s{n}@{school.slug}.test",
                "name": f"Student {n}",
                "password_hash": PASSWORD_HASH,
                "role": Role.STUDENT,
                "tier": Tier.FREE,
            }
            for n in range(students)
        ]
        ids = list(
            await session.scalars(insert(User).returning(User.id, sort_by_parameter_order=True), users)
        )
        profiles = [
            {
                "user_id": user_id,
                "school_id": school.id,
                "student_number": f"{school.slug}-{n:05d}",
                "grade_level": rng.randint(9, 12),
                "cohort_year": 2028,
                "status": StudentStatus.ENROLLED,
            }
            for n, user_id in enumerate(ids)
        ]
        await session.execute(insert(StudentProfile), profiles)
    return Books(
        staff, school.id, term.id, {user_id: Account(encode_id("Student", user_id)) for user_id in ids}
    )


async def bill(
    office: Office, books: Books, plan: TermPlan, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """The plan's fees, billed and issued by one generateInvoices run."""
    term_global_id = encode_id("Term", books.term_id)
    today = school_today("UTC")
    for number, fee in enumerate(plan.fees):
        due = today + timedelta(days=fee.due_in_days)
        parts = [fee.cents // fee.installments] * (fee.installments - 1)
        amounts = [*parts, fee.cents - sum(parts)]
        installments = (
            [
                fees.Installment(
                    due - timedelta(days=30 * (fee.installments - 1 - index)), from_cents(amount)
                )
                for index, amount in enumerate(amounts)
            ]
            if fee.installments > 1
            else []
        )
        fields = fees.FeeFields(
            name=f"Fee {number}",
            amount=from_cents(fee.cents),
            due_date=due,
            grade_levels=sorted(fee.grade_levels) if fee.grade_levels else None,
            installments=installments,
        )
        ok(await fees.create_fee(office.ctx(), term_global_id, "USD", None, fields))
    ok(await invoicing.generate_invoices(office.ctx(), term_global_id, issue=True))
    async with session_factory() as session:
        rows = await session.execute(
            select(Invoice.student_id, Invoice.id, Invoice.total).where(Invoice.term_id == books.term_id)
        )
        for student_id, invoice_id, total in rows.all():
            books.accounts[student_id].invoice = (encode_id("Invoice", invoice_id), total)


def planned_operations(plan: TermPlan, books: Books) -> dict[int, list[str]]:
    return {
        student_id: plan.rng.choices(
            OPERATIONS, weights=plan.weights, k=plan.rng.randint(0, plan.max_operations)
        )
        for student_id in books.accounts
    }


async def operate(
    office: Office, scholarship_id: str, account: Account, operation: str, rng: random.Random
) -> None:
    """One operation on a student's account through its resolver; those that cannot apply (a
    refund of nothing, a second void) are skipped, as a clerk would not attempt them."""
    if operation == "pay":
        high = int(account.billed * 130) if account.billed else 5_000
        amount = cents_between(rng, 1, high)
        request = payments.PaymentRequest(
            account.global_id, amount, "USD", PaymentMethod.CASH, uuid.uuid4().hex
        )
        recorded = ok(await payments.record_payment(office.ctx(), request))
        account.payments.append(Paid(encode_id("Payment", recorded.payment.id), amount))
    elif operation == "refund":
        refundable = [paid for paid in account.payments if paid.amount > paid.refunded]
        if refundable:
            paid = rng.choice(refundable)
            left = int((paid.amount - paid.refunded) * 100)
            asked = None if rng.random() < 0.25 else cents_between(rng, 1, left)
            done = ok(
                await refunds.refund_payment(
                    office.ctx(), refunds.RefundRequest(paid.global_id, "Test", asked)
                )
            )
            assert done.refund.amount == (asked if asked is not None else from_cents(left))
            paid.refunded += done.refund.amount
    elif operation == "award" and account.award is None:
        amount = cents_between(rng, 1, 30_000)
        given = awards.AwardRequest(scholarship_id, account.global_id, amount)
        made = ok(await awards.award_scholarship(office.ctx(), given))
        account.award = (encode_id("ScholarshipAward", made.award.id), amount)
        account.awarded += amount
    elif operation == "revoke" and account.award is not None:
        ok(await awards.revoke_award(office.ctx(), account.award[0], "Test"))
        account.awarded -= account.award[1]
        account.award = None
    elif operation == "void" and account.invoice is not None and not account.voided:
        ok(await invoicing.void_invoice(office.ctx(), account.invoice[0], "Test"))
        account.voided = True


async def in_batches(calls: Sequence[Callable[[], Awaitable[None]]]) -> None:
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(call: Callable[[], Awaitable[None]]) -> None:
        async with gate:
            await call()

    await asyncio.gather(*(one(call) for call in calls))


async def run_term(
    factory: Factory,
    state: AppState,
    session_factory: async_sessionmaker[AsyncSession],
    plan: TermPlan,
    students: int,
) -> Books:
    books = await new_term(factory, plan.rng, students)
    office = Office(state, books.staff)
    await bill(office, books, plan, session_factory)
    offered = scholarships.NewScholarship(
        encode_id("Term", books.term_id),
        "Aid",
        "USD",
        budget=Decimal("1000000000.00"),
        amount=Decimal("300.00"),
    )
    scholarship_id = encode_id(
        "Scholarship", ok(await scholarships.create_scholarship(office.ctx(), offered)).id
    )
    planned = planned_operations(plan, books)
    rounds = max((len(operations) for operations in planned.values()), default=0)
    for round_number in range(rounds):
        calls = []
        for student_id, operations in planned.items():
            if round_number < len(operations):
                rng = random.Random(plan.rng.random())
                account, operation = books.accounts[student_id], operations[round_number]

                def call(
                    account: Account = account, operation: str = operation, rng: random.Random = rng
                ) -> Any:
                    return operate(office, scholarship_id, account, operation, rng)

                calls.append(call)
        await in_batches(calls)
    return books


async def check(state: AppState, session_factory: async_sessionmaker[AsyncSession], books: Books) -> None:
    students = list(books.accounts)
    async with session_factory() as session:
        entries = (
            await session.execute(
                select(
                    LedgerEntry.transaction_id,
                    LedgerEntry.student_id,
                    LedgerEntry.account,
                    LedgerEntry.amount,
                ).where(LedgerEntry.school_id == books.school_id)
            )
        ).all()
        balances = await ledger.balances(session, students)
    by_transaction: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)
    by_account: defaultdict[tuple[LedgerAccount, int | None], Decimal] = defaultdict(lambda: ZERO)
    for transaction_id, student_id, side, amount in entries:
        by_transaction[transaction_id] += amount
        by_account[(side, student_id if side is LedgerAccount.RECEIVABLE else None)] += amount
    assert set(by_transaction.values()) <= {ZERO}, "every transaction balances"
    for student_id, account in books.accounts.items():
        assert (
            by_account[(LedgerAccount.RECEIVABLE, student_id)] == balances[student_id] == account.balance
        ), student_id
    school_side = {
        kind: by_account[(kind, None)]
        for kind in (LedgerAccount.REVENUE, LedgerAccount.CASH, LedgerAccount.SCHOLARSHIP)
    }
    billed = sum((account.billed for account in books.accounts.values()), ZERO)
    cash = sum((account.cash for account in books.accounts.values()), ZERO)
    awarded = sum((account.awarded for account in books.accounts.values()), ZERO)
    assert school_side == {
        LedgerAccount.REVENUE: -billed,
        LedgerAccount.CASH: cash,
        LedgerAccount.SCHOLARSHIP: awarded,
    }

    found = await analytics.finance_analytics(
        Office(state, books.staff).ctx(), encode_id("Term", books.term_id), None
    )
    assert found.billed == found.collected + found.awarded + found.outstanding
    assert found.billed == billed
    # The term's students are those it invoiced (a student no fee applied to may still pay: credit).
    invoiced = [student_id for student_id, account in books.accounts.items() if account.invoice]
    money_in = sum(
        (books.accounts[student_id].cash + books.accounts[student_id].awarded for student_id in invoiced),
        ZERO,
    )
    assert found.collected + found.awarded + found.credit == money_in
    assert found.outstanding - found.credit == sum((balances[student_id] for student_id in invoiced), ZERO)
    summaries = await accounts.summaries(session_factory, invoiced)
    assert found.credit == sum((summary.credit_balance for summary in summaries), ZERO)
    assert [summary.balance for summary in summaries] == [balances[student_id] for student_id in invoiced]
    assert sum((month.billed for month in found.by_month), ZERO) == found.billed
    assert sum((month.collected for month in found.by_month), ZERO) == found.collected
    aging = found.aging
    assert (
        aging.current + aging.days_1_to_30 + aging.days_31_to_60 + aging.days_61_to_90 + aging.over_90
        == found.outstanding
    )


@pytest.fixture
async def app_state(settings: Settings) -> Any:
    state = build_state(settings)
    yield state
    await close_state(state)


async def generated_term(
    factory: Factory,
    app_state: AppState,
    session_factory: async_sessionmaker[AsyncSession],
    plan: TermPlan,
    students: int,
) -> None:
    started = time.monotonic()
    books = await run_term(factory, app_state, session_factory, plan, students)
    await check(app_state, session_factory, books)
    print(f"{students} students: {time.monotonic() - started:.1f} s")


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=term_plans(), students=st.integers(min_value=1, max_value=12))
async def test_small_terms_keep_the_ledger_and_the_analytics_exact(
    factory: Factory,
    app_state: AppState,
    session_factory: async_sessionmaker[AsyncSession],
    plan: TermPlan,
    students: int,
) -> None:
    await generated_term(factory, app_state, session_factory, plan, students)


@pytest.mark.slow  # three terms of a thousand students: about 150 s on SQLite or PostgreSQL
@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=term_plans(least_operations=3, every_kind=True))
async def test_a_term_of_a_thousand_students_keeps_the_ledger_and_the_analytics_exact(
    factory: Factory, app_state: AppState, session_factory: async_sessionmaker[AsyncSession], plan: TermPlan
) -> None:
    await generated_term(factory, app_state, session_factory, plan, 1000)
