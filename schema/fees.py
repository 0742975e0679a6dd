"""A term's fee schedule as the API shows it, the `fees` list, and createFee/updateFee/archiveFee."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import strawberry

from errors import Problem
from models import Fee as FeeModel
from models import FeeInstallment as FeeInstallmentModel
from resolvers.finance import fees
from resolvers.finance.fees import FeeFields, FeeView, Installment
from resolvers.ids import encode_id
from schema.academics import Class
from schema.base import Connection, Info, Node, UserError, connection_of, user_errors
from schema.terms import Term


@strawberry.type(description="One part of a fee's plan.")
class FeeInstallment:
    number: int
    due_date: date
    amount: Decimal

    @classmethod
    def from_model(cls, row: FeeInstallmentModel) -> FeeInstallment:
        return cls(number=row.number, due_date=row.due_date, amount=row.amount)


@strawberry.type(description="What a term bills: for grade levels (none: every grade) or one class.")
class Fee(Node):
    name: str
    description: str | None
    amount: Decimal
    currency: str
    due_date: date
    grade_levels: list[int] | None
    archived: bool
    created_at: datetime
    row: strawberry.Private[FeeModel]
    billed: strawberry.Private[int | None]

    @classmethod
    def from_model(cls, fee: FeeModel, billed: int | None = None) -> Fee:
        return cls(
            id=strawberry.ID(encode_id("Fee", fee.id)),
            name=fee.name,
            description=fee.description,
            amount=fee.amount,
            currency=fee.currency,
            due_date=fee.due_date,
            grade_levels=fee.grade_levels,
            archived=fee.archived_at is not None,
            created_at=fee.created_at,
            row=fee,
            billed=billed,
        )

    @classmethod
    def of_view(cls, view: FeeView) -> Fee:
        return cls.from_model(view.fee, view.billed_count)

    @strawberry.field(name="class", description="The one class it applies to, if any.")
    async def klass(self, info: Info) -> Class | None:
        if self.row.class_id is None:
            return None
        return Class.from_model(await info.context.loaders.class_by_id.load_existing(self.row.class_id))

    @strawberry.field
    async def term(self, info: Info) -> Term:
        return Term.from_model(await info.context.loaders.term_by_id.load_existing(self.row.term_id))

    @strawberry.field(description="Its installment plan, first first; empty when paid at once.")
    async def installments(self, info: Info) -> list[FeeInstallment]:
        rows = await info.context.loaders.installments_by_fee.load(self.row.id)
        return [FeeInstallment.from_model(row) for row in rows]

    @strawberry.field(description="The students billed for it (invoices voided since included).")
    async def billed_count(self, info: Info) -> int:
        if self.billed is not None:
            return self.billed
        return await fees.billed_count(info.context, self.row.id)


@strawberry.input
class InstallmentInput:
    due_date: date
    amount: Decimal


@strawberry.input
class CreateFeeInput:
    term_id: strawberry.ID
    name: str
    description: str | None = None
    amount: Decimal
    currency: str
    due_date: date
    grade_levels: list[int] | None = None
    class_id: strawberry.ID | None = None
    installments: list[InstallmentInput] | None = None


@strawberry.input
class UpdateFeeInput:
    fee_id: strawberry.ID
    name: str | None = None
    description: str | None = strawberry.UNSET
    amount: Decimal | None = None
    due_date: date | None = None
    grade_levels: list[int] | None = strawberry.UNSET
    installments: list[InstallmentInput] | None = None


@strawberry.input
class ArchiveFeeInput:
    fee_id: strawberry.ID


@strawberry.type
class FeePayload:
    fee: Fee | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: FeeView | list[Problem]) -> FeePayload:
        if isinstance(result, list):
            return cls(fee=None, user_errors=user_errors(result))
        return cls(fee=Fee.of_view(result), user_errors=[])


def _plan(given: list[InstallmentInput] | None) -> list[Installment] | None:
    return None if given is None else [Installment(item.due_date, item.amount) for item in given]


@strawberry.type
class FeeQueries:
    @strawberry.field(description="A term's fees (staff/admin), earliest due first; archived ones if asked.")
    async def fees(
        self,
        info: Info,
        term_id: strawberry.ID,
        include_archived: bool | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Fee]:
        page = await fees.fee_schedule(info.context, str(term_id), bool(include_archived), first, after)
        return connection_of(page, Fee.of_view)


@strawberry.type
class FeeMutations:
    @strawberry.mutation(description="Staff/admin: a fee of a term, paid at once or in installments.")
    async def create_fee(self, info: Info, input: CreateFeeInput) -> FeePayload:
        fields = FeeFields(
            name=input.name,
            description=input.description,
            amount=input.amount,
            due_date=input.due_date,
            grade_levels=input.grade_levels,
            grade_levels_given=True,
            installments=_plan(input.installments),
        )
        result = await fees.create_fee(
            info.context,
            str(input.term_id),
            input.currency,
            str(input.class_id) if input.class_id is not None else None,
            fields,
        )
        return FeePayload.of(result)

    @strawberry.mutation(description="Staff/admin: a fee no invoice bills yet; given fields change.")
    async def update_fee(self, info: Info, input: UpdateFeeInput) -> FeePayload:
        description_given = input.description is not strawberry.UNSET
        grades_given = input.grade_levels is not strawberry.UNSET
        fields = FeeFields(
            name=input.name,
            description=input.description if description_given else None,
            description_given=description_given,
            amount=input.amount,
            due_date=input.due_date,
            grade_levels=input.grade_levels if grades_given else None,
            grade_levels_given=grades_given,
            installments=_plan(input.installments),
        )
        return FeePayload.of(await fees.update_fee(info.context, str(input.fee_id), fields))

    @strawberry.mutation(description="Staff/admin: later invoice runs skip the fee; what it billed stays.")
    async def archive_fee(self, info: Info, input: ArchiveFeeInput) -> FeePayload:
        return FeePayload.of(await fees.archive_fee(info.context, str(input.fee_id)))
