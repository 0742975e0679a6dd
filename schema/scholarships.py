"""Financial aid and scholarships as the API shows them: setFinancialAidProfile and
Student.financialAidProfile (a mixin of Student)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from errors import Problem
from models import FinancialAidProfile as ProfileModel
from models.enums import HouseholdIncomeBand  # a GraphQL enum (schema/enums.py registers it)
from resolvers.finance import aid
from schema.base import Info, UserError, user_errors

if TYPE_CHECKING:
    from schema.students import Student


@strawberry.type(description="What scholarship criteria know of a student; staff and admins only.")
class FinancialAidProfile:
    household_income_band: HouseholdIncomeBand | None
    financial_need: bool
    updated_at: datetime

    @classmethod
    def from_model(cls, profile: ProfileModel) -> FinancialAidProfile:
        return cls(
            household_income_band=profile.household_income_band,
            financial_need=profile.financial_need,
            updated_at=profile.updated_at,
        )


@strawberry.type
class StudentScholarshipFields:
    """Student's aid fields (Student inherits them)."""

    student_id: strawberry.Private[int]
    school_id: strawberry.Private[int]

    @strawberry.field(
        description="Staff and admins (FORBIDDEN for others, the student included); null when none "
        "was recorded."
    )
    async def financial_aid_profile(self, info: Info) -> FinancialAidProfile | None:
        profile = await aid.financial_aid_profile(info.context, self.student_id, self.school_id)
        return FinancialAidProfile.from_model(profile) if profile else None


@strawberry.input
class SetFinancialAidProfileInput:
    student_id: strawberry.ID
    household_income_band: HouseholdIncomeBand | None = None
    financial_need: bool


@strawberry.type
class SetFinancialAidProfilePayload:
    student_id: strawberry.Private[int | None]
    user_errors: list[UserError]

    @strawberry.field
    async def student(self, info: Info) -> Annotated[Student, strawberry.lazy("schema.students")] | None:
        from schema.students import Student  # noqa: PLC0415 (schema.students imports this module)

        if self.student_id is None:
            return None
        loaders = info.context.loaders
        user = await loaders.user_by_id.load_existing(self.student_id)
        return Student.from_model(
            user, await loaders.student_profile_by_user_id.load_existing(self.student_id)
        )

    @classmethod
    def of(cls, result: int | list[Problem]) -> SetFinancialAidProfilePayload:
        if isinstance(result, list):
            return cls(student_id=None, user_errors=user_errors(result))
        return cls(student_id=result, user_errors=[])


@strawberry.type
class ScholarshipMutations:
    @strawberry.mutation(
        description="Staff/admin record a student's household income band and financial need."
    )
    async def set_financial_aid_profile(
        self, info: Info, input: SetFinancialAidProfileInput
    ) -> SetFinancialAidProfilePayload:
        result = await aid.set_financial_aid_profile(
            info.context, str(input.student_id), input.household_income_band, input.financial_need
        )
        return SetFinancialAidProfilePayload.of(result)
