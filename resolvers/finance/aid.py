"""Students' financial-aid profiles: what scholarship criteria need to know of a student (the
household income band and financial need). Staff and admins of the student's school set and read
them; a student without a profile has unknown values, which no criterion counts as met."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from errors import Forbidden, Problem, ProblemError
from models import FinancialAidProfile, StudentProfile
from models.base import utcnow
from models.enums import HouseholdIncomeBand
from resolvers import audit
from resolvers.finance.access import require_finance_staff
from resolvers.policy import NOT_VISIBLE
from resolvers.roster_rules import decode_or_none, not_found

if TYPE_CHECKING:
    from context import Context


async def set_financial_aid_profile(
    ctx: Context, student_global_id: str, band: HouseholdIncomeBand | None, financial_need: bool
) -> int | list[Problem]:
    """Creates or replaces the student's profile (audited); the student's id, or NOT_FOUND for a
    student of another school or none."""
    user = require_finance_staff(ctx)
    pk = decode_or_none(student_global_id, "Student")
    try:
        async with ctx.writer.begin() as session:
            student = await session.scalar(
                select(StudentProfile).where(
                    StudentProfile.user_id == pk, StudentProfile.school_id == user.school_id
                )
            )
            if pk is None or student is None:
                raise ProblemError(not_found(("input", "studentId"), "student"))
            profile = await session.get(FinancialAidProfile, pk, with_for_update=True)
            if profile is None:
                profile = FinancialAidProfile(student_id=pk, school_id=user.school_id)
                session.add(profile)
            profile.household_income_band = band
            profile.financial_need = financial_need
            profile.updated_at = utcnow()
            profile.updated_by_id = user.id
            detail = {"householdIncomeBand": band.value if band else None, "financialNeed": financial_need}
            audit.record(session, ctx, "financial_aid.set", "Student", pk, detail=detail)
    except ProblemError as refused:
        return refused.problems
    return pk


async def financial_aid_profile(ctx: Context, student_id: int, school_id: int) -> FinancialAidProfile | None:
    """The profile for staff and admins of the student's school (FORBIDDEN for anyone else, the
    student included); null when none was recorded."""
    user = require_finance_staff(ctx)
    if user.school_id != school_id:
        raise Forbidden(NOT_VISIBLE)
    async with ctx.session_factory() as session:
        return await session.get(FinancialAidProfile, student_id)
