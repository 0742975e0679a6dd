"""A student's account as the API shows it: `studentAccount` (summary, ledger entries with
running balances, invoices, payments, awards) and Student.financialSummary (a mixin of Student)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from models.enums import EntryKind, InvoiceStatus  # GraphQL enums (schema/enums.py registers them)
from resolvers.finance import accounts
from resolvers.finance.accounts import AccountOwner, EntryWithBalance
from resolvers.finance.accounts import FinancialSummary as SummaryResult
from resolvers.ids import encode_id
from schema.base import Connection, Info, Node, connection_of
from schema.payments import Payment
from schema.scholarship_awards import ScholarshipAward

if TYPE_CHECKING:
    from schema.invoices import Invoice
    from schema.students import Student


@strawberry.type(description="Computed from the ledger, as of the school's today.")
class FinancialSummary:
    currency: str
    balance: Decimal = strawberry.field(
        description="The sum of the ledger: what is owed, negative when in credit."
    )
    overdue_amount: Decimal = strawberry.field(description="What is open on lines past their due date.")
    next_due_date: date | None = strawberry.field(
        description="The earliest due date today or later with something open; null when none."
    )
    next_due_amount: Decimal | None
    credit_balance: Decimal = strawberry.field(
        description="Money on account not applied to any line (0 or more)."
    )

    @classmethod
    def of(cls, summary: SummaryResult) -> FinancialSummary:
        return cls(
            currency=summary.currency,
            balance=summary.balance,
            overdue_amount=summary.overdue_amount,
            next_due_date=summary.next_due_date,
            next_due_amount=summary.next_due_amount,
            credit_balance=summary.credit_balance,
        )


@strawberry.type
class StudentFinanceFields:
    """Student's finance fields (Student inherits them)."""

    student_id: strawberry.Private[int]
    school_id: strawberry.Private[int]

    @strawberry.field(
        description="Balance and what falls due: the student, their guardians, staff and admins "
        "(FORBIDDEN for others)."
    )
    async def financial_summary(self, info: Info) -> FinancialSummary | None:
        return FinancialSummary.of(
            await accounts.financial_summary(info.context, self.student_id, self.school_id)
        )


@strawberry.type(description="One entry of a student's ledger; never changed or deleted, only reversed.")
class LedgerEntry(Node):
    posted_at: datetime
    kind: EntryKind
    amount: Decimal = strawberry.field(
        description="Positive adds to what the student owes, negative takes from it."
    )
    running_balance: Decimal = strawberry.field(description="The balance right after this entry.")
    currency: str
    reference: str | None = strawberry.field(description="The invoice or receipt number it belongs to.")
    description: str
    invoice_id: strawberry.Private[int | None]
    payment_id: strawberry.Private[int | None]
    reverses_id: strawberry.Private[int | None]

    @classmethod
    def of(cls, found: EntryWithBalance) -> LedgerEntry:
        entry = found.entry
        return cls(
            id=strawberry.ID(encode_id("LedgerEntry", entry.id)),
            posted_at=entry.posted_at,
            kind=entry.kind,
            amount=entry.amount,
            running_balance=found.running_balance,
            currency=entry.currency,
            reference=entry.reference,
            description=entry.description,
            invoice_id=entry.invoice_id,
            payment_id=entry.payment_id,
            reverses_id=entry.reverses_id,
        )

    @strawberry.field
    async def invoice(self, info: Info) -> Annotated[Invoice, strawberry.lazy("schema.invoices")] | None:
        from schema.invoices import Invoice  # noqa: PLC0415 (schema.invoices reaches the students' types)

        if self.invoice_id is None:
            return None
        return Invoice.from_model(await info.context.loaders.invoice_by_id.load_existing(self.invoice_id))

    @strawberry.field
    async def payment(self, info: Info) -> Payment | None:
        if self.payment_id is None:
            return None
        return Payment.from_model(await info.context.loaders.payment_by_id.load_existing(self.payment_id))

    @strawberry.field(description="The entry this one reverses, if any.")
    async def reverses(self, info: Info) -> LedgerEntry | None:
        if self.reverses_id is None:
            return None
        return LedgerEntry.of(await accounts.reversed_entry(info.context, self.reverses_id))


@strawberry.type
class StudentAccount:
    currency: str
    owner: strawberry.Private[AccountOwner]

    @strawberry.field
    async def student(self, info: Info) -> Annotated[Student, strawberry.lazy("schema.students")]:
        from schema.students import Student  # noqa: PLC0415 (schema.students imports this module)

        loaders = info.context.loaders
        user = await loaders.user_by_id.load_existing(self.owner.student_id)
        return Student.from_model(
            user, await loaders.student_profile_by_user_id.load_existing(self.owner.student_id)
        )

    @strawberry.field
    async def summary(self, info: Info) -> FinancialSummary:
        owner = self.owner
        return FinancialSummary.of(
            await accounts.financial_summary(info.context, owner.student_id, owner.school_id)
        )

    @strawberry.field(description="Newest first.")
    async def entries(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[LedgerEntry]:
        return connection_of(await accounts.entries(info.context, self.owner, first, after), LedgerEntry.of)

    @strawberry.field(description="Newest first; DRAFT ones for staff and admins only.")
    async def invoices(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        status: list[InvoiceStatus] | None = None,
    ) -> Connection[Annotated[Invoice, strawberry.lazy("schema.invoices")]]:
        from schema.invoices import Invoice  # noqa: PLC0415 (schema.invoices reaches the students' types)

        page = await accounts.invoices(info.context, self.owner, first, after, status)
        return connection_of(page, Invoice.from_model)

    @strawberry.field(description="Newest first.")
    async def payments(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[Payment]:
        return connection_of(
            await accounts.payments(info.context, self.owner, first, after), Payment.from_model
        )

    @strawberry.field(description="Newest first, revoked ones included.")
    async def awards(self, info: Info) -> list[ScholarshipAward]:
        return [ScholarshipAward.from_model(row) for row in await accounts.awards(info.context, self.owner)]


@strawberry.type
class AccountQueries:
    @strawberry.field(
        description="A student's ledger: the student, their guardians, staff and admins of the school."
    )
    async def student_account(self, info: Info, student_id: strawberry.ID) -> StudentAccount | None:
        owner = await accounts.account_owner(info.context, str(student_id))
        return StudentAccount(currency=owner.currency, owner=owner)
