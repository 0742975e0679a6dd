"""Financial aid and scholarships as the API shows them: setFinancialAidProfile, the
`scholarships` list, createScholarship/updateScholarship, `scholarshipMatches`, and the
Student.financialAidProfile and Student.scholarshipMatches fields (a mixin of Student). Awards
are in schema/scholarship_awards.py."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated

import strawberry

from errors import Problem
from models import FinancialAidProfile as ProfileModel
from models import Scholarship as ScholarshipModel
from models.enums import HouseholdIncomeBand, ScholarshipKind  # GraphQL enums (schema/enums.py)
from resolvers.finance import aid, matching, scholarships
from resolvers.finance.matching import Criteria, Criterion, CriterionResult, Match, MatchPage
from resolvers.finance.scholarships import NewScholarship, ScholarshipChanges
from resolvers.ids import encode_id
from schema.base import Connection, Edge, Info, Node, PageInfo, UserError, connection_of, user_errors
from schema.terms import Term

if TYPE_CHECKING:
    from schema.students import Student

strawberry.enum(Criterion, name="ScholarshipCriterion")


@strawberry.type
class ScholarshipCriteria:
    min_gpa: float | None = strawberry.field(description="The cumulative GPA at least.")
    max_household_income_band: HouseholdIncomeBand | None = strawberry.field(
        description="This band or a lower one."
    )
    requires_financial_need: bool
    grade_levels: list[int] = strawberry.field(description="Empty: every grade.")
    min_attendance_rate: float | None = strawberry.field(
        description="0 to 1: share of the meetings of the student's current classes attended."
    )

    @classmethod
    def of(cls, criteria: Criteria) -> ScholarshipCriteria:
        return cls(
            min_gpa=criteria.min_gpa,
            max_household_income_band=criteria.max_household_income_band,
            requires_financial_need=criteria.requires_financial_need,
            grade_levels=list(criteria.grade_levels),
            min_attendance_rate=criteria.min_attendance_rate,
        )


@strawberry.type(description="A fixed amount or a percentage of a student's term charges, within a budget.")
class Scholarship(Node):
    name: str
    description: str | None
    kind: ScholarshipKind
    amount: Decimal | None = strawberry.field(description="FIXED: what each award is.")
    percentage: Decimal | None = strawberry.field(description="PERCENTAGE: of the student's term charges.")
    currency: str
    budget: Decimal = strawberry.field(description="awardedAmount + remainingBudget.")
    active: bool = strawberry.field(description="False: no new awards.")
    criteria: ScholarshipCriteria
    created_at: datetime
    row: strawberry.Private[ScholarshipModel]

    @classmethod
    def from_model(cls, row: ScholarshipModel) -> Scholarship:
        return cls(
            id=strawberry.ID(encode_id("Scholarship", row.id)),
            name=row.name,
            description=row.description,
            kind=row.kind,
            amount=row.amount,
            percentage=row.percentage,
            currency=row.currency,
            budget=row.budget,
            active=row.active,
            criteria=ScholarshipCriteria.of(Criteria.of(row.criteria)),
            created_at=row.created_at,
            row=row,
        )

    @strawberry.field(description="What its active awards hold.")
    async def awarded_amount(self, info: Info) -> Decimal:
        return (await scholarships.usage(info.context, self.row.id)).awarded_amount

    @strawberry.field
    async def remaining_budget(self, info: Info) -> Decimal:
        return self.row.budget - (await scholarships.usage(info.context, self.row.id)).awarded_amount

    @strawberry.field(description="Its active awards.")
    async def award_count(self, info: Info) -> int:
        return (await scholarships.usage(info.context, self.row.id)).award_count

    @strawberry.field
    async def term(self, info: Info) -> Term:
        return Term.from_model(await info.context.loaders.term_by_id.load_existing(self.row.term_id))


@strawberry.type
class ScholarshipCriterionResult:
    criterion: Criterion
    met: bool
    required: str = strawberry.field(description='What the scholarship asks, e.g. "GPA at least 3.00".')
    student_value: str | None = strawberry.field(
        description='The student\'s value, e.g. "3.42"; null when unknown (then not met).'
    )
    detail: str

    @classmethod
    def of(cls, result: CriterionResult) -> ScholarshipCriterionResult:
        return cls(
            criterion=result.criterion,
            met=result.met,
            required=result.required,
            student_value=result.student_value,
            detail=result.detail,
        )


@strawberry.type(description="How well a student fits a scholarship, each criterion explained.")
class ScholarshipMatch:
    rank: int
    score: float = strawberry.field(description="The share of the scholarship's criteria met, 0 to 1.")
    eligible: bool = strawberry.field(description="Every criterion met.")
    awarded: bool = strawberry.field(description="The student holds an active award of it.")
    proposed_amount: Decimal = strawberry.field(description="What an award would be for this student.")
    criteria: list[ScholarshipCriterionResult]
    match: strawberry.Private[Match]

    @classmethod
    def of(cls, match: Match) -> ScholarshipMatch:
        return cls(
            rank=match.rank,
            score=match.score,
            eligible=match.eligible,
            awarded=match.awarded,
            proposed_amount=match.proposed_amount,
            criteria=[ScholarshipCriterionResult.of(result) for result in match.criteria],
            match=match,
        )

    @strawberry.field
    def scholarship(self) -> Scholarship:
        return Scholarship.from_model(self.match.scholarship)

    @strawberry.field
    async def student(self, info: Info) -> Annotated[Student, strawberry.lazy("schema.students")]:
        return await _student(info, self.match.student_id)


@strawberry.type(description="A page of a scholarship's ranking.")
class ScholarshipMatchConnection:
    total_count: int | None
    eligible_count: int = strawberry.field(description="The students meeting every criterion.")
    page_info: PageInfo
    edges: list[Edge[ScholarshipMatch]]

    @strawberry.field
    def nodes(self) -> list[ScholarshipMatch]:
        return [edge.node for edge in self.edges]

    @classmethod
    def of(cls, found: MatchPage) -> ScholarshipMatchConnection:
        page = connection_of(found.page, ScholarshipMatch.of)
        return cls(
            total_count=page.total_count,
            eligible_count=found.eligible_count,
            page_info=page.page_info,
            edges=page.edges,
        )


async def _student(info: Info, student_id: int) -> Student:
    from schema.students import Student  # noqa: PLC0415 (schema.students imports this module)

    loaders = info.context.loaders
    user = await loaders.user_by_id.load_existing(student_id)
    return Student.from_model(user, await loaders.student_profile_by_user_id.load_existing(student_id))


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

    @strawberry.field(
        description="Every active scholarship of the school for this student, best fit first; staff "
        "and admins (FORBIDDEN for others, the student included)."
    )
    async def scholarship_matches(self, info: Info) -> list[ScholarshipMatch] | None:
        found = await matching.student_matches(info.context, self.student_id, self.school_id)
        return [ScholarshipMatch.of(match) for match in found]


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
        return None if self.student_id is None else await _student(info, self.student_id)

    @classmethod
    def of(cls, result: int | list[Problem]) -> SetFinancialAidProfilePayload:
        if isinstance(result, list):
            return cls(student_id=None, user_errors=user_errors(result))
        return cls(student_id=result, user_errors=[])


@strawberry.input
class ScholarshipCriteriaInput:
    min_gpa: float | None = None
    max_household_income_band: HouseholdIncomeBand | None = None
    requires_financial_need: bool | None = None
    grade_levels: list[int] | None = None
    min_attendance_rate: float | None = strawberry.field(
        default=None, description="0 to 1: share of the meetings of the student's current classes attended."
    )

    def to_criteria(self) -> Criteria:
        return Criteria(
            min_gpa=self.min_gpa,
            max_household_income_band=self.max_household_income_band,
            requires_financial_need=bool(self.requires_financial_need),
            grade_levels=tuple(self.grade_levels or ()),
            min_attendance_rate=self.min_attendance_rate,
        )


@strawberry.input
class CreateScholarshipInput:
    term_id: strawberry.ID
    name: str
    description: str | None = None
    amount: Decimal | None = strawberry.field(
        default=None, description="Exactly one of amount and percentage."
    )
    percentage: Decimal | None = None
    currency: str
    budget: Decimal
    criteria: ScholarshipCriteriaInput | None = None


@strawberry.input
class UpdateScholarshipInput:
    scholarship_id: strawberry.ID
    name: str | None = None
    description: str | None = strawberry.field(default=None, description="Empty: none.")
    budget: Decimal | None = strawberry.field(default=None, description="Never below what is awarded.")
    active: bool | None = None
    criteria: ScholarshipCriteriaInput | None = strawberry.field(
        default=None, description="Replace them all."
    )


@strawberry.type
class ScholarshipPayload:
    scholarship: Scholarship | None
    user_errors: list[UserError]

    @classmethod
    def of(cls, result: ScholarshipModel | list[Problem]) -> ScholarshipPayload:
        if isinstance(result, list):
            return cls(scholarship=None, user_errors=user_errors(result))
        return cls(scholarship=Scholarship.from_model(result), user_errors=[])


@strawberry.type
class ScholarshipQueries:
    @strawberry.field(description="The school's scholarships, of a term or all, newest first (staff/admin).")
    async def scholarships(
        self,
        info: Info,
        term_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[Scholarship]:
        page = await scholarships.list_scholarships(
            info.context, str(term_id) if term_id is not None else None, first, after
        )
        return connection_of(page, Scholarship.from_model)

    @strawberry.field(
        description="The school's students ranked for a scholarship: share of criteria met, then GPA, "
        "then attendance; each criterion explained (staff/admin)."
    )
    async def scholarship_matches(
        self,
        info: Info,
        scholarship_id: strawberry.ID,
        eligible_only: bool | None = False,
        first: int | None = None,
        after: str | None = None,
    ) -> ScholarshipMatchConnection:
        found = await matching.scholarship_matches(
            info.context, str(scholarship_id), bool(eligible_only), first, after
        )
        return ScholarshipMatchConnection.of(found)


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

    @strawberry.mutation(
        description="A fixed amount or a percentage of the student's term charges, a budget and criteria."
    )
    async def create_scholarship(self, info: Info, input: CreateScholarshipInput) -> ScholarshipPayload:
        request = NewScholarship(
            term_id=str(input.term_id),
            name=input.name,
            description=input.description,
            amount=input.amount,
            percentage=input.percentage,
            currency=input.currency,
            budget=input.budget,
            criteria=input.criteria.to_criteria() if input.criteria else Criteria(),
        )
        return ScholarshipPayload.of(await scholarships.create_scholarship(info.context, request))

    @strawberry.mutation(
        description="The budget never below what is awarded; active: false stops new awards."
    )
    async def update_scholarship(self, info: Info, input: UpdateScholarshipInput) -> ScholarshipPayload:
        changes = ScholarshipChanges(
            scholarship_id=str(input.scholarship_id),
            name=input.name,
            description=input.description,
            budget=input.budget,
            active=input.active,
            criteria=input.criteria.to_criteria() if input.criteria else None,
        )
        return ScholarshipPayload.of(await scholarships.update_scholarship(info.context, changes))
