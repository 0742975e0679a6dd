"""Running the payment reminder rules (runPaymentReminders, and the worker's hourly loop) and each
invoice's reminder history.

As of a moment (`as_of`, the school's calendar day then), each active rule of a school calls for
a reminder of every open invoice (ISSUED or PARTIALLY_PAID) and due date whose lines still owe
something: BEFORE_DUE from `days` before the due date until the due date itself, OVERDUE from
`days` after it on (0: from the due date). An invoice's lines of one due date make one reminder,
of what they still owe together.

Each reminder is sent once per invoice, rule and due date, however often and on however many
processes the run repeats: the rows are inserted with INSERT ... ON CONFLICT DO NOTHING on
`uq_payment_reminders_once`, RETURNING only the rows this transaction inserted, and only those
are sent, in the same transaction: in-app (kind "payment_reminder") and, when the rule says so,
by e-mail, to the student and their guardians, through the communications delivery
(resolvers/copies.py: the recipients' FINANCE switches, addresses and quiet hours; the outbox
sends the e-mails). A concurrent run's INSERT of the same key waits for this one's commit and then
inserts nothing; rows go in key order, so two runs never wait for each other in a cycle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from context import Context
from errors import Forbidden
from models import (
    Allocation,
    GuardianLink,
    Invoice,
    InvoiceLine,
    PaymentReminder,
    PaymentReminderRule,
    School,
    User,
)
from models.base import utcnow
from models.enums import CommunicationChannel, NotificationCategory, ReminderTrigger, UserStatus
from models.upsert import upsert_insert
from resolvers import audit
from resolvers.copies import NewCopy, announce_copies, make_copies
from resolvers.finance.access import require_finance_admin, require_finance_staff
from resolvers.finance.invoices import school_today
from resolvers.finance.lines import OPEN_STATUSES, ZERO
from resolvers.ids import decode_id_of
from resolvers.pagination import Page, newest_first, page_size
from resolvers.policy import NOT_VISIBLE

if TYPE_CHECKING:
    from context import AppState

KIND = "payment_reminder"
CHUNK = 500  # rows per INSERT, ids per IN (well under both databases' bound parameter limits)


@dataclass(frozen=True)
class Owed:
    """What an open invoice's lines of one due date still owe."""

    invoice_id: int
    student_id: int
    number: str
    currency: str
    due_date: date
    amount_due: Decimal


@dataclass(frozen=True)
class RunResult:
    as_of: datetime
    reminders: list[PaymentReminder]

    @property
    def sent_count(self) -> int:
        return len(self.reminders)


def calls_for(rule: PaymentReminderRule, due_date: date, today: date) -> bool:
    """Whether `rule` reminds, on `today`, of a line due on `due_date` (see the module's docstring)."""
    if rule.trigger is ReminderTrigger.BEFORE_DUE:
        return due_date - timedelta(days=rule.days) <= today <= due_date
    return today >= due_date + timedelta(days=rule.days)


def _due_dates(rules: Sequence[PaymentReminderRule], today: date) -> tuple[date | None, date]:
    """The earliest (None: any, with an OVERDUE rule) and latest due dates `rules` remind of today."""
    latest = max(
        today + timedelta(days=rule.days)
        if rule.trigger is ReminderTrigger.BEFORE_DUE
        else today - timedelta(days=rule.days)
        for rule in rules
    )
    overdue = any(rule.trigger is ReminderTrigger.OVERDUE for rule in rules)
    return (None if overdue else today), latest


async def run_payment_reminders(ctx: Context, as_of: datetime | None) -> RunResult:
    """Admins: the reminders of the caller's school that are due as of `as_of` (None: now)."""
    user = require_finance_admin(ctx)
    moment = _aware(as_of) if as_of is not None else utcnow()
    async with ctx.session_factory() as session:
        school = await session.get_one(School, user.school_id)
    return await _run_school(ctx, school, moment)


