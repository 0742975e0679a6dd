"""Payment reminders as the API shows them: the rules (paymentReminderRules, create and update),
runPaymentReminders and an invoice's reminder history (paymentReminders)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from errors import Problem
from models import PaymentReminder as ReminderModel
from models import PaymentReminderRule as RuleModel
from models.enums import CommunicationChannel, ReminderTrigger  # GraphQL enums (schema/enums.py)
from resolvers.finance import reminder_rules, reminders
from resolvers.finance.reminder_rules import NewRule, RuleChanges
from resolvers.ids import encode_id
from schema.base import Connection, Info, Node, UserError, connection_of, user_errors
from schema.users import User

if TYPE_CHECKING:
    from schema.invoices import Invoice

SHOWN = 100  # reminders a run's payload lists


@strawberry.type(description="When to remind of open invoice lines, on which channels, with what message.")
class PaymentReminderRule(Node):
    name: str
    trigger: ReminderTrigger
    days: int = strawberry.field(
        description="BEFORE_DUE: from this many days before the due date until it; OVERDUE: from this "
        "many days after it on."
    )
    send_email: bool
    message: str | None
    active: bool
    created_at: datetime

    @classmethod
    def from_model(cls, rule: RuleModel) -> PaymentReminderRule:
        return cls(
            id=strawberry.ID(encode_id("PaymentReminderRule", rule.id)),
            name=rule.name,
            trigger=rule.trigger,
            days=rule.days,
            send_email=rule.send_email,
            message=rule.message,
            active=rule.active,
            created_at=rule.created_at,
        )


@strawberry.type(description="A reminder sent once for an invoice, a rule and a due date.")
class PaymentReminder(Node):
    due_date: date = strawberry.field(description="The due date reminded of.")
    amount_due: Decimal = strawberry.field(description="What the invoice's lines of that date owed then.")
    sent_at: datetime
    as_of: datetime = strawberry.field(description="The moment the run was for.")
    channels: list[CommunicationChannel]
    row: strawberry.Private[ReminderModel]

    @classmethod
    def from_model(cls, row: ReminderModel) -> PaymentReminder:
        return cls(
            id=strawberry.ID(encode_id("PaymentReminder", row.id)),
            due_date=row.due_date,
            amount_due=row.amount_due,
            sent_at=row.sent_at,
            as_of=row.as_of,
            channels=[CommunicationChannel(channel) for channel in row.channels],
            row=row,
        )

    @strawberry.field
    async def invoice(self, info: Info) -> Annotated[Invoice, strawberry.lazy("schema.invoices")]:
        from schema.invoices import Invoice  # noqa: PLC0415 (schema.invoices reaches schema.payments)

        return Invoice.from_model(await info.context.loaders.invoice_by_id.load_existing(self.row.invoice_id))

    @strawberry.field
    async def rule(self, info: Info) -> PaymentReminderRule:
        return PaymentReminderRule.from_model(await reminder_rules.rule_of(info.context, self.row.rule_id))

    @strawberry.field(description="The student and their guardians it was sent to.")
    async def recipients(self, info: Info) -> list[User]:
        users = await info.context.loaders.user_by_id.load_many(self.row.recipient_ids)
        return [User.from_model(user) for user in users if user is not None]


@strawberry.input
class CreatePaymentReminderRuleInput:
    name: str
    trigger: ReminderTrigger
    days: int = strawberry.field(description="0 to 365.")
    send_email: bool | None = False
    message: str | None = None


@strawberry.input
class UpdatePaymentReminderRuleInput:
    rule_id: strawberry.ID
    name: str | None = None
    days: int | None = None
    send_email: bool | None = None
    message: str | None = strawberry.field(default=None, description="Empty: none.")
    active: bool | None = strawberry.field(default=None, description="false: the rule runs no more.")


@strawberry.input
class RunPaymentRemindersInput:
    as_of: datetime | None = strawberry.field(default=None, description="null: now.")


@strawberry.type
class PaymentReminderRulePayload:
    rule: PaymentReminderRule | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: RuleModel | list[Problem]) -> PaymentReminderRulePayload:
        if isinstance(result, list):
            return cls(rule=None, user_errors=user_errors(result))
        return cls(rule=PaymentReminderRule.from_model(result), user_errors=[])


@strawberry.type
class RunPaymentRemindersPayload:
    sent_count: int
    as_of: datetime | None
    reminders: list[PaymentReminder] = strawberry.field(description=f"Those this run sent (at most {SHOWN}).")
    user_errors: list[UserError]


@strawberry.type
class ReminderQueries:
    @strawberry.field(description="The school's payment reminder rules, oldest first (staff/admin).")
    async def payment_reminder_rules(self, info: Info) -> list[PaymentReminderRule]:
        rules = await reminder_rules.list_rules(info.context)
        return [PaymentReminderRule.from_model(rule) for rule in rules]

    @strawberry.field(description="The reminders sent for an invoice, newest first (staff/admin).")
    async def payment_reminders(
        self, info: Info, invoice_id: strawberry.ID, first: int | None = None, after: str | None = None
    ) -> Connection[PaymentReminder]:
        page = await reminders.invoice_reminders(info.context, str(invoice_id), first, after)
        return connection_of(page, PaymentReminder.from_model)


@strawberry.type
class ReminderMutations:
    @strawberry.mutation(description="A rule (staff/admin). INVALID: days outside 0-365, a blank name.")
    async def create_payment_reminder_rule(
        self, info: Info, input: CreatePaymentReminderRuleInput
    ) -> PaymentReminderRulePayload:
        request = NewRule(
            name=input.name,
            trigger=input.trigger,
            days=input.days,
            send_email=bool(input.send_email),
            message=input.message,
        )
        return PaymentReminderRulePayload.of(await reminder_rules.create_rule(info.context, request))

    @strawberry.mutation(description="Changes a rule, or switches it off; the reminders it sent stay.")
    async def update_payment_reminder_rule(
        self, info: Info, input: UpdatePaymentReminderRuleInput
    ) -> PaymentReminderRulePayload:
        changes = RuleChanges(
            rule_id=str(input.rule_id),
            name=input.name,
            days=input.days,
            send_email=input.send_email,
            message=input.message,
            active=input.active,
        )
        return PaymentReminderRulePayload.of(await reminder_rules.update_rule(info.context, changes))

    @strawberry.mutation(
        description="Admins (the worker runs it hourly): each reminder due as of asOf, once per invoice, "
        "rule and due date; a repeated run sends nothing new (sentCount 0)."
    )
    async def run_payment_reminders(
        self, info: Info, input: RunPaymentRemindersInput
    ) -> RunPaymentRemindersPayload:
        result = await reminders.run_payment_reminders(info.context, input.as_of)
        return RunPaymentRemindersPayload(
            sent_count=result.sent_count,
            as_of=result.as_of,
            reminders=[PaymentReminder.from_model(row) for row in result.reminders[:SHOWN]],
            user_errors=[],
        )
