"""Scholarship awards as the API shows them: the ScholarshipAward type (also listed by
StudentAccount.awards) and awardScholarship/revokeAward."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from errors import Problem
from models import ScholarshipAward as AwardModel
from models.enums import AwardStatus  # a GraphQL enum (schema/enums.py registers it)
from resolvers.finance import awards, scholarships
from resolvers.finance.awards import AwardRequest, AwardResult
from resolvers.ids import encode_id
from schema.base import Info, Node, UserError, user_errors
from schema.scholarships import Scholarship
from schema.users import User

if TYPE_CHECKING:
    from schema.students import Student


@strawberry.type(description="A scholarship credited to a student's ledger; revoked by a reversing entry.")
class ScholarshipAward(Node):
    amount: Decimal
    currency: str
    status: AwardStatus
    awarded_at: datetime
    note: str | None
    revoked_at: datetime | None
    revoke_reason: str | None
    row: strawberry.Private[AwardModel]

    @classmethod
    def from_model(cls, row: AwardModel) -> ScholarshipAward:
        return cls(
            id=strawberry.ID(encode_id("ScholarshipAward", row.id)),
            amount=row.amount,
            currency=row.currency,
            status=row.status,
            awarded_at=row.awarded_at,
            note=row.note,
            revoked_at=row.revoked_at,
            revoke_reason=row.revoke_reason,
            row=row,
        )

    @strawberry.field
    async def awarded_by(self, info: Info) -> User | None:
        return await User.by_id(info, self.row.awarded_by_id)

    @strawberry.field
    async def scholarship(self, info: Info) -> Scholarship:
        return Scholarship.from_model(
            await scholarships.scholarship_of(info.context, self.row.scholarship_id)
        )

    @strawberry.field
    async def student(self, info: Info) -> Annotated[Student, strawberry.lazy("schema.students")]:
        from schema.students import Student  # noqa: PLC0415 (schema.students reaches this module)

        loaders = info.context.loaders
        user = await loaders.user_by_id.load_existing(self.row.student_id)
        return Student.from_model(
            user, await loaders.student_profile_by_user_id.load_existing(self.row.student_id)
        )


@strawberry.input
class AwardScholarshipInput:
    scholarship_id: strawberry.ID
    student_id: strawberry.ID
    amount: Decimal | None = strawberry.field(
        default=None,
        description="Null: the scholarship's amount (or percentage) for this student; at most that.",
    )
    note: str | None = None


@strawberry.input
class RevokeAwardInput:
    award_id: strawberry.ID
    reason: str


@strawberry.type
class ScholarshipAwardPayload:
    award: ScholarshipAward | None
    user_errors: list[UserError]
    scholarship_id: strawberry.Private[int | None]

    @strawberry.field
    async def scholarship(self, info: Info) -> Scholarship | None:
        if self.scholarship_id is None:
            return None
        return Scholarship.from_model(await scholarships.scholarship_of(info.context, self.scholarship_id))

    @classmethod
    def of(cls, result: AwardResult | list[Problem]) -> ScholarshipAwardPayload:
        if isinstance(result, list):
            return cls(award=None, user_errors=user_errors(result), scholarship_id=None)
        return cls(
            award=ScholarshipAward.from_model(result.award),
            user_errors=[],
            scholarship_id=result.scholarship_id,
        )


@strawberry.type
class ScholarshipAwardMutations:
    @strawberry.mutation(
        description="A credit on the student's ledger, applied to their oldest open lines, within the "
        "scholarship's budget. OVER_BUDGET, NOT_ELIGIBLE, ALREADY_AWARDED, INACTIVE: nothing written."
    )
    async def award_scholarship(self, info: Info, input: AwardScholarshipInput) -> ScholarshipAwardPayload:
        request = AwardRequest(
            scholarship_id=str(input.scholarship_id),
            student_id=str(input.student_id),
            amount=input.amount,
            note=input.note,
        )
        return ScholarshipAwardPayload.of(await awards.award_scholarship(info.context, request))

    @strawberry.mutation(
        description="A reversing entry (the lines it paid open again) that frees the budget; "
        "FORBIDDEN_STATE when revoked already."
    )
    async def revoke_award(self, info: Info, input: RevokeAwardInput) -> ScholarshipAwardPayload:
        result = await awards.revoke_award(info.context, str(input.award_id), input.reason)
        return ScholarshipAwardPayload.of(result)