async def remind_every_school(state: AppState, *, now: datetime | None = None) -> int:
    """The worker's run: every school with an active rule, as of now; how many reminders it sent.
    Any number of processes may run it at once (see the module's docstring)."""
    moment = now or utcnow()
    async with state.session_factory() as session:
        schools = list(
            await session.scalars(
                select(School)
                .where(
                    School.id.in_(
                        select(PaymentReminderRule.school_id).where(PaymentReminderRule.active.is_(True))
                    )
                )
                .order_by(School.id)
            )
        )
    ctx = Context(app=state, request=None, response=None)
    sent = 0
    for school in schools:
        sent += (await _run_school(ctx, school, moment)).sent_count
    return sent


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _run_school(ctx: Context, school: School, as_of: datetime) -> RunResult:
    """One transaction: the school's due reminders claimed, their copies made, the run audited;
    the recipients told after commit."""
    today = school_today(school.timezone, as_of)
    now = utcnow()
    async with ctx.writer.begin() as session:
        rules = list(
            await session.scalars(
                select(PaymentReminderRule)
                .where(PaymentReminderRule.school_id == school.id, PaymentReminderRule.active.is_(True))
                .order_by(PaymentReminderRule.id)
            )
        )
        if not rules:
            return RunResult(as_of, [])
        owed = await _owed(session, school.id, *_due_dates(rules, today))
        due = [(rule, item) for item in owed for rule in rules if calls_for(rule, item.due_date, today)]
        if not due:
            return RunResult(as_of, [])
        recipients = await _recipients(session, school.id, {item.student_id for _, item in due})
        claimed = await _claim(session, school.id, due, recipients, as_of, now)
        if not claimed:
            return RunResult(as_of, [])
        made = await make_copies(session, ctx.settings, _copies(school, claimed, due), now=now)
        audit.record(
            session, ctx, "payment_reminders.sent", "School", school.id, school_id=school.id,
            detail={
                "asOf": as_of.isoformat(),
                "sentCount": len(claimed),
                "reminderIds": [reminder.id for reminder in claimed][:100],
            },
        )  # fmt: skip
    await announce_copies(ctx.bus, made)
    return RunResult(as_of, claimed)


async def _owed(session: AsyncSession, school_id: int, earliest: date | None, latest: date) -> list[Owed]:
    """What the school's open invoices still owe per due date, for due dates from `earliest`
    (None: any) to `latest`."""
    covered = (
        select(func.coalesce(func.sum(Allocation.amount), 0))
        .where(Allocation.invoice_line_id == InvoiceLine.id)
        .correlate(InvoiceLine)
        .scalar_subquery()
    )
    query = (
        select(
            Invoice.id,
            Invoice.student_id,
            Invoice.number,
            Invoice.currency,
            InvoiceLine.due_date,
            InvoiceLine.amount,
            covered,
        )
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            Invoice.school_id == school_id,
            Invoice.status.in_(OPEN_STATUSES),
            InvoiceLine.due_date <= latest,
            InvoiceLine.amount > covered,
        )
        .order_by(Invoice.id, InvoiceLine.due_date)
    )
    if earliest is not None:
        query = query.where(InvoiceLine.due_date >= earliest)
    rows = await session.execute(query)
    owed: dict[tuple[int, date], Owed] = {}
    for invoice_id, student_id, number, currency, due_date, amount, settled in rows.all():
        earlier = owed.get((invoice_id, due_date))
        owed[(invoice_id, due_date)] = Owed(
            invoice_id, student_id, number, currency, due_date,
            amount - settled + (earlier.amount_due if earlier else ZERO),
        )  # fmt: skip
    return list(owed.values())


async def _recipients(session: AsyncSession, school_id: int, student_ids: set[int]) -> dict[int, list[int]]:
    """Each student's recipients, the student first, then their guardians; deactivated accounts
    get nothing (a deactivated student's guardians still do)."""
    ids = sorted(student_ids)
    found: dict[int, list[int]] = {student_id: [] for student_id in ids}
    for offset in range(0, len(ids), CHUNK):
        chunk = ids[offset : offset + CHUNK]
        live = set(
            await session.scalars(
                select(User.id).where(User.id.in_(chunk), User.status != UserStatus.DEACTIVATED)
            )
        )
        for student_id in chunk:
            if student_id in live:
                found[student_id].append(student_id)
        guardians = await session.execute(
            select(GuardianLink.student_id, GuardianLink.guardian_id)
            .join(User, User.id == GuardianLink.guardian_id)
            .where(
                GuardianLink.student_id.in_(chunk),
                User.school_id == school_id,
                User.status != UserStatus.DEACTIVATED,
            )
            .order_by(GuardianLink.student_id, GuardianLink.guardian_id)
        )
        for student_id, guardian_id in guardians.all():
            found[student_id].append(guardian_id)
    return found


