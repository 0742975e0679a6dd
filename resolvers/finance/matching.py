"""Scholarship matching: how well students fit a scholarship's criteria, each criterion explained.

A scholarship's criteria are each optional: a minimum GPA (the cumulative GPA of the student's
academic record, loaders/academics.py, as their profile shows it), a maximum household income
band and financial need (the financial-aid profile, resolvers/finance/aid.py), grade levels, and
a minimum attendance rate (the share of class meetings attended in the student's current
classes, present or late, excused absences left out: what the risk model counts,
loaders/signals.py). A value that is not known (no final grade yet, no profile, no attendance
taken) never meets a criterion; nothing is guessed.

score = the share of the criteria met (1 for a scholarship without criteria); a student is
eligible when they meet every one. A school's students are ranked by score, then GPA, then
attendance (unknown last), then id, so the order is the same on every run. Every read is
grouped over all the students at once: a fixed number of statements however many there are.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from errors import Forbidden
from loaders.academics import academic_records
from loaders.signals import gather_signals
from models import FinancialAidProfile, Invoice, InvoiceLine, Scholarship, ScholarshipAward, StudentProfile
from models.enums import AwardStatus, HouseholdIncomeBand, ScholarshipKind, StudentStatus
from models.money import CENT
from resolvers.finance.access import require_finance_staff
from resolvers.finance.lines import POSTED_STATUSES, ZERO
from resolvers.pagination import Page, cursor_id, encode_cursor, page_size
from resolvers.policy import NOT_VISIBLE
from resolvers.roster_rules import decode_or_none

if TYPE_CHECKING:
    from context import Context

BANDS = list(HouseholdIncomeBand)  # lowest first
GONE = (StudentStatus.GRADUATED, StudentStatus.WITHDRAWN)
CHUNK = 1000  # students per batch of reads (bind parameters stay far below every driver's limit)


class Criterion(enum.Enum):
    MIN_GPA = "MIN_GPA"
    MAX_HOUSEHOLD_INCOME_BAND = "MAX_HOUSEHOLD_INCOME_BAND"
    FINANCIAL_NEED = "FINANCIAL_NEED"
    GRADE_LEVEL = "GRADE_LEVEL"
    MIN_ATTENDANCE_RATE = "MIN_ATTENDANCE_RATE"


@dataclass(frozen=True)
class Criteria:
    """A scholarship's criteria; stored in `Scholarship.criteria` as `stored()` gives them.
    No grade levels: every grade."""

    min_gpa: float | None = None
    max_household_income_band: HouseholdIncomeBand | None = None
    requires_financial_need: bool = False
    grade_levels: tuple[int, ...] = ()
    min_attendance_rate: float | None = None

    @classmethod
    def of(cls, stored: dict[str, Any]) -> Criteria:
        band = stored.get("max_household_income_band")
        return cls(
            min_gpa=stored.get("min_gpa"),
            max_household_income_band=HouseholdIncomeBand(band) if band else None,
            requires_financial_need=bool(stored.get("requires_financial_need")),
            grade_levels=tuple(stored.get("grade_levels") or ()),
            min_attendance_rate=stored.get("min_attendance_rate"),
        )

    def stored(self) -> dict[str, Any]:
        band = self.max_household_income_band
        return {
            "min_gpa": self.min_gpa,
            "max_household_income_band": band.value if band else None,
            "requires_financial_need": self.requires_financial_need,
            "grade_levels": list(self.grade_levels),
            "min_attendance_rate": self.min_attendance_rate,
        }


@dataclass(frozen=True)
class StudentFacts:
    """What the criteria read of one student; None where it is not known."""

    student_id: int
    grade_level: int
    gpa: float | None
    attempted_credits: float
    attendance_rate: float | None
    meetings: int
    band: HouseholdIncomeBand | None
    financial_need: bool | None  # None: no financial-aid profile recorded


@dataclass(frozen=True)
class CriterionResult:
    criterion: Criterion
    met: bool
    required: str
    student_value: str | None
    detail: str


@dataclass(frozen=True)
class Match:
    scholarship: Scholarship
    student_id: int
    score: float
    eligible: bool
    awarded: bool
    proposed_amount: Decimal
    criteria: list[CriterionResult]
    gpa: float | None
    attendance_rate: float | None
    rank: int = 0


@dataclass(frozen=True)
class MatchPage:
    page: Page[Match]
    eligible_count: int


def explain(criteria: Criteria, facts: StudentFacts) -> list[CriterionResult]:
    """Each of the scholarship's criteria, met or not, with the student's value."""
    results: list[CriterionResult] = []
    if criteria.min_gpa is not None:
        results.append(_gpa(criteria.min_gpa, facts))
    if criteria.max_household_income_band is not None:
        results.append(_band(criteria.max_household_income_band, facts))
    if criteria.requires_financial_need:
        results.append(_need(facts))
    if criteria.grade_levels:
        levels = [str(level) for level in criteria.grade_levels]
        listed = levels[0] if len(levels) == 1 else f"{', '.join(levels[:-1])} or {levels[-1]}"
        results.append(
            CriterionResult(
                Criterion.GRADE_LEVEL,
                facts.grade_level in criteria.grade_levels,
                f"Grade level {listed}",
                str(facts.grade_level),
                f"In grade {facts.grade_level}.",
            )
        )
    if criteria.min_attendance_rate is not None:
        results.append(_attendance(criteria.min_attendance_rate, facts))
    return results


def _gpa(minimum: float, facts: StudentFacts) -> CriterionResult:
    required = f"GPA at least {minimum:.2f}"
    if facts.gpa is None:
        detail = "No completed class with a final grade yet: the GPA is unknown."
        return CriterionResult(Criterion.MIN_GPA, False, required, None, detail)
    detail = f"Cumulative GPA {facts.gpa:.2f} over {facts.attempted_credits:g} credits."
    return CriterionResult(Criterion.MIN_GPA, facts.gpa >= minimum, required, f"{facts.gpa:.2f}", detail)


def _band(maximum: HouseholdIncomeBand, facts: StudentFacts) -> CriterionResult:
    required = f"Household income band {maximum.value} or lower"
    if facts.band is None:
        detail = "No household income band recorded."
        return CriterionResult(Criterion.MAX_HOUSEHOLD_INCOME_BAND, False, required, None, detail)
    met = BANDS.index(facts.band) <= BANDS.index(maximum)
    detail = f"Household income band recorded as {facts.band.value}."
    return CriterionResult(Criterion.MAX_HOUSEHOLD_INCOME_BAND, met, required, facts.band.value, detail)


def _need(facts: StudentFacts) -> CriterionResult:
    if facts.financial_need is None:
        return CriterionResult(
            Criterion.FINANCIAL_NEED, False, "Financial need", None, "No financial-aid profile recorded."
        )
    detail = "Financial need recorded." if facts.financial_need else "No financial need recorded."
    value = "true" if facts.financial_need else "false"
    return CriterionResult(Criterion.FINANCIAL_NEED, facts.financial_need, "Financial need", value, detail)


def _attendance(minimum: float, facts: StudentFacts) -> CriterionResult:
    required = f"Attendance rate at least {minimum:.0%}"
    rate = facts.attendance_rate
    if rate is None:
        detail = "No attendance recorded in current classes: the rate is unknown."
        return CriterionResult(Criterion.MIN_ATTENDANCE_RATE, False, required, None, detail)
    detail = f"Attended {rate:.1%} of {facts.meetings} class meetings in current classes."
    return CriterionResult(Criterion.MIN_ATTENDANCE_RATE, rate >= minimum, required, f"{rate:.4f}", detail)


def proposed_amount(scholarship: Scholarship, term_charges: Decimal) -> Decimal:
    """What an award would be: the fixed amount, or the percentage of the term's charges (to the
    cent, half up)."""
    if scholarship.kind is ScholarshipKind.FIXED:
        assert scholarship.amount is not None
        return scholarship.amount
    assert scholarship.percentage is not None
    return (term_charges * scholarship.percentage / 100).quantize(CENT, rounding=ROUND_HALF_UP)


async def student_facts(session: AsyncSession, profiles: Sequence[StudentProfile]) -> dict[int, StudentFacts]:
    """The criteria's inputs for these students: three reads and the risk model's, per chunk."""
    found: dict[int, StudentFacts] = {}
    now = datetime.now(UTC)
    for start in range(0, len(profiles), CHUNK):
        chunk = profiles[start : start + CHUNK]
        ids = [profile.user_id for profile in chunk]
        records = await academic_records(session, ids)
        signals = await gather_signals(session, ids, now)
        aid = {
            row.student_id: row
            for row in await session.scalars(
                select(FinancialAidProfile).where(FinancialAidProfile.student_id.in_(ids))
            )
        }
        for profile in chunk:
            record = records.get(profile.user_id)
            signal = signals[profile.user_id]
            meetings = signal.attended + signal.absent
            recorded = aid.get(profile.user_id)
            found[profile.user_id] = StudentFacts(
                student_id=profile.user_id,
                grade_level=profile.grade_level,
                gpa=record.gpa if record else None,
                attempted_credits=record.attempted_credits if record else 0.0,
                attendance_rate=round(signal.attended / meetings, 4) if meetings else None,
                meetings=meetings,
                band=recorded.household_income_band if recorded else None,
                financial_need=recorded.financial_need if recorded else None,
            )
    return found


async def term_charges(
    session: AsyncSession, student_ids: Collection[int], term_ids: Collection[int]
) -> dict[tuple[int, int], Decimal]:
    """(student, term) -> what the term's posted invoices charge the student (voids left out)."""
    if not student_ids or not term_ids:
        return {}
    rows = await session.execute(
        select(InvoiceLine.student_id, Invoice.term_id, func.sum(InvoiceLine.amount))
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(
            InvoiceLine.student_id.in_(student_ids),
            Invoice.term_id.in_(term_ids),
            Invoice.status.in_(POSTED_STATUSES),
        )
        .group_by(InvoiceLine.student_id, Invoice.term_id)
    )
    return {(student_id, term_id): Decimal(total) for student_id, term_id, total in rows.all()}


