"""Invoices and their lines as the API shows them, the `invoices` list and `invoice`, and the
invoice writes: generateInvoices, issueInvoice, voidInvoice, generateInvoicePdf.

Other modules show an invoice with `Invoice.from_model(row)` (reaching this module lazily:
`Annotated["Invoice", strawberry.lazy("schema.invoices")]`). Its amounts are sums of its lines'
allocations, read through the operation's loaders, so a list of invoices costs a bounded number
of statements however long it is.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from errors import Problem
from models import Invoice as InvoiceModel
from models import InvoiceLine as InvoiceLineModel
from models.enums import InvoiceStatus
from resolvers.finance import invoice_pdf, invoices, invoicing
from resolvers.finance.invoices import amount_due, is_overdue, line_states, school_today
from resolvers.finance.invoicing import GenerateResult
from resolvers.finance.lines import ZERO, LineState
from resolvers.ids import encode_id
from schema.base import Connection, Info, Node, UserError, connection_of, user_errors
from schema.fees import Fee
from schema.terms import Term

if TYPE_CHECKING:
    from schema.payments import PaymentAllocation
    from schema.students import Student

LazyStudent = Annotated["Student", strawberry.lazy("schema.students")]
LazyAllocation = Annotated["PaymentAllocation", strawberry.lazy("schema.payments")]


@strawberry.type(description="A fee, or one installment of it, billed on an invoice.")
class InvoiceLine(Node):
    description: str
    installment_number: int | None = strawberry.field(description="Null for a fee paid at once.")
    amount: Decimal
    amount_paid: Decimal
    amount_credited: Decimal = strawberry.field(description="What scholarship awards covered.")
    amount_due: Decimal
    due_date: date
    fee_id: strawberry.Private[int]

    @classmethod
    def from_state(cls, line: InvoiceLineModel, state: LineState) -> InvoiceLine:
        return cls(
            id=strawberry.ID(encode_id("InvoiceLine", line.id)),
            description=line.description,
            installment_number=line.installment_number or None,
            amount=line.amount,
            amount_paid=state.paid,
            amount_credited=state.credited,
            amount_due=amount_due(state),
            due_date=line.due_date,
            fee_id=line.fee_id,
        )

    @strawberry.field
    async def fee(self, info: Info) -> Fee:
        return Fee.from_model(await info.context.loaders.fee_by_id.load_existing(self.fee_id))


@strawberry.type(description="A student's bill for a term; its amounts are sums of the ledger's allocations.")
class Invoice(Node):
    number: str
    status: InvoiceStatus
    currency: str
    total: Decimal
    due_date: date = strawberry.field(description="The earliest due date of its lines.")
    issued_at: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    row: strawberry.Private[InvoiceModel]

    @classmethod
    def from_model(cls, invoice: InvoiceModel) -> Invoice:
        return cls(
            id=strawberry.ID(encode_id("Invoice", invoice.id)),
            number=invoice.number,
            status=invoice.status,
            currency=invoice.currency,
            total=invoice.total,
            due_date=invoice.due_date,
            issued_at=invoice.issued_at,
            voided_at=invoice.voided_at,
            void_reason=invoice.void_reason,
            row=invoice,
        )

    async def _lines(self, info: Info) -> list[tuple[InvoiceLineModel, LineState]]:
        loaders = info.context.loaders
        lines = await loaders.lines_by_invoice.load(self.row.id)
        allocations = await loaders.allocations_by_invoice.load(self.row.id)
        return list(zip(lines, line_states(self.row, lines, allocations), strict=True))

    @strawberry.field
    async def student(self, info: Info) -> LazyStudent:
        from schema.students import Student  # noqa: PLC0415 - schema.students may show invoices

        loaders = info.context.loaders
        user = await loaders.user_by_id.load_existing(self.row.student_id)
        profile = await loaders.student_profile_by_user_id.load_existing(self.row.student_id)
        return Student.from_model(user, profile)

    @strawberry.field
    async def term(self, info: Info) -> Term:
        return Term.from_model(await info.context.loaders.term_by_id.load_existing(self.row.term_id))

    @strawberry.field(description="Its lines, earliest due first.")
    async def lines(self, info: Info) -> list[InvoiceLine]:
        return [InvoiceLine.from_state(line, state) for line, state in await self._lines(info)]

    @strawberry.field(description="What payments paid of it (after refunds; none once void).")
    async def amount_paid(self, info: Info) -> Decimal:
        return sum((state.paid for _, state in await self._lines(info)), ZERO)

    @strawberry.field(description="What scholarship awards covered of it.")
    async def amount_credited(self, info: Info) -> Decimal:
        return sum((state.credited for _, state in await self._lines(info)), ZERO)

    @strawberry.field(description="What it still owes: nothing once void.")
    async def amount_due(self, info: Info) -> Decimal:
        return sum((amount_due(state) for _, state in await self._lines(info)), ZERO)

    @strawberry.field(description="The payments applied to it, net per payment and line (none once void).")
    async def allocations(self, info: Info) -> list[LazyAllocation]:
        from schema.payments import net_allocations  # noqa: PLC0415 - schema.payments shows invoices

        return net_allocations(await info.context.loaders.allocations_by_invoice.load(self.row.id))

    @strawberry.field(description="Issued, and a line due before the school's today still owes something.")
    async def overdue(self, info: Info) -> bool:
        school = await info.context.loaders.school_by_id.load_existing(self.row.school_id)
        return is_overdue([state for _, state in await self._lines(info)], school_today(school.timezone))


@strawberry.input
class InvoiceFilter:
    term_id: strawberry.ID | None = None
    student_id: strawberry.ID | None = None
    status: list[InvoiceStatus] | None = None
    overdue: bool | None = None


@strawberry.input
class GenerateInvoicesInput:
    term_id: strawberry.ID
    issue: bool | None = None


@strawberry.input
class IssueInvoiceInput:
    invoice_id: strawberry.ID


@strawberry.input
class VoidInvoiceInput:
    invoice_id: strawberry.ID
    reason: str


@strawberry.input
class GenerateInvoicePdfInput:
    invoice_id: strawberry.ID


@strawberry.type
class GenerateInvoicesPayload:
    created_count: int
    already_billed_count: int = strawberry.field(description="Students with nothing new to bill.")
    total_amount: Decimal
    currency: str | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: GenerateResult | list[Problem]) -> GenerateInvoicesPayload:
        if isinstance(result, list):
            return cls(
                created_count=0, already_billed_count=0, total_amount=ZERO, currency=None,
                user_errors=user_errors(result),
            )  # fmt: skip
        return cls(
            created_count=result.created_count,
            already_billed_count=result.already_billed_count,
            total_amount=result.total_amount,
            currency=result.currency,
            user_errors=[],
        )


@strawberry.type
class InvoicePayload:
    invoice: Invoice | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: InvoiceModel | list[Problem]) -> InvoicePayload:
        if isinstance(result, list):
            return cls(invoice=None, user_errors=user_errors(result))
        return cls(invoice=Invoice.from_model(result), user_errors=[])


@strawberry.type
class InvoicePdfPayload:
    url: str | None
    expires_at: datetime | None
    user_errors: list[UserError]


@strawberry.type
class InvoiceQueries:
    @strawberry.field(description="The school's invoices (staff/admin), newest first.")
    async def invoices(
        self,
        info: Info,
        filter: InvoiceFilter | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Invoice]:
        given = filter or InvoiceFilter()
        wanted = invoices.InvoiceFilter(
            term_id=str(given.term_id) if given.term_id is not None else None,
            student_id=str(given.student_id) if given.student_id is not None else None,
            statuses=given.status,
            overdue=given.overdue,
        )
        return connection_of(await invoices.invoices(info.context, wanted, first, after), Invoice.from_model)

    @strawberry.field(description="One invoice: staff/admin, the student and their guardians.")
    async def invoice(self, info: Info, id: strawberry.ID) -> Invoice | None:
        return Invoice.from_model(await invoices.get_invoice(info.context, str(id)))


@strawberry.type
class InvoiceMutations:
    @strawberry.mutation(description="Staff/admin: bills a term; a second run creates nothing.")
    async def generate_invoices(self, info: Info, input: GenerateInvoicesInput) -> GenerateInvoicesPayload:
        issue = input.issue if input.issue is not None else True
        return GenerateInvoicesPayload.of(
            await invoicing.generate_invoices(info.context, str(input.term_id), issue)
        )

    @strawberry.mutation(description="Staff/admin: posts a DRAFT invoice's charges to the ledger.")
    async def issue_invoice(self, info: Info, input: IssueInvoiceInput) -> InvoicePayload:
        return InvoicePayload.of(await invoicing.issue_invoice(info.context, str(input.invoice_id)))

    @strawberry.mutation(description="Staff/admin: voids an invoice by reversing entries, with a reason.")
    async def void_invoice(self, info: Info, input: VoidInvoiceInput) -> InvoicePayload:
        return InvoicePayload.of(
            await invoicing.void_invoice(info.context, str(input.invoice_id), input.reason)
        )

    @strawberry.mutation(description="The invoice as a PDF behind a signed, expiring link (its readers).")
    async def generate_invoice_pdf(self, info: Info, input: GenerateInvoicePdfInput) -> InvoicePdfPayload:
        result = await invoice_pdf.generate_invoice_pdf(info.context, str(input.invoice_id))
        if isinstance(result, list):
            return InvoicePdfPayload(url=None, expires_at=None, user_errors=user_errors(result))
        url, expires_at = result
        return InvoicePdfPayload(url=url, expires_at=expires_at, user_errors=[])
