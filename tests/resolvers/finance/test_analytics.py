"""financeAnalytics through the contract's operation: billed (net of voids) = collected (payments net
of refunds) + awarded + outstanding to the cent, with overpayments and voided payments reported as
the students' credit; the aging buckets at their edges; byMonth covering every month in the
school's timezone and summing to the totals; the forecast and its "too little history" answer;
staff/admin of the term's school only; a fixed statement count however many students."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from models import Allocation, Invoice, LedgerEntry, School, User
from resolvers import ledger
from resolvers.finance.forecast import add_months, forecast_months, month_label
from resolvers.finance.invoices import school_today
from resolvers.ids import encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.resolvers.finance.payments_helper import issued_invoice
from tests.resolvers.finance.test_scholarships import award, created_id, scholarship_input
from tests.statements import metered_client, statements

ANALYTICS = contract_operation("FinanceAnalytics")
RECORD = contract_operation("RecordPayment")
REFUND = contract_operation("RefundPayment")
VOID = contract_operation("VoidInvoice")
CREDIT = "query ($termId: ID!) { financeAnalytics(termId: $termId) { credit } }"
ZERO = "0.00"


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


def term_id(school: SchoolData) -> str:
    return encode_id("Term", school.klass.term_id)


def today() -> date:
    return school_today("UTC")


async def analytics(client: GraphQLClient, school: SchoolData, as_of: date | None = None) -> dict[str, Any]:
    variables: dict[str, Any] = {"termId": term_id(school)}
    if as_of is not None:
        variables["asOf"] = as_of.isoformat()
    found: dict[str, Any] = (await client.data(ANALYTICS, variables))["financeAnalytics"]
    return found


async def pay(client: GraphQLClient, student: User, amount: str) -> str:
    given = {
        "studentId": encode_id("Student", student.id),
        "amount": amount,
        "currency": "USD",
        "method": "CASH",
        "idempotencyKey": uuid.uuid4().hex,
    }
    payload = (await client.data(RECORD, {"input": given}))["recordPayment"]
    assert payload["userErrors"] == [], payload["userErrors"]
    payment_id: str = payload["payment"]["id"]
    return payment_id


async def refund(client: GraphQLClient, payment_id: str, amount: str) -> None:
    given = {"paymentId": payment_id, "amount": amount, "reason": "Overcharged"}
    assert (await client.data(REFUND, {"input": given}))["refundPayment"]["userErrors"] == []


async def void(client: GraphQLClient, invoice: Invoice) -> None:
    given = {"invoiceId": encode_id("Invoice", invoice.id), "reason": "Billed by mistake"}
    assert (await client.data(VOID, {"input": given}))["voidInvoice"]["userErrors"] == []


@dataclass(frozen=True)
class Mixed:
    """The invoices of `mixed_term`: the student's A, the other student's B, the third's C (VOID)."""

    third: User
    invoices: tuple[Invoice, Invoice, Invoice]


async def mixed_term(
    gql: GraphQLClient,
    factory: Factory,
    school: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
) -> Mixed:
    """Payments, refunds, an award, an overpayment and a void, as of today:

    - A (student): 60.00 due 95 days ago, 100.00 due 40 days ago, 50.00 due in 10 days. Paid 120.00
      (the 60 line, 60 of the 100), 20.00 refunded (taken back from the 100 line), awarded 25.00
      (to the 100 line): 35.00 open 31-60 days late, 50.00 not yet due.
    - B (other student): 80.00 due 5 days ago, paid 100.00: 20.00 is credit.
    - C (a third student): 30.00, paid, 10.00 of it refunded, then voided: billed nothing, the 20.00
      left of the payment is credit (the void takes back only what the refund left on the line).
    """
    day = today()
    staff = gql.as_user(factory.token(school.staff))
    [third] = await factory.students(school, ["Third Pupil"])
    a = await issued_invoice(
        session_factory,
        school,
        [
            ("60.00", day - timedelta(days=95)),
            ("100.00", day - timedelta(days=40)),
            ("50.00", day + timedelta(10)),
        ],
    )
    b = await issued_invoice(
        session_factory, school, [("80.00", day - timedelta(days=5))], student=school.other_student
    )
    c = await issued_invoice(session_factory, school, [("30.00", day - timedelta(days=100))], student=third)
    payment = await pay(staff, school.student, "120.00")
    await refund(staff, payment, "20.00")
    scholarship_id = await created_id(staff, scholarship_input(school))
    assert (await award(staff, scholarship_id, school.student, amount="25.00"))["userErrors"] == []
    await pay(staff, school.other_student, "100.00")
    await refund(staff, await pay(staff, third, "30.00"), "10.00")
    await void(staff, c)
    return Mixed(third, (a, b, c))


