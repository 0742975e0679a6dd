"""Payments, their allocations and refunds as the API shows them; recordPayment, refundPayment,
generateReceiptPdf and payment(id:)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from models import Allocation as AllocationModel
from models import Payment as PaymentModel
from models import Refund as RefundModel
from models.enums import PaymentMethod  # a GraphQL enum (schema/enums.py registers it)
from resolvers.finance import payments, receipt_pdf, refunds
from resolvers.finance.invoices import line_states as invoice_line_states
from resolvers.finance.payments import PaymentRequest, Recorded
from resolvers.finance.refunds import Refunded, RefundRequest, payment_credit
from resolvers.ids import encode_id
from schema.base import Info, Node, UserError, user_errors
from schema.reports import FileLinkPayload
from schema.users import User

if TYPE_CHECKING:
    from schema.invoices import Invoice, InvoiceLine
    from schema.students import Student

ZERO = Decimal("0.00")


@strawberry.enum
class PaymentStatus(enum.Enum):
    COMPLETED = "COMPLETED"
    PARTIALLY_REFUNDED = "PARTIALLY_REFUNDED"
    REFUNDED = "REFUNDED"


async def _user(info: Info, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    row = await info.context.loaders.user_by_id.load(user_id)
    return User.from_model(row) if row else None


@strawberry.type
class Refund(Node):
    amount: Decimal
    reason: str
    refunded_at: datetime
    refunded_by_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, refund: RefundModel) -> Refund:
        return cls(
            id=strawberry.ID(encode_id("Refund", refund.id)),
            amount=refund.amount,
            reason=refund.reason,
            refunded_at=refund.refunded_at,
            refunded_by_id=refund.refunded_by_id,
        )

    @strawberry.field
    async def refunded_by(self, info: Info) -> User | None:
        return await _user(info, self.refunded_by_id)


@strawberry.type(
    description="Part of a payment applied to an invoice line, net of what refunds and voids took back."
)
class PaymentAllocation:
    amount: Decimal
    payment_id: strawberry.Private[int]
    invoice_id: strawberry.Private[int]
    line_id: strawberry.Private[int]

    @strawberry.field
    async def payment(self, info: Info) -> Payment:
        return Payment.from_model(await info.context.loaders.payment_by_id.load_existing(self.payment_id))

    @strawberry.field
    async def invoice(self, info: Info) -> Annotated[Invoice, strawberry.lazy("schema.invoices")]:
        from schema.invoices import Invoice  # noqa: PLC0415 (schema.invoices shows these allocations)

        return Invoice.from_model(await info.context.loaders.invoice_by_id.load_existing(self.invoice_id))

    @strawberry.field
    async def line(self, info: Info) -> Annotated[InvoiceLine, strawberry.lazy("schema.invoices")]:
        from schema.invoices import InvoiceLine  # noqa: PLC0415 (schema.invoices shows these allocations)

        loaders = info.context.loaders
        invoice = await loaders.invoice_by_id.load_existing(self.invoice_id)
        lines = await loaders.lines_by_invoice.load(self.invoice_id)
        states = invoice_line_states(
            invoice, lines, await loaders.allocations_by_invoice.load(self.invoice_id)
        )
        return next(
            InvoiceLine.from_state(line, state)
            for line, state in zip(lines, states, strict=True)
            if line.id == self.line_id
        )


def net_allocations(rows: Sequence[AllocationModel]) -> list[PaymentAllocation]:
    """A payment's (or an invoice's) allocations net per payment and line, in the order first
    made; lines all taken back are left out."""
    net: dict[tuple[int, int], PaymentAllocation] = {}
    for row in rows:
        if row.payment_id is None:
            continue
        key = (row.payment_id, row.invoice_line_id)
        held = net.get(key)
        amount = row.amount + (held.amount if held else ZERO)
        net[key] = PaymentAllocation(
            amount=amount, payment_id=row.payment_id, invoice_id=row.invoice_id, line_id=row.invoice_line_id
        )
    return [allocation for allocation in net.values() if allocation.amount != 0]


@strawberry.type
class Payment(Node):
    receipt_number: str
    amount: Decimal
    currency: str
    method: PaymentMethod
    reference: str | None
    received_at: datetime
    payment_id: strawberry.Private[int]
    student_id: strawberry.Private[int]
    recorded_by_id: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, payment: PaymentModel) -> Payment:
        return cls(
            id=strawberry.ID(encode_id("Payment", payment.id)),
            receipt_number=payment.receipt_number,
            amount=payment.amount,
            currency=payment.currency,
            method=payment.method,
            reference=payment.reference,
            received_at=payment.received_at,
            payment_id=payment.id,
            student_id=payment.student_id,
            recorded_by_id=payment.recorded_by_id,
        )

    async def _refunds(self, info: Info) -> list[RefundModel]:
        rows: list[RefundModel] = await info.context.loaders.refunds_by_payment.load(self.payment_id)
        return rows

    @strawberry.field
    async def student(self, info: Info) -> Annotated[Student, strawberry.lazy("schema.students")]:
        from schema.students import Student  # noqa: PLC0415 (schema.students imports this module)

        loaders = info.context.loaders
        user = await loaders.user_by_id.load_existing(self.student_id)
        return Student.from_model(
            user, await loaders.student_profile_by_user_id.load_existing(self.student_id)
        )

    @strawberry.field
    async def recorded_by(self, info: Info) -> User | None:
        return await _user(info, self.recorded_by_id)

    async def _refunded(self, info: Info) -> Decimal:
        return sum((refund.amount for refund in await self._refunds(info)), ZERO)

    @strawberry.field
    async def refunded_amount(self, info: Info) -> Decimal:
        return await self._refunded(info)

    @strawberry.field
    async def status(self, info: Info) -> PaymentStatus:
        refunded = await self._refunded(info)
        if refunded == 0:
            return PaymentStatus.COMPLETED
        return PaymentStatus.REFUNDED if refunded >= self.amount else PaymentStatus.PARTIALLY_REFUNDED

    @strawberry.field(description="The part not applied to invoice lines nor refunded: the student's credit.")
    async def credit_amount(self, info: Info) -> Decimal:
        loaders = info.context.loaders
        payment = await loaders.payment_by_id.load_existing(self.payment_id)
        allocations = await loaders.allocations_by_payment.load(self.payment_id)
        return payment_credit(payment, await self._refunds(info), allocations)

    @strawberry.field
    async def allocations(self, info: Info) -> list[PaymentAllocation]:
        return net_allocations(await info.context.loaders.allocations_by_payment.load(self.payment_id))

    @strawberry.field
    async def refunds(self, info: Info) -> list[Refund]:
        return [Refund.from_model(refund) for refund in await self._refunds(info)]


@strawberry.input
class PaymentAllocationInput:
    invoice_id: strawberry.ID
    amount: Decimal


@strawberry.input
class RecordPaymentInput:
    student_id: strawberry.ID
    amount: Decimal
    currency: str
    method: PaymentMethod
    idempotency_key: str
    reference: str | None = None
    allocations: list[PaymentAllocationInput] | None = strawberry.field(
        default=None,
        description="Given: applied first; the rest to the oldest open lines, any excess to credit.",
    )
    note: str | None = None


@strawberry.input
class RefundPaymentInput:
    payment_id: strawberry.ID
    reason: str
    amount: Decimal | None = strawberry.field(default=None, description="null: all that is not refunded yet.")
    idempotency_key: str | None = None


@strawberry.input
class GenerateReceiptPdfInput:
    payment_id: strawberry.ID


@strawberry.type
class RecordPaymentPayload:
    payment: Payment | None
    replayed: bool = strawberry.field(
        description="true: the idempotency key was seen before, and this is that payment."
    )
    user_errors: list[UserError]


@strawberry.type
class RefundPaymentPayload:
    refund: Refund | None
    payment: Payment | None
    user_errors: list[UserError]


def _prime(info: Info, payment: PaymentModel) -> Payment:
    info.context.loaders.payment_by_id.prime(payment.id, payment)
    return Payment.from_model(payment)


@strawberry.type
class PaymentQueries:
    @strawberry.field(description="A payment: staff and admins, the student, their guardians.")
    async def payment(self, info: Info, id: strawberry.ID) -> Payment | None:
        return Payment.from_model(await payments.get_payment(info.context, str(id)))


@strawberry.type
class PaymentMutations:
    @strawberry.mutation(
        description="A payment at the point of sale; a retry with its idempotency key returns that payment."
    )
    async def record_payment(self, info: Info, input: RecordPaymentInput) -> RecordPaymentPayload:
        request = PaymentRequest(
            student_id=str(input.student_id),
            amount=input.amount,
            currency=input.currency,
            method=input.method,
            idempotency_key=input.idempotency_key,
            reference=input.reference,
            note=input.note,
            allocations=tuple((str(given.invoice_id), given.amount) for given in input.allocations or ()),
        )
        result = await payments.record_payment(info.context, request)
        if isinstance(result, Recorded):
            return RecordPaymentPayload(
                payment=_prime(info, result.payment), replayed=result.replayed, user_errors=[]
            )
        return RecordPaymentPayload(payment=None, replayed=False, user_errors=user_errors(result))

    @strawberry.mutation(description="A partial or full refund, as reversing entries.")
    async def refund_payment(self, info: Info, input: RefundPaymentInput) -> RefundPaymentPayload:
        request = RefundRequest(
            payment_id=str(input.payment_id),
            reason=input.reason,
            amount=input.amount,
            idempotency_key=input.idempotency_key,
        )
        result = await refunds.refund_payment(info.context, request)
        if isinstance(result, Refunded):
            return RefundPaymentPayload(
                refund=Refund.from_model(result.refund), payment=_prime(info, result.payment), user_errors=[]
            )
        return RefundPaymentPayload(refund=None, payment=None, user_errors=user_errors(result))

    @strawberry.mutation(description="The payment's receipt as a PDF behind a signed, expiring URL.")
    async def generate_receipt_pdf(self, info: Info, input: GenerateReceiptPdfInput) -> FileLinkPayload:
        result = await receipt_pdf.generate_receipt_pdf(info.context, str(input.payment_id))
        if isinstance(result, list):
            return FileLinkPayload(url=None, expires_at=None, user_errors=user_errors(result))
        url, expires_at = result
        return FileLinkPayload(url=url, expires_at=expires_at, user_errors=[])