def _channels(rule: PaymentReminderRule) -> list[str]:
    channels = [CommunicationChannel.IN_APP]
    if rule.send_email:
        channels.append(CommunicationChannel.EMAIL)
    return [channel.value for channel in channels]


async def _claim(
    session: AsyncSession,
    school_id: int,
    due: Sequence[tuple[PaymentReminderRule, Owed]],
    recipients: dict[int, list[int]],
    as_of: datetime,
    now: datetime,
) -> list[PaymentReminder]:
    """The reminders of `due` that no run made before: inserted, in key order, unless their key
    exists (or is being inserted by a concurrent run, which this waits for)."""
    rows: list[dict[str, Any]] = sorted(
        (
            {
                "school_id": school_id,
                "invoice_id": item.invoice_id,
                "rule_id": rule.id,
                "due_date": item.due_date,
                "amount_due": item.amount_due,
                "channels": _channels(rule),
                "recipient_ids": recipients[item.student_id],
                "as_of": as_of,
                "sent_at": now,
            }
            for rule, item in due
        ),
        key=lambda row: (row["invoice_id"], row["rule_id"], row["due_date"]),
    )
    claimed: list[PaymentReminder] = []
    for offset in range(0, len(rows), CHUNK):
        statement = (
            upsert_insert(session, PaymentReminder)
            .values(rows[offset : offset + CHUNK])
            .on_conflict_do_nothing(index_elements=["invoice_id", "rule_id", "due_date"])
            .returning(PaymentReminder)
        )
        claimed += list(await session.scalars(statement, execution_options={"populate_existing": True}))
    return sorted(claimed, key=lambda reminder: reminder.id)


def _copies(
    school: School, claimed: Sequence[PaymentReminder], due: Sequence[tuple[PaymentReminderRule, Owed]]
) -> list[NewCopy]:
    rules = {rule.id: rule for rule, _ in due}
    owed = {(item.invoice_id, item.due_date): item for _, item in due}
    copies = []
    for reminder in claimed:
        rule, item = rules[reminder.rule_id], owed[(reminder.invoice_id, reminder.due_date)]
        title, body = _text(rule, item)
        channels = tuple(CommunicationChannel(channel) for channel in reminder.channels)
        copies += [
            NewCopy(
                school_id=school.id,
                recipient_id=recipient_id,
                kind=KIND,
                category=NotificationCategory.FINANCE,
                title=title,
                body=body,
                language="en",
                channels=channels,
                student_id=item.student_id,
            )
            for recipient_id in reminder.recipient_ids
        ]
    return copies


def _text(rule: PaymentReminderRule, item: Owed) -> tuple[str, str]:
    """The reminder's title and body: the invoice's number, the amount due and its date, and the
    rule's own message when it has one."""
    amount = f"{item.amount_due} {item.currency}"
    if rule.trigger is ReminderTrigger.BEFORE_DUE:
        title = f"Payment due {item.due_date.isoformat()}: invoice {item.number}"
        body = f"Invoice {item.number}: {amount} is due on {item.due_date.isoformat()}."
    else:
        title = f"Payment overdue: invoice {item.number}"
        body = f"Invoice {item.number}: {amount} was due on {item.due_date.isoformat()} and is still unpaid."
    if rule.message:
        body = f"{body}\n\n{rule.message}"
    return title, body


async def invoice_reminders(
    ctx: Context, invoice_global_id: str, first: int | None, after: str | None
) -> Page[PaymentReminder]:
    """The reminders sent for one of the school's invoices, newest first (staff/admin)."""
    user = require_finance_staff(ctx)
    limit = page_size(first, ctx.settings.max_page_size)
    invoice = await ctx.loaders.invoice_by_id.load(decode_id_of(invoice_global_id, "Invoice"))
    if invoice is None or invoice.school_id != user.school_id:
        raise Forbidden(NOT_VISIBLE)
    query = select(PaymentReminder).where(PaymentReminder.invoice_id == invoice.id)
    async with ctx.session_factory() as session:
        page: Page[PaymentReminder] = await newest_first(session, query, PaymentReminder.id, limit, after)
    return page