async def active_awards(
    session: AsyncSession, scholarship_ids: Collection[int], student_ids: Collection[int]
) -> set[tuple[int, int]]:
    """The (scholarship, student) pairs with an ACTIVE award."""
    if not scholarship_ids or not student_ids:
        return set()
    rows = await session.execute(
        select(ScholarshipAward.scholarship_id, ScholarshipAward.student_id).where(
            ScholarshipAward.scholarship_id.in_(scholarship_ids),
            ScholarshipAward.student_id.in_(student_ids),
            ScholarshipAward.status == AwardStatus.ACTIVE,
        )
    )
    return {(scholarship_id, student_id) for scholarship_id, student_id in rows.all()}


async def matches(
    session: AsyncSession, scholarships: Sequence[Scholarship], profiles: Sequence[StudentProfile]
) -> list[Match]:
    """Every (scholarship, student) pair evaluated, scholarship by scholarship, students in order."""
    ids = [profile.user_id for profile in profiles]
    facts = await student_facts(session, profiles)
    charges = await term_charges(session, ids, {scholarship.term_id for scholarship in scholarships})
    awarded = await active_awards(session, [scholarship.id for scholarship in scholarships], ids)
    found = []
    for scholarship in scholarships:
        criteria = Criteria.of(scholarship.criteria)
        for student_id in ids:
            results = explain(criteria, facts[student_id])
            met = sum(result.met for result in results)
            found.append(
                Match(
                    scholarship=scholarship,
                    student_id=student_id,
                    score=round(met / len(results), 4) if results else 1.0,
                    eligible=met == len(results),
                    awarded=(scholarship.id, student_id) in awarded,
                    proposed_amount=proposed_amount(
                        scholarship, charges.get((student_id, scholarship.term_id), ZERO)
                    ),
                    criteria=results,
                    gpa=facts[student_id].gpa,
                    attendance_rate=facts[student_id].attendance_rate,
                )
            )
    return found


