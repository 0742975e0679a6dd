"""Typed rows of each OneRoster file, parsed from a `Line`; a value that cannot be one raises
`LineProblem` naming the column, so the line is reported and left out whole.

Every file's `status` is blank or `active` (the line is to be there) or `tobedeleted`.
`dateLastModified` is read for its form only: a line is applied whatever its date, and a second
import of the same line changes nothing because its values are compared, not its date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from resolvers.oneroster.csv_files import Line

ACTIVE = "active"
TO_BE_DELETED = "tobedeleted"
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# CEDS grade codes: pre-school ones become -1, kindergarten 0, "01".."13" their number.
PRE_K_GRADES = frozenset({"IT", "PR", "PK", "TK", "PS"})
MAX_SOURCED_ID = 255


class LineProblem(Exception):
    """Why a line is left out: the column (`field`), a stable code and a message for people."""

    def __init__(self, field: str | None, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


def text(line: Line, column: str, *, required: bool = False, max_length: int | None = None) -> str:
    value = line.get(column)
    if required and not value:
        raise LineProblem(column, "REQUIRED", f"{column} is required.")
    if max_length is not None and len(value) > max_length:
        raise LineProblem(column, "INVALID", f"{column} is longer than {max_length} characters.")
    return value


def a_list(line: Line, column: str) -> list[str]:
    """A OneRoster list value: comma-separated (the whole value quoted in the CSV)."""
    return [item.strip() for item in line.get(column).split(",") if item.strip()]


def a_date(line: Line, column: str, *, required: bool = False) -> date | None:
    value = text(line, column, required=required)
    if not value:
        return None
    try:
        if len(value) == 10:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        raise LineProblem(column, "INVALID", f"{column} must be a date (YYYY-MM-DD).") from None


def status(line: Line) -> str:
    value = line.get("status") or ACTIVE
    if value not in (ACTIVE, TO_BE_DELETED):
        raise LineProblem("status", "INVALID", "status must be active or tobedeleted (or blank).")
    modified = line.get("dateLastModified")
    if modified:
        try:
            datetime.fromisoformat(modified.replace("Z", "+00:00"))
        except ValueError:
            raise LineProblem(
                "dateLastModified", "INVALID", "dateLastModified must be an ISO 8601 time."
            ) from None
    return value


def sourced_id(line: Line, column: str = "sourcedId") -> str:
    return text(line, column, required=True, max_length=MAX_SOURCED_ID)


def a_boolean(line: Line, column: str) -> bool:
    value = line.get(column).lower()
    if value in ("", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise LineProblem(column, "INVALID", f"{column} must be true or false.")


def grade_level(code: str) -> int:
    """A CEDS grade code as the school's grade level."""
    upper = code.upper()
    if upper in PRE_K_GRADES:
        return -1
    if upper == "KG":
        return 0
    if upper.isdigit() and 1 <= int(upper) <= 13:
        return int(upper)
    raise LineProblem("grades", "INVALID", f"{code!r} is not a grade (KG, 01-13, PK...).")


def grade_code(level: int) -> str:
    """The CEDS code of a grade level (the inverse of `grade_level`)."""
    if level < 0:
        return "PK"
    return "KG" if level == 0 else f"{level:02d}"


@dataclass(frozen=True, slots=True)
class OrgRow:
    sourced_id: str
    status: str
    name: str
    type: str
    identifier: str


@dataclass(frozen=True, slots=True)
class SessionRow:
    sourced_id: str
    status: str
    title: str
    type: str
    starts_on: date
    ends_on: date
    parent: str


@dataclass(frozen=True, slots=True)
class CourseRow:
    sourced_id: str
    status: str
    title: str
    code: str
    org: str
    credits: Decimal


@dataclass(frozen=True, slots=True)
class ClassRow:
    sourced_id: str
    status: str
    title: str
    room: str | None
    course: str
    term: str
    school: str


@dataclass(frozen=True, slots=True)
class RoleRow:
    sourced_id: str
    status: str
    user: str
    role: str
    primary: bool
    org: str


@dataclass(frozen=True, slots=True)
class UserRow:
    sourced_id: str
    status: str
    email: str
    name: str
    identifier: str
    grades: list[str]
    agents: list[str]
    role_column: str
    cohort_year: int | None


@dataclass(frozen=True, slots=True)
class EnrollmentRow:
    sourced_id: str
    status: str
    klass: str
    school: str
    user: str
    role: str
    primary: bool
    begins_on: date | None
    ends_on: date | None


def org_row(line: Line) -> OrgRow:
    return OrgRow(
        sourced_id(line), status(line), text(line, "name", required=True), text(line, "type", required=True),
        line.get("identifier"),
    )  # fmt: skip


