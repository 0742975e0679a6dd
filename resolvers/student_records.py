"""Student records as the school's staff keep them: made (an INVITED account, its profile and its
emergency contacts, all in one transaction, optionally with an invitation) and edited.

A student number is unique in its school and an email everywhere. Both are checked before
writing, and a concurrent writer that takes one between the check and the commit fails the
database's unique constraint at the flush, which is answered with the same CONFLICT and rolls
everything back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Problem, ProblemError
from models import EmergencyContact, StudentProfile, User
from models.base import utcnow
from models.enums import Role, StudentStatus
from resolvers import audit
from resolvers.after_commit import teacher_dashboards_changed
from resolvers.analytics import refresh_student_risk
from resolvers.invitations import IssuedInvitation, issue
from resolvers.people import (
    account_pk,
    email_problem,
    email_taken,
    invited_account,
    is_email_taken,
    name_problem,
)
from resolvers.roster_rules import flush_or_refuse, not_found, require_staff
from resolvers.student_dashboard import dashboards_changed

if TYPE_CHECKING:
    from context import Context

MAX_STUDENT_NUMBER_LENGTH = 32
GRADE_LEVELS = range(14)  # kindergarten to a thirteenth year
COHORT_YEARS = range(1900, 2201)
MAX_CONTACTS = 10
CONTACT_LIMITS = {"name": 200, "relationship": 60, "phone": 40}


@dataclass(frozen=True)
class ContactFields:
    name: str
    relationship: str
    phone: str
    email: str | None = None


@dataclass
class StudentFields:
    """What CreateStudentInput and UpdateStudentInput give; None: not given (kept on update)."""

    name: str | None = None
    email: str | None = None
    student_number: str | None = None
    grade_level: int | None = None
    cohort_year: int | None = None
    status: StudentStatus | None = None
    emergency_contacts: list[ContactFields] | None = None


@dataclass
class StudentRecord:
    user: User
    profile: StudentProfile
    invitation: IssuedInvitation | None = None


def _cleaned(fields: StudentFields) -> StudentFields:
    contacts = fields.emergency_contacts
    return StudentFields(
        name=fields.name.strip() if fields.name is not None else None,
        email=fields.email.strip().lower() if fields.email is not None else None,
        student_number=fields.student_number.strip() if fields.student_number is not None else None,
        grade_level=fields.grade_level,
        cohort_year=fields.cohort_year,
        status=fields.status,
        emergency_contacts=None
        if contacts is None
        else [
            ContactFields(
                c.name.strip(),
                c.relationship.strip(),
                c.phone.strip(),
                (c.email or "").strip().lower() or None,
            )
            for c in contacts
        ],
    )


def _problems(fields: StudentFields) -> list[Problem]:
    problems = []
    if fields.name is not None and (problem := name_problem(fields.name, ("input", "name"))):
        problems.append(problem)
    if fields.email is not None and (problem := email_problem(fields.email, ("input", "email"))):
        problems.append(problem)
    if fields.student_number is not None and not 0 < len(fields.student_number) <= MAX_STUDENT_NUMBER_LENGTH:
        message = f"A student number of 1 to {MAX_STUDENT_NUMBER_LENGTH} characters."
        problems.append(Problem(message, "INVALID", ("input", "studentNumber")))
    if fields.grade_level is not None and fields.grade_level not in GRADE_LEVELS:
        message = f"A grade level from {GRADE_LEVELS[0]} to {GRADE_LEVELS[-1]}."
        problems.append(Problem(message, "INVALID", ("input", "gradeLevel")))
    if fields.cohort_year is not None and fields.cohort_year not in COHORT_YEARS:
        message = f"A cohort year from {COHORT_YEARS[0]} to {COHORT_YEARS[-1]}."
        problems.append(Problem(message, "INVALID", ("input", "cohortYear")))
    contacts = fields.emergency_contacts or []
    if len(contacts) > MAX_CONTACTS:
        message = f"At most {MAX_CONTACTS} emergency contacts."
        problems.append(Problem(message, "INVALID", ("input", "emergencyContacts")))
    for index, contact in enumerate(contacts):
        at = ("input", "emergencyContacts", str(index))
        for key, limit in CONTACT_LIMITS.items():
            if not 0 < len(getattr(contact, key)) <= limit:
                problems.append(Problem(f"1 to {limit} characters.", "INVALID", (*at, key)))
        if contact.email and (problem := email_problem(contact.email, (*at, "email"))):
            problems.append(problem)
    return problems


def _number_taken() -> Problem:
    return Problem("This student number is used in the school.", "CONFLICT", ("input", "studentNumber"))


async def _conflicts(
    session: AsyncSession, school_id: int, fields: StudentFields, student_id: int | None
) -> None:
    """Raises CONFLICT for a student number used in the school or an email used anywhere."""
    problems = []
    if fields.student_number is not None:
        query = select(StudentProfile.user_id).where(
            StudentProfile.school_id == school_id, StudentProfile.student_number == fields.student_number
        )
        if student_id is not None:
            query = query.where(StudentProfile.user_id != student_id)
        if await session.scalar(query.limit(1)) is not None:
            problems.append(_number_taken())
    if fields.email is not None and await is_email_taken(session, fields.email, student_id):
        problems.append(email_taken())
    if problems:
        raise ProblemError(*problems)


async def _replace_contacts(session: AsyncSession, student_id: int, contacts: list[ContactFields]) -> None:
    await session.execute(delete(EmergencyContact).where(EmergencyContact.student_id == student_id))
    if contacts:
        await session.execute(
            insert(EmergencyContact),
            [
                {"student_id": student_id, "position": position, "name": c.name,
                 "relationship": c.relationship, "phone": c.phone, "email": c.email}
                for position, c in enumerate(contacts)
            ],
        )  # fmt: skip


async def create_student(
    ctx: Context, given: StudentFields, *, invite: bool
) -> StudentRecord | list[Problem]:
    """Staff and admins: the account (STUDENT, INVITED, no password), its profile and its emergency
    contacts; with `invite`, an invitation whose code is in the answer."""
    caller = require_staff(ctx)
    fields = _cleaned(given)
    problems = _problems(fields)
    if problems:
        return problems
    # CreateStudentInput requires these.
    assert fields.name is not None
    assert fields.email is not None
    assert fields.student_number is not None
    assert fields.grade_level is not None
    assert fields.cohort_year is not None
    moment = utcnow()
    try:
        async with ctx.writer.begin() as session:
            await _conflicts(session, caller.school_id, fields, None)
            user = invited_account(caller.school_id, fields.email, fields.name, Role.STUDENT, moment)
            session.add(user)
            await flush_or_refuse(session, email_taken())
            profile = StudentProfile(
                user_id=user.id,
                school_id=caller.school_id,
                student_number=fields.student_number,
                grade_level=fields.grade_level,
                cohort_year=fields.cohort_year,
                status=fields.status or StudentStatus.ENROLLED,
            )
            session.add(profile)
            await flush_or_refuse(session, _number_taken())
            await _replace_contacts(session, user.id, fields.emergency_contacts or [])
            await refresh_student_risk(session, [user.id], moment)
            invitation = await issue(session, user, caller.id, moment) if invite else None
            detail = {"studentNumber": profile.student_number, "invited": invite}
            audit.record(session, ctx, "student.created", "Student", user.id, detail=detail)
    except ProblemError as refused:
        return refused.problems
    return StudentRecord(user, profile, invitation)


async def update_student(
    ctx: Context, student_gid: str, given: StudentFields
) -> StudentRecord | list[Problem]:
    """Staff and admins; the checks of create_student; emergency contacts given replace the list."""
    caller = require_staff(ctx)
    fields = _cleaned(given)
    problems = _problems(fields)
    if problems:
        return problems
    pk = account_pk(student_gid)
    try:
        async with ctx.writer.begin() as session:
            profile = await session.get(StudentProfile, pk, with_for_update=True) if pk is not None else None
            if profile is None or profile.school_id != caller.school_id:
                raise ProblemError(not_found(("input", "studentId"), "student"))
            user = await session.get(User, profile.user_id, with_for_update=True)
            assert user is not None
            await _conflicts(session, caller.school_id, fields, user.id)
            changed = _apply(user, [("name", "name", fields.name), ("email", "email", fields.email)])
            await flush_or_refuse(session, email_taken())
            changed += _apply(
                profile,
                [
                    ("studentNumber", "student_number", fields.student_number),
                    ("gradeLevel", "grade_level", fields.grade_level),
                    ("cohortYear", "cohort_year", fields.cohort_year),
                    ("status", "status", fields.status),
                ],
            )
            await flush_or_refuse(session, _number_taken())
            if fields.emergency_contacts is not None:
                await _replace_contacts(session, user.id, fields.emergency_contacts)
                changed.append("emergencyContacts")
            audit.record(session, ctx, "student.updated", "Student", user.id, detail={"changed": changed})
    except ProblemError as refused:
        return refused.problems
    if "name" in changed:  # the dashboards that show it
        await dashboards_changed(ctx.app, [user.id])
        await teacher_dashboards_changed(ctx.app, student_ids=[user.id])
    return StudentRecord(user, profile)


def _apply(row: User | StudentProfile, targets: list[tuple[str, str, Any]]) -> list[str]:
    """Sets the given (not None) values of (input name, attribute, value); the input names of
    those that changed."""
    changed = []
    for label, attribute, value in targets:
        if value is not None and getattr(row, attribute) != value:
            setattr(row, attribute, value)
            changed.append(label)
    return changed