def _ranking_key(match: Match) -> tuple[float, bool, float, bool, float, int]:
    return (
        -match.score,
        match.gpa is None,
        -(match.gpa or 0.0),
        match.attendance_rate is None,
        -(match.attendance_rate or 0.0),
        match.student_id,
    )


async def scholarship_matches(
    ctx: Context, scholarship_global_id: str, eligible_only: bool, first: int | None, after: str | None
) -> MatchPage:
    """The school's students (not graduated or withdrawn) ranked for a scholarship (staff/admin);
    one page of the ranking, its cursor the rank."""
    user = require_finance_staff(ctx)
    limit = page_size(first, ctx.settings.max_page_size)
    offset = cursor_id(after) or 0
    pk = decode_or_none(scholarship_global_id, "Scholarship")
    async with ctx.session_factory() as session:
        scholarship = await session.get(Scholarship, pk) if pk is not None else None
        if scholarship is None or scholarship.school_id != user.school_id:
            raise Forbidden(NOT_VISIBLE)
        profiles = list(
            await session.scalars(
                select(StudentProfile).where(
                    StudentProfile.school_id == user.school_id, StudentProfile.status.not_in(GONE)
                )
            )
        )
        ranked = sorted(await matches(session, [scholarship], profiles), key=_ranking_key)
    listed = [match for match in ranked if match.eligible or not eligible_only]
    window = listed[offset : offset + limit]
    by_id = {profile.user_id: profile for profile in profiles}
    for match in window:
        ctx.loaders.student_profile_by_user_id.prime(match.student_id, by_id[match.student_id])
    ranks = {match.student_id: rank for rank, match in enumerate(ranked, start=1)}
    items = [replace(match, rank=ranks[match.student_id]) for match in window]
    page = Page(
        items=items,
        cursors=[encode_cursor(str(offset + index)) for index in range(1, len(items) + 1)],
        total_count=len(listed),
        has_next_page=offset + limit < len(listed),
    )
    return MatchPage(page=page, eligible_count=sum(match.eligible for match in ranked))