def session_row(line: Line) -> SessionRow:
    row_status = status(line)
    starts_on = a_date(line, "startDate", required=True)
    ends_on = a_date(line, "endDate", required=True)
    assert starts_on is not None
    assert ends_on is not None
    if ends_on < starts_on:
        raise LineProblem("endDate", "INVALID", "endDate is before startDate.")
    return SessionRow(
        sourced_id(line), row_status, text(line, "title", required=True, max_length=80),
        text(line, "type", required=True), starts_on, ends_on, line.get("parentSourcedId"),
    )  # fmt: skip


def course_row(line: Line) -> CourseRow:
    """courseCode is the course's code (unique in the school); without one, the sourcedId is."""
    row_sourced_id, row_status = sourced_id(line), status(line)
    code = text(line, "courseCode", max_length=32) or row_sourced_id
    if len(code) > 32:
        raise LineProblem(
            "courseCode", "REQUIRED", "courseCode is required (the sourcedId is too long to be one)."
        )
    credits = Decimal(1)
    raw_credits = line.get("metadata.credits")
    if raw_credits:
        try:
            credits = Decimal(raw_credits)
        except InvalidOperation:
            credits = Decimal(-1)
        if not (credits.is_finite() and 0 <= credits <= Decimal("999.9")) or credits != round(credits, 1):
            raise LineProblem(
                "metadata.credits", "INVALID", "metadata.credits must be a number from 0 to 999.9."
            )
    title = text(line, "title", required=True, max_length=200)
    return CourseRow(row_sourced_id, row_status, title, code, line.get("orgSourcedId"), credits)


def class_row(line: Line) -> ClassRow:
    """The class's term is the first of its termSourcedIds; `location` is its room."""
    row_sourced_id, row_status = sourced_id(line), status(line)
    terms = a_list(line, "termSourcedIds")
    if not terms:
        raise LineProblem("termSourcedIds", "REQUIRED", "termSourcedIds is required.")
    return ClassRow(
        row_sourced_id, row_status, text(line, "title", required=True, max_length=200),
        text(line, "location", max_length=40) or None, text(line, "courseSourcedId", required=True), terms[0],
        line.get("schoolSourcedId"),
    )  # fmt: skip


def role_row(line: Line) -> RoleRow:
    row_sourced_id, row_status = sourced_id(line), status(line)
    user, role = text(line, "userSourcedId", required=True), text(line, "role", required=True)
    return RoleRow(
        row_sourced_id, row_status, user, role, line.get("roleType") != "secondary", line.get("orgSourcedId")
    )


def user_row(line: Line) -> UserRow:
    """The account's email is `email`, or `username` when that is an email; its name is
    givenName [middleName] familyName. `metadata.cohortYear` (what our exports write) sets the
    student's cohort year."""
    row_sourced_id, row_status = sourced_id(line), status(line)
    email = (line.get("email") or line.get("username")).lower()
    if not email:
        raise LineProblem("email", "REQUIRED", "email is required (or a username that is an email).")
    if len(email) > 320 or not EMAIL.fullmatch(email):
        raise LineProblem("email", "INVALID", "Not an email address.")
    name = " ".join(
        part for part in (line.get("givenName"), line.get("middleName"), line.get("familyName")) if part
    )
    if not name:
        raise LineProblem("givenName", "REQUIRED", "givenName or familyName is required.")
    if len(name) > 200:
        raise LineProblem("givenName", "INVALID", "The name is longer than 200 characters.")
    cohort = line.get("metadata.cohortYear")
    if cohort and not (cohort.isdigit() and 1900 <= int(cohort) <= 2200):
        raise LineProblem("metadata.cohortYear", "INVALID", "metadata.cohortYear must be a year.")
    identifier = text(line, "identifier", max_length=32)
    return UserRow(
        row_sourced_id, row_status, email, name, identifier, a_list(line, "grades"),
        a_list(line, "agentSourcedIds"), line.get("role"), int(cohort) if cohort else None,
    )  # fmt: skip


def enrollment_row(line: Line) -> EnrollmentRow:
    row_status = status(line)
    begins_on, ends_on = a_date(line, "beginDate"), a_date(line, "endDate")
    klass, user = text(line, "classSourcedId", required=True), text(line, "userSourcedId", required=True)
    role, primary = text(line, "role", required=True), a_boolean(line, "primary")
    return EnrollmentRow(
        sourced_id(line),
        row_status,
        klass,
        line.get("schoolSourcedId"),
        user,
        role,
        primary,
        begins_on,
        ends_on,
    )