def months_between(first: str, last: str) -> list[str]:
    start = date.fromisoformat(f"{first}-01")
    months = [start]
    while month_label(months[-1]) != last:
        months.append(add_months(months[-1], 1))
    return [month_label(month) for month in months]


def total(rows: list[dict[str, Any]], key: str) -> Decimal:
    return sum((Decimal(row[key]) for row in rows), Decimal("0.00"))


async def test_billed_is_collected_plus_awarded_plus_outstanding_from_the_ledger(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    mixed = await mixed_term(gql, factory, north, session_factory)
    found = await analytics(gql.as_user(factory.token(north.staff)), north)
    assert found["term"] == {"id": term_id(north), "name": "Fall"}
    assert (found["asOf"], found["currency"]) == (today().isoformat(), "USD")
    money = {key: found[key] for key in ("billed", "collected", "awarded", "outstanding")}
    assert money == {"billed": "290.00", "collected": "180.00", "awarded": "25.00", "outstanding": "85.00"}
    assert Decimal(money["billed"]) == sum(
        (Decimal(money[key]) for key in money if key != "billed"), Decimal(0)
    )
    assert found["collectionRate"] == pytest.approx(0.6207)
    assert (found["invoiceCount"], found["overdueInvoiceCount"]) == (2, 1), "C is void; only A owes late"
    assert found["aging"] == {
        "current": "50.00",
        "days1To30": ZERO,
        "days31To60": "35.00",
        "days61To90": ZERO,
        "over90": ZERO,
    }
    credit = await gql.as_user(factory.token(north.admin)).data(CREDIT, {"termId": term_id(north)})
    assert credit["financeAnalytics"]["credit"] == "40.00", "B's overpayment and what C's void freed"
    async with session_factory() as session:
        students = [north.student.id, north.other_student.id, mixed.third.id]
        balances = await ledger.balances(session, students)
    assert balances == {
        students[0]: Decimal("85.00"),
        students[1]: Decimal("-20.00"),
        students[2]: Decimal("-20.00"),
    }
    assert sum(balances.values()) == Decimal("85.00") - Decimal("40.00"), "outstanding less credit"
    months = found["byMonth"]
    assert [row["month"] for row in months] == months_between(months[0]["month"], month_label(today()))
    assert months[0]["month"] <= "2026-09", "from the term's first month (or earlier activity)"
    assert (total(months, "billed"), total(months, "collected")) == (Decimal("290.00"), Decimal("180.00"))


async def test_as_of_before_any_activity_nothing_is_billed_and_the_rate_is_null(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await mixed_term(gql, factory, north, session_factory)
    found = await analytics(gql.as_user(factory.token(north.staff)), north, today() - timedelta(days=1))
    assert [found[key] for key in ("billed", "collected", "awarded", "outstanding")] == [ZERO] * 4
    assert (found["collectionRate"], found["invoiceCount"], found["overdueInvoiceCount"]) == (None, 0, 0)
    assert set(found["aging"].values()) == {ZERO}
    assert (
        {row["billed"] for row in found["byMonth"]}
        == {row["collected"] for row in found["byMonth"]}
        == {ZERO}
    )


async def test_aging_buckets_at_their_edges(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    day = today()
    edges = [
        (0, "1.00"),
        (1, "2.00"),
        (30, "4.00"),
        (31, "8.00"),
        (60, "16.00"),
        (61, "32.00"),
        (90, "64.00"),
    ]
    edges.append((91, "128.00"))
    await issued_invoice(
        session_factory, north, [(amount, day - timedelta(days=late)) for late, amount in edges]
    )
    staff = gql.as_user(factory.token(north.staff))
    await pay(staff, north.student, "3.00")
    found = await analytics(staff, north, day)
    assert found["aging"] == {
        "current": "1.00",
        "days1To30": "6.00",
        "days31To60": "24.00",
        "days61To90": "96.00",
        "over90": "125.00",
    }, "the payment went to the oldest line"
    assert found["outstanding"] == "252.00"
    later = await analytics(staff, north, day + timedelta(days=30))
    assert later["aging"] == {
        "current": ZERO,
        "days1To30": "1.00",
        "days31To60": "6.00",
        "days61To90": "24.00",
        "over90": "221.00",
    }
    assert later["overdueInvoiceCount"] == 1


async def backdate(session_factory: async_sessionmaker[AsyncSession], invoice: Invoice, at: datetime) -> None:
    """Moves the invoice's entries and allocations to `at`, as if they had been made then."""
    async with session_factory.begin() as session:
        await session.execute(
            update(LedgerEntry).where(LedgerEntry.invoice_id == invoice.id).values(posted_at=at)
        )
        await session.execute(
            update(Allocation).where(Allocation.invoice_id == invoice.id).values(created_at=at)
        )


async def test_by_month_uses_the_schools_months_and_sums_to_the_totals(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory.begin() as session:
        await session.execute(
            update(School).where(School.id == north.school.id).values(timezone="America/New_York")
        )
    staff = gql.as_user(factory.token(north.staff))
    august = await issued_invoice(session_factory, north, [("40.00", date(2026, 9, 1))])
    await pay(staff, north.student, "40.00")
    await backdate(session_factory, august, datetime(2026, 8, 20, 12, tzinfo=UTC))
    # 02:00 UTC on October 1st is still September 30th in New York.
    september = await issued_invoice(
        session_factory, north, [("70.00", date(2026, 10, 15))], student=north.other_student
    )
    await pay(staff, north.other_student, "25.00")
    await backdate(session_factory, september, datetime(2026, 10, 1, 2, tzinfo=UTC))
    found = await analytics(staff, north, date(2026, 11, 20))
    assert found["byMonth"] == [
        {"month": "2026-08", "billed": "40.00", "collected": "40.00"},
        {"month": "2026-09", "billed": "70.00", "collected": "25.00"},
        {"month": "2026-10", "billed": ZERO, "collected": ZERO},
        {"month": "2026-11", "billed": ZERO, "collected": ZERO},
    ]
    assert (found["billed"], found["collected"], found["outstanding"]) == ("110.00", "65.00", "45.00")
    before = await analytics(staff, north, date(2026, 9, 30))
    assert before["byMonth"][-1] == {"month": "2026-09", "billed": "70.00", "collected": "25.00"}
    assert (before["billed"], before["collected"]) == ("110.00", "65.00"), "New York's September 30th"


async def test_the_forecast_applies_the_trailing_collection_rate_to_what_falls_due(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    day = today()
    staff = gql.as_user(factory.token(north.staff))
    past = [("100.00", day - timedelta(days=10 + 12 * n)) for n in range(6)]
    await issued_invoice(session_factory, north, past)
    first, second, third = forecast_months(day)
    coming = [("200.00", first + timedelta(days=3)), ("50.50", third), ("10.00", third + timedelta(days=27))]
    await issued_invoice(session_factory, north, coming, student=north.other_student)
    scholarship_id = await created_id(staff, scholarship_input(north))
    assert (await award(staff, scholarship_id, north.student, amount="100.00"))["userErrors"] == []
    await pay(staff, north.student, "375.00")
    await pay(staff, north.other_student, "10.00")
    found = (await analytics(staff, north))["forecast"]
    assert found["method"] == "TRAILING_3_MONTH_COLLECTION_RATE"
    explanation = found["explanation"]
    assert "rate 75.0%: of the 500.00 that 5 lines" in explanation, (
        "the line the award paid has nothing payable"
    )
    assert "payments had collected 375.00" in explanation
    assert found["months"] == [
        {"month": month_label(first), "dueAmount": "190.00", "expectedCollections": "142.50"},
        {"month": month_label(second), "dueAmount": ZERO, "expectedCollections": ZERO},
        {"month": month_label(third), "dueAmount": "60.50", "expectedCollections": "45.38"},
    ]


async def test_too_little_history_is_said_and_not_guessed(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    day = today()
    staff = gql.as_user(factory.token(north.staff))
    first = forecast_months(day)[0]
    await issued_invoice(session_factory, north, [("100.00", day - timedelta(days=5 + n)) for n in range(4)])
    await issued_invoice(session_factory, north, [("80.00", first)], student=north.other_student)
    await pay(staff, north.student, "400.00")
    found = (await analytics(staff, north))["forecast"]
    assert found["method"] == "TRAILING_3_MONTH_COLLECTION_RATE"
    assert found["explanation"].startswith("Too little history: 4 line(s)")
    assert found["months"][0] == {
        "month": month_label(first),
        "dueAmount": "80.00",
        "expectedCollections": None,
    }
    assert [month["expectedCollections"] for month in found["months"]] == [None] * 3


async def test_only_staff_and_admins_of_the_terms_school(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await mixed_term(gql, factory, north, session_factory)
    variables = {"termId": term_id(north)}
    for user in (north.teacher, north.mentor, north.guardian, north.student):
        refused = await gql.as_user(factory.token(user)).execute(ANALYTICS, variables)
        assert refused["data"] is None, user.name
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.name
    anonymous = await gql.execute(ANALYTICS, variables)
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    south = await factory.school("south")
    theirs = await gql.as_user(factory.token(south.admin)).execute(ANALYTICS, variables)
    missing = await gql.as_user(factory.token(south.admin)).execute(
        ANALYTICS, {"termId": encode_id("Term", 10**6)}
    )
    for answer in (theirs, missing):
        assert answer["data"] is None
        assert [(e["message"], e["extensions"]["code"]) for e in answer["errors"]] == [
            ("Not found, or not yours to see.", "FORBIDDEN")
        ]
    own = await analytics(gql.as_user(factory.token(south.admin)), south)
    assert (own["billed"], own["invoiceCount"]) == (ZERO, 0), "south's own term sees none of north's money"


async def billed_students(
    gql: GraphQLClient,
    factory: Factory,
    school: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
    count: int,
) -> None:
    """`count` students each billed three lines (one late), paying part; every third awarded."""
    day = today()
    staff = gql.as_user(factory.token(school.staff))
    students = await factory.students(school, [f"Billed {n}" for n in range(count)])
    scholarship_id = await created_id(staff, scholarship_input(school, budget="100000.00", amount="15.00"))
    for n, student in enumerate(students):
        lines = [
            ("40.00", day - timedelta(days=20)),
            ("60.00", day + timedelta(days=20)),
            ("25.00", day + timedelta(40)),
        ]
        await issued_invoice(session_factory, school, lines, student=student)
        await pay(staff, student, f"{30 + n}.00")
        if n % 3 == 0:
            assert (await award(staff, scholarship_id, student))["userErrors"] == []


async def test_the_statement_count_does_not_grow_with_students(
    gql: GraphQLClient,
    factory: Factory,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    small, large = await factory.school("small"), await factory.school("large")
    await billed_students(gql, factory, small, session_factory, 2)
    await billed_students(gql, factory, large, session_factory, 15)
    counts = []
    for school in (small, large):
        async with metered_client(settings) as http:
            counts.append(
                await statements(http, factory.token(school.staff), ANALYTICS, {"termId": term_id(school)})
            )
    assert counts[0] == counts[1], counts
    assert counts[0] <= 10, counts