async def student_matches(ctx: Context, student_id: int, school_id: int) -> list[Match]:
    """Every active scholarship of the school for one student, best fit first (staff/admin of
    the student's school; FORBIDDEN for anyone else, the student included)."""
    user = require_finance_staff(ctx)
    if user.school_id != school_id:
        raise Forbidden(NOT_VISIBLE)
    found: list[Match] = await ctx.loaders.batched(matches_by_student).load(student_id)
    return found


async def matches_by_student(
    session_factory: async_sessionmaker[AsyncSession], student_ids: list[int]
) -> list[list[Match]]:
    """A batch of Loaders.batched: the active scholarships of each student's school, for them,
    best fit first (score, then the proposed amount), ranked 1 to n."""
    async with session_factory() as session:
        profiles = list(
            await session.scalars(select(StudentProfile).where(StudentProfile.user_id.in_(student_ids)))
        )
        schools = {profile.school_id for profile in profiles}
        scholarships = list(
            await session.scalars(
                select(Scholarship)
                .where(Scholarship.school_id.in_(schools), Scholarship.active.is_(True))
                .order_by(Scholarship.id)
            )
        )
        evaluated = await matches(session, scholarships, profiles)
    school_of = {profile.user_id: profile.school_id for profile in profiles}
    per_student: dict[int, list[Match]] = {student_id: [] for student_id in student_ids}
    for match in evaluated:
        if match.scholarship.school_id == school_of[match.student_id]:
            per_student[match.student_id].append(match)
    return [
        [
            replace(match, rank=rank)
            for rank, match in enumerate(
                sorted(
                    per_student[student_id],
                    key=lambda m: (-m.score, -m.proposed_amount, m.scholarship.id),
                ),
                start=1,
            )
        ]
        for student_id in student_ids
    ]
