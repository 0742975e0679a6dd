"""runPaymentReminders and paymentReminders through the contract's operations, and the worker's
hourly loop: each reminder is sent once per invoice, rule and due date however often the run
repeats (concurrently too), in-app and by e-mail to the student and their guardians through the
communications delivery (their FINANCE switches respected); the BEFORE_DUE and OVERDUE windows
hold at their edges in the school's time zone; paid, draft and void lines and switched-off rules
send nothing; admins only run it, staff and admins read the history, another school's invoice is
answered like a missing one; every run that sends is audited.

Every date here is years ahead: the app's own hourly loop (which runs as of now at start) finds
none of these lines due."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from auth.identity import CurrentUser
from config import Settings
from context import AppState, Context, build_state, close_state
from models import (
    AuditEntry,
    Communication,
    Delivery,
    Invoice,
    Notification,
    PaymentReminder,
    PaymentReminderRule,
    School,
    User,
)
from models.enums import (
    CommunicationChannel,
    DeliveryStatus,
    InvoiceStatus,
    NotificationCategory,
    ReminderTrigger,
    SkipReason,
    UserStatus,
)
from models.preferences import NotificationSwitch
from resolvers.delivery.outbox import deliver_due
from resolvers.finance.invoices import school_today
from resolvers.finance.reminder_rules import NewRule, create_rule
from resolvers.finance.reminders import remind_every_school, run_payment_reminders
from resolvers.ids import decode_id, encode_id
from tests.clients import GraphQLClient
from tests.contract.documents import contract_operation
from tests.factories import Factory, SchoolData
from tests.resolvers.finance.payments_helper import issued_invoice
from tests.resolvers.finance.test_payments import payment_input, record
from tests.resolvers.finance.test_reminder_rules import create
from tests.smtp_sink import SmtpSink
from tests.statements import statements
from worker import remind_payments_forever

RUN = contract_operation("RunPaymentReminders")
HISTORY = contract_operation("PaymentReminders")
UPDATE = contract_operation("UpdatePaymentReminderRule")
AUDIT = contract_operation("FinanceAuditTrail")
DUE = date(2031, 3, 10)


@pytest.fixture
async def north(factory: Factory) -> SchoolData:
    return await factory.school("north")


@pytest.fixture
async def state(settings: Settings) -> AsyncIterator[AppState]:
    app_state = build_state(settings)
    await app_state.bus.connect()
    yield app_state
    await close_state(app_state)


def at(day: date, hour: int = 12) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).isoformat()


async def run(client: GraphQLClient, as_of: str | None) -> dict[str, Any]:
    payload: dict[str, Any] = (await client.data(RUN, {"input": {"asOf": as_of}}))["runPaymentReminders"]
    return payload


async def sent(session_factory: async_sessionmaker[AsyncSession]) -> list[tuple[int, int, date]]:
    """The reminders in the database: (invoice id, rule id, due date)."""
    async with session_factory() as session:
        rows = await session.execute(
            select(PaymentReminder.invoice_id, PaymentReminder.rule_id, PaymentReminder.due_date).order_by(
                PaymentReminder.id
            )
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def deliveries(session_factory: async_sessionmaker[AsyncSession]) -> list[tuple[Any, ...]]:
    """(recipient, channel, status, skip reason, address) of every delivery, oldest first."""
    async with session_factory() as session:
        rows = await session.execute(
            select(
                Communication.recipient_id,
                Delivery.channel,
                Delivery.status,
                Delivery.skip_reason,
                Delivery.address,
            )
            .join(Communication, Communication.id == Delivery.communication_id)
            .order_by(Delivery.id)
        )
        return [tuple(row) for row in rows.all()]


def pk_of(global_id: str) -> int:
    return decode_id(global_id)[1]


async def test_a_reminder_run_repeated_three_times_sends_each_reminder_once(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    invoice = await issued_invoice(session_factory, north, [("60.00", DUE), ("40.00", DUE)])
    admin = gql.as_user(factory.token(north.admin))
    rule = (await create(admin, name="A week before", days=7, sendEmail=True, message="Pay at the office."))[
        "rule"
    ]
    first = await run(admin, at(DUE - timedelta(days=5)))
    assert first["userErrors"] == []
    assert (first["sentCount"], first["asOf"]) == (1, "2031-03-05T12:00:00+00:00")
    [reminder] = first["reminders"]
    assert reminder["invoice"] == {"id": encode_id("Invoice", invoice.id), "number": invoice.number}
    assert reminder["rule"] == {"id": rule["id"], "name": "A week before"}
    assert (reminder["dueDate"], reminder["amountDue"], reminder["channels"]) == (
        "2031-03-10",
        "100.00",
        ["IN_APP", "EMAIL"],
    ), "the invoice's lines of one due date make one reminder"
    for _ in range(2):
        again = await run(admin, at(DUE - timedelta(days=4)))
        assert (again["sentCount"], again["reminders"]) == (0, [])

    async with session_factory() as session:
        notes = (
            await session.execute(
                select(Notification.user_id, Notification.kind, Notification.title).order_by(Notification.id)
            )
        ).all()
        bodies = list(await session.scalars(select(Communication.body).order_by(Communication.id)))
        categories = set(await session.scalars(select(Communication.category)))
    title = f"Payment due 2031-03-10: invoice {invoice.number}"
    assert sorted(notes) == sorted(
        [(north.student.id, "payment_reminder", title), (north.guardian.id, "payment_reminder", title)]
    )
    assert bodies == [f"Invoice {invoice.number}: 100.00 USD is due on 2031-03-10.\n\nPay at the office."] * 2
    assert categories == {NotificationCategory.FINANCE}
    emails = [row for row in await deliveries(session_factory) if row[1] is CommunicationChannel.EMAIL]
    assert sorted(emails) == sorted(
        [
            (north.student.id, CommunicationChannel.EMAIL, DeliveryStatus.QUEUED, None, north.student.email),
            (
                north.guardian.id,
                CommunicationChannel.EMAIL,
                DeliveryStatus.QUEUED,
                None,
                north.guardian.email,
            ),
        ]
    ), "one e-mail in the outbox per recipient"

    history = (await admin.data(HISTORY, {"invoiceId": encode_id("Invoice", invoice.id)}))["paymentReminders"]
    assert history["totalCount"] == 1
    [node] = history["nodes"]
    assert node["id"] == reminder["id"]
    assert (node["asOf"], node["dueDate"], node["amountDue"], node["channels"]) == (
        "2031-03-05T12:00:00+00:00",
        "2031-03-10",
        "100.00",
        ["IN_APP", "EMAIL"],
    )
    assert node["rule"] == {"id": rule["id"], "name": "A week before", "trigger": "BEFORE_DUE", "days": 7}
    assert node["recipients"] == [
        {"id": encode_id("User", north.student.id), "name": north.student.name},
        {"id": encode_id("User", north.guardian.id), "name": north.guardian.name},
    ]
    assert node["sentAt"]

    school_id = encode_id("School", north.school.id)
    trail = (await admin.data(AUDIT, {"subjectId": school_id}))["auditLog"]["nodes"]
    assert [(n["action"], n["detail"]["sentCount"], n["actorId"]) for n in trail] == [
        ("payment_reminders.sent", 1, encode_id("User", north.admin.id))
    ], "runs that sent nothing wrote nothing"
    assert trail[0]["detail"]["reminderIds"] == [pk_of(reminder["id"])]


async def test_the_windows_hold_at_their_edges_in_the_schools_time_zone(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    async with session_factory.begin() as session:
        await session.execute(
            update(School).where(School.id == north.school.id).values(timezone="America/New_York")
        )
    today = DUE
    invoices = {
        offset: await issued_invoice(session_factory, north, [("10.00", today + timedelta(days=offset))])
        for offset in (4, 3, 0, -1, -2, -3, -30)
    }
    admin = gql.as_user(factory.token(north.admin))
    before = pk_of((await create(admin, name="Three days before", days=3))["rule"]["id"])
    overdue = pk_of((await create(admin, name="Two days late", trigger="OVERDUE", days=2))["rule"]["id"])
    on_the_day = pk_of((await create(admin, name="On the day", trigger="OVERDUE", days=0))["rule"]["id"])
    # 03:00 UTC on the 11th is still the 10th in New York.
    result = await run(admin, datetime(2031, 3, 11, 3, tzinfo=UTC).isoformat())
    assert result["sentCount"] == 10
    assert set(await sent(session_factory)) == {
        (invoices[3].id, before, today + timedelta(days=3)),
        (invoices[0].id, before, today),
        *(
            (invoices[offset].id, on_the_day, today + timedelta(days=offset))
            for offset in (0, -1, -2, -3, -30)
        ),
        *((invoices[offset].id, overdue, today + timedelta(days=offset)) for offset in (-2, -3, -30)),
    }, "BEFORE_DUE 3: from 3 days before until the due date; OVERDUE 2: from 2 days after it on"


async def test_paid_draft_and_void_lines_are_not_reminded(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    paid = await issued_invoice(session_factory, north, [("50.00", DUE)])
    part = await issued_invoice(session_factory, north, [("30.00", DUE), ("70.00", DUE + timedelta(days=1))])
    await issued_invoice(session_factory, north, [("20.00", DUE)], status=InvoiceStatus.DRAFT)
    await issued_invoice(session_factory, north, [("20.00", DUE)], status=InvoiceStatus.VOID)
    staff = gql.as_user(factory.token(north.staff))
    allocations = [
        {"invoiceId": encode_id("Invoice", paid.id), "amount": "50.00"},
        {"invoiceId": encode_id("Invoice", part.id), "amount": "45.00"},
    ]
    assert (await record(staff, payment_input(north, "95.00", allocations=allocations)))["userErrors"] == []
    admin = gql.as_user(factory.token(north.admin))
    await create(admin, name="Late", trigger="OVERDUE", days=1)
    result = await run(admin, at(DUE + timedelta(days=5)))
    assert sorted((r["invoice"]["number"], r["dueDate"], r["amountDue"]) for r in result["reminders"]) == [
        (part.number, "2031-03-11", "55.00")
    ], "the paid invoice and the paid line are not reminded; the open one of what it still owes"


async def test_a_switched_off_rule_does_not_run(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    invoice = await issued_invoice(session_factory, north, [("80.00", DUE)])
    admin = gql.as_user(factory.token(north.admin))
    rule_id = (await create(admin, trigger="OVERDUE", days=0))["rule"]["id"]
    off = await admin.data(UPDATE, {"input": {"ruleId": rule_id, "active": False}})
    assert off["updatePaymentReminderRule"]["rule"]["active"] is False
    assert (await run(admin, at(DUE)))["sentCount"] == 0
    assert await sent(session_factory) == []
    await admin.data(UPDATE, {"input": {"ruleId": rule_id, "active": True}})
    assert (await run(admin, at(DUE)))["sentCount"] == 1
    await admin.data(UPDATE, {"input": {"ruleId": rule_id, "active": False}})
    history = (await admin.data(HISTORY, {"invoiceId": encode_id("Invoice", invoice.id)}))["paymentReminders"]
    assert history["totalCount"] == 1, "reminders sent stay in the history when the rule is off"


async def test_recipients_finance_switches_and_accounts_are_respected(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    await issued_invoice(session_factory, north, [("25.00", DUE)])
    await issued_invoice(session_factory, north, [("25.00", DUE)], student=north.other_student)
    async with session_factory.begin() as session:
        session.add_all(
            [
                NotificationSwitch(
                    user_id=north.guardian.id,
                    category=NotificationCategory.FINANCE,
                    channel=CommunicationChannel.EMAIL,
                    enabled=False,
                ),
                NotificationSwitch(
                    user_id=north.student.id,
                    category=NotificationCategory.FINANCE,
                    channel=CommunicationChannel.IN_APP,
                    enabled=False,
                ),
            ]
        )
        await session.execute(
            update(User).where(User.id == north.other_student.id).values(status=UserStatus.DEACTIVATED)
        )
    admin = gql.as_user(factory.token(north.admin))
    await create(admin, days=0, sendEmail=True)
    result = await run(admin, at(DUE))
    assert result["sentCount"] == 2, "a deactivated student's invoice is recorded, sent to nobody"
    async with session_factory() as session:
        notified = list(await session.scalars(select(Notification.user_id)))
    assert notified == [north.guardian.id]
    skipped, queued, delivered = DeliveryStatus.SKIPPED, DeliveryStatus.QUEUED, DeliveryStatus.DELIVERED
    off = SkipReason.PREFERENCE_OFF
    in_app, email = CommunicationChannel.IN_APP, CommunicationChannel.EMAIL
    assert sorted(await deliveries(session_factory), key=repr) == sorted(
        [
            (north.student.id, in_app, skipped, off, None),
            (north.student.id, email, queued, None, north.student.email),
            (north.guardian.id, in_app, delivered, None, None),
            (north.guardian.id, email, skipped, off, None),
        ],
        key=repr,
    )


async def test_only_admins_run_and_staff_read_the_history_of_their_own_schools_invoices(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    ours = await issued_invoice(session_factory, north, [("10.00", DUE)])
    theirs = await issued_invoice(session_factory, south, [("10.00", DUE)])
    await create(gql.as_user(factory.token(north.admin)), trigger="OVERDUE", days=0)
    await create(gql.as_user(factory.token(south.admin)), trigger="OVERDUE", days=0)
    for user in (north.staff, north.teacher, north.mentor, north.guardian, north.student):
        refused = await gql.as_user(factory.token(user)).execute(RUN, {"input": {"asOf": at(DUE)}})
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.name
    assert (await gql.execute(RUN, {"input": {}}))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert await sent(session_factory) == []

    result = await run(gql.as_user(factory.token(north.admin)), at(DUE))
    assert [r["invoice"]["number"] for r in result["reminders"]] == [ours.number]
    assert {invoice_id for invoice_id, _, _ in await sent(session_factory)} == {ours.id}, "not south's"

    ours_id, theirs_id = encode_id("Invoice", ours.id), encode_id("Invoice", theirs.id)
    staff = gql.as_user(factory.token(north.staff))
    assert (await staff.data(HISTORY, {"invoiceId": ours_id}))["paymentReminders"]["totalCount"] == 1
    for missing in (theirs_id, encode_id("Invoice", 99999)):
        answer = await staff.execute(HISTORY, {"invoiceId": missing})
        assert answer["data"] is None
        assert [(e["extensions"]["code"], e["message"]) for e in answer["errors"]] == [
            ("FORBIDDEN", "Not found, or not yours to see.")
        ], "another school's invoice is answered like a missing one"
    for user in (north.student, north.teacher, north.guardian):
        answer = await gql.as_user(factory.token(user)).execute(HISTORY, {"invoiceId": ours_id})
        assert answer["errors"][0]["extensions"]["code"] == "FORBIDDEN", user.name


async def test_the_history_is_newest_first_and_paginated(
    gql: GraphQLClient, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    invoice = await issued_invoice(
        session_factory, north, [("10.00", DUE), ("20.00", DUE + timedelta(days=1))]
    )
    admin = gql.as_user(factory.token(north.admin))
    for days in (0, 1, 2):
        await create(admin, name=f"{days} days late", trigger="OVERDUE", days=days)
    assert (await run(admin, at(DUE + timedelta(days=3))))["sentCount"] == 6
    invoice_id = encode_id("Invoice", invoice.id)
    seen: list[str] = []
    after = None
    while True:
        page = (await admin.data(HISTORY, {"invoiceId": invoice_id, "first": 4, "after": after}))[
            "paymentReminders"
        ]
        assert page["totalCount"] == 6
        seen += [node["id"] for node in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 6
    assert [pk_of(node_id) for node_id in seen] == sorted((pk_of(n) for n in seen), reverse=True)


async def test_concurrent_runs_send_each_reminder_once(
    state: AppState, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    for offset in range(5):
        await issued_invoice(session_factory, north, [("10.00", DUE + timedelta(days=offset))])
    admin = Context(app=state, request=None, response=None, user=CurrentUser.from_model(north.admin))
    await create_rule(admin, NewRule("Late", ReminderTrigger.OVERDUE, 0, send_email=True))
    as_of = datetime(2031, 4, 1, tzinfo=UTC)
    results = await asyncio.gather(*(run_payment_reminders(admin, as_of) for _ in range(6)))
    assert sorted(result.sent_count for result in results) == [0, 0, 0, 0, 0, 5]
    assert len(await sent(session_factory)) == 5
    async with session_factory() as session:
        notes = await session.scalar(select(func.count()).select_from(Notification))
        emails = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.channel == CommunicationChannel.EMAIL)
        )
    assert (notes, emails) == (10, 10), "the student and the guardian, once per reminder"


async def test_the_worker_reminds_every_school_as_of_now_once(
    state: AppState, factory: Factory, north: SchoolData, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    south = await factory.school("south")
    for school in (north, south):
        today = school_today("UTC")
        await issued_invoice(session_factory, school, [("15.00", today + timedelta(days=2))])
        await issued_invoice(session_factory, school, [("15.00", today + timedelta(days=20))])
        async with session_factory.begin() as session:
            session.add(
                PaymentReminderRule(
                    school_id=school.school.id, name="Soon", trigger=ReminderTrigger.BEFORE_DUE, days=5
                )
            )
    stop = asyncio.Event()
    rounds: list[None] = []
    loop = asyncio.create_task(
        remind_payments_forever(state, stop, health=lambda: rounds.append(None), every=0.05)
    )
    try:
        for _ in range(200):
            if len(rounds) >= 3:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(loop, 10)
    assert len(rounds) >= 3, "the loop keeps running, round after round"
    found = await sent(session_factory)
    async with session_factory() as session:
        invoices = dict((await session.execute(select(Invoice.id, Invoice.school_id))).all())
    assert sorted(invoices[invoice_id] for invoice_id, _, _ in found) == sorted(
        [north.school.id, south.school.id]
    ), "each school's invoice due in two days, once; the one due in twenty days not yet"
    assert await remind_every_school(state) == 0
    async with session_factory() as session:
        audited = list(
            await session.scalars(
                select(AuditEntry.actor_id).where(AuditEntry.action == "payment_reminders.sent")
            )
        )
    assert audited == [None, None], "the worker's runs are audited, with no actor"


async def test_the_reminder_emails_go_out_over_smtp_once(
    settings: Settings, sink: SmtpSink, factory: Factory, north: SchoolData
) -> None:
    invoice = await issued_invoice(factory.session_factory, north, [("42.50", DUE)])
    mail = build_state(settings.model_copy(update=sink.settings()))
    await mail.bus.connect()
    try:
        admin = Context(app=mail, request=None, response=None, user=CurrentUser.from_model(north.admin))
        await create_rule(admin, NewRule("Late", ReminderTrigger.OVERDUE, 3, send_email=True))
        for _ in range(3):
            await run_payment_reminders(admin, datetime(2031, 3, 20, tzinfo=UTC))
            await deliver_due(mail)
    finally:
        await close_state(mail)
    assert sorted(message["To"] for message in sink.messages) == sorted(
        [north.student.email, north.guardian.email]
    )
    for message in sink.messages:
        assert message["Subject"] == f"Payment overdue: invoice {invoice.number}"
        text = message.get_body(("plain",))
        assert text is not None
        assert text.get_content().strip() == (
            f"Invoice {invoice.number}: 42.50 USD was due on 2031-03-10 and is still unpaid."
        )


async def test_a_run_and_the_history_cost_the_same_statements_however_many_reminders(
    metered: httpx.AsyncClient,
    factory: Factory,
    north: SchoolData,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    admin = factory.token(north.admin)
    gql = GraphQLClient(metered, admin)
    await create(gql, trigger="OVERDUE", days=0, sendEmail=True)
    one = await issued_invoice(session_factory, north, [("10.00", DUE)])
    few_run = await statements(metered, admin, RUN, {"input": {"asOf": at(DUE)}})
    later = DUE + timedelta(days=40)
    many = [
        await issued_invoice(session_factory, north, [("10.00", later), ("5.00", later + timedelta(days=1))])
        for _ in range(6)
    ]
    many_run = await statements(metered, admin, RUN, {"input": {"asOf": at(later + timedelta(days=1))}})
    assert many_run == few_run
    assert len(await sent(session_factory)) == 13
    history = [
        await statements(metered, admin, HISTORY, {"invoiceId": encode_id("Invoice", invoice.id)})
        for invoice in (one, many[0])
    ]
    assert history[0] == history[1]
