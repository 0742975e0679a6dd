"""Payment reminder rules (staff/admin): the school's list, createPaymentReminderRule and
updatePaymentReminderRule, each write audited.

A rule reminds of the invoice lines still open from `days` before their due date until it
(BEFORE_DUE), or from `days` after it (OVERDUE); resolvers/finance/reminders.py runs them. A rule
switched off (`active` false) runs no more; the reminders it sent stay in the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from errors import Problem, ProblemError
from models import PaymentReminderRule
from models.base import utcnow
from models.enums import ReminderTrigger
from resolvers import audit
from resolvers.finance.access import require_finance_staff
from resolvers.roster_rules import own_row

if TYPE_CHECKING:
    from context import Context

MAX_NAME = 120  # PaymentReminderRule.name
MAX_MESSAGE = 1000  # PaymentReminderRule.message
MAX_DAYS = 365


@dataclass(frozen=True)
class NewRule:
    name: str
    trigger: ReminderTrigger
    days: int
    send_email: bool = False
    message: str | None = None


@dataclass(frozen=True)
class RuleChanges:
    """updatePaymentReminderRule's input: None leaves a field as it is; an empty message removes it."""

    rule_id: str
    name: str | None = None
    days: int | None = None
    send_email: bool | None = None
    message: str | None = None
    active: bool | None = None


def _problems(name: str | None, days: int | None, message: str | None) -> list[Problem]:
    problems = []
    if name is not None and not 0 < len(name) <= MAX_NAME:
        problems.append(Problem(f"A name of 1 to {MAX_NAME} characters.", "INVALID", ("input", "name")))
    if days is not None and not 0 <= days <= MAX_DAYS:
        problems.append(Problem(f"Days from 0 to {MAX_DAYS}.", "INVALID", ("input", "days")))
    if message is not None and len(message) > MAX_MESSAGE:
        message_problem = f"A message of at most {MAX_MESSAGE} characters."
        problems.append(Problem(message_problem, "INVALID", ("input", "message")))
    return problems


def _detail(rule: PaymentReminderRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "trigger": rule.trigger.value,
        "days": rule.days,
        "sendEmail": rule.send_email,
        "message": rule.message,
        "active": rule.active,
    }


async def list_rules(ctx: Context) -> list[PaymentReminderRule]:
    """The school's rules, oldest first."""
    user = require_finance_staff(ctx)
    async with ctx.session_factory() as session:
        rows = await session.scalars(
            select(PaymentReminderRule)
            .where(PaymentReminderRule.school_id == user.school_id)
            .order_by(PaymentReminderRule.id)
        )
        return list(rows)


async def create_rule(ctx: Context, request: NewRule) -> PaymentReminderRule | list[Problem]:
    user = require_finance_staff(ctx)
    name = request.name.strip()
    message = (request.message or "").strip() or None
    problems = _problems(name, request.days, message)
    if problems:
        return problems
    async with ctx.writer.begin() as session:
        rule = PaymentReminderRule(
            school_id=user.school_id,
            name=name,
            trigger=request.trigger,
            days=request.days,
            send_email=request.send_email,
            message=message,
            active=True,
            created_by_id=user.id,
        )
        session.add(rule)
        await session.flush()
        audit.record(
            session, ctx, "payment_reminder_rule.created", "PaymentReminderRule", rule.id,
            detail=_detail(rule),
        )  # fmt: skip
    return rule


async def update_rule(ctx: Context, changes: RuleChanges) -> PaymentReminderRule | list[Problem]:
    user = require_finance_staff(ctx)
    name = changes.name.strip() if changes.name is not None else None
    message = changes.message.strip() if changes.message is not None else None
    problems = _problems(name, changes.days, message)
    try:
        async with ctx.writer.begin() as session:
            rule = await own_row(
                session, PaymentReminderRule, changes.rule_id, "PaymentReminderRule", user.school_id,
                ("input", "ruleId"),
            )  # fmt: skip
            if problems:
                raise ProblemError(*problems)
            if name is not None:
                rule.name = name
            if changes.days is not None:
                rule.days = changes.days
            if changes.send_email is not None:
                rule.send_email = changes.send_email
            if message is not None:
                rule.message = message or None
            if changes.active is not None:
                rule.active = changes.active
            rule.updated_at = utcnow()
            audit.record(
                session, ctx, "payment_reminder_rule.updated", "PaymentReminderRule", rule.id,
                detail=_detail(rule),
            )  # fmt: skip
    except ProblemError as refused:
        return refused.problems
    return rule


async def rules_by_id(
    session_factory: async_sessionmaker[AsyncSession], rule_ids: list[int]
) -> list[PaymentReminderRule]:
    """A batch of Loaders.batched: rules by id (a reminder names its rule, which is never deleted)."""
    async with session_factory() as session:
        rows = await session.scalars(select(PaymentReminderRule).where(PaymentReminderRule.id.in_(rule_ids)))
        found = {row.id: row for row in rows}
    return [found[pk] for pk in rule_ids]


async def rule_of(ctx: Context, rule_id: int) -> PaymentReminderRule:
    found: PaymentReminderRule = await ctx.loaders.batched(rules_by_id).load(rule_id)
    return found
