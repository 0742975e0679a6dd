"""roles.csv and users.csv: accounts, their roles and student and teacher records.

- A user's role comes from roles.csv (OneRoster 1.2; the `primary` role wins over secondary
  ones) or, 1.1-style, from a `role` column of users.csv: student, teacher, and guardian,
  parent or relative (a GUARDIAN account, the word kept as the link's relationship). Any other
  role (administrator, aide, proctor...): UNSUPPORTED_ROLE. An import never changes the role of
  an existing account (CONFLICT).
- New accounts are INVITED, without a password (none is imported; an invitation lets them set
  one). An email of another account, in this school or another: CONFLICT.
- Students: `identifier` is the student number (unique in the school: CONFLICT; without one, the
  sourcedId if it fits), the first of `grades` the grade level. Teachers get a teacher record.
- `tobedeleted` users: UNSUPPORTED_STATUS (deactivating an account is done in CampusGraph, where
  it also ends the account's sessions).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import StudentProfile, TeacherProfile, User
from models.enums import Role, UserStatus
from resolvers.oneroster.batch import (
    Batch,
    FirstLines,
    check_org,
    chunked,
    unknown,
    unsupported_deletion,
)
from resolvers.oneroster.csv_files import ROLES, USERS, FileProblem, Line, RosterPackage
from resolvers.oneroster.index import UserEntry
from resolvers.oneroster.records import TO_BE_DELETED, LineProblem, UserRow, grade_level, role_row, user_row

ROLE_OF = {
    "student": Role.STUDENT,
    "teacher": Role.TEACHER,
    "guardian": Role.GUARDIAN,
    "parent": Role.GUARDIAN,
    "relative": Role.GUARDIAN,
}
ENTITY_OF = {Role.STUDENT: "students", Role.TEACHER: "teachers", Role.GUARDIAN: "guardians"}
SUPPORTED = "student, teacher, guardian, parent and relative"


def cohort_year(first_session_start: date, level: int) -> int:
    """A new student's cohort year: the year their class is expected to finish the twelfth grade.
    It counts from the school year of the earliest term or semester of academicSessions.csv
    (today's, without one): a school year that starts in July or later ends the next calendar
    year. A grade 10 student in a set whose first term starts 2026-09-01: 2027 + 2 = 2029.
    `metadata.cohortYear` (our exports write it) is taken as it is instead; an existing
    student's cohort year changes only through that column, never by a new grade."""
    school_year_ends = first_session_start.year + (1 if first_session_start.month >= 7 else 0)
    return school_year_ends + 12 - level


@dataclass(slots=True)
class ChosenRole:
    role: Role
    word: str  # as the file says it: a guardian's relationship
    line: int
    sourced_id: str
    primary: bool
    used: bool = False


@dataclass
class People:
    """What roles.csv and users.csv tell the steps after them."""

    roles: dict[str, ChosenRole] = field(default_factory=dict)
    unsupported: dict[str, str] = field(default_factory=dict)  # user → the unsupported role it has
    relationships: dict[str, str] = field(default_factory=dict)  # guardian → parent, guardian, relative
    agents: list[tuple[int, str, str]] = field(default_factory=list)  # (users.csv line, user, agent)
    emails: dict[str, str] = field(default_factory=dict)  # claimed in this run: email → user
    numbers: dict[str, str] = field(default_factory=dict)  # student number → user


class RolesStep:
    file = ROLES

    def __init__(self, people: People) -> None:
        self.people = people

    def batches(self, package: RosterPackage, problems: list[FileProblem]) -> Iterator[list[Line]]:
        return chunked(package, self.file, problems)

    async def apply(self, batch: Batch, lines: list[Line]) -> None:
        """Roles count with their users: a bad roles line is reported and counts nowhere."""
        for line in lines:
            try:
                row = role_row(line)
                check_org(batch.index.orgs, row.org, "orgSourcedId")
                if row.status == TO_BE_DELETED:
                    raise unsupported_deletion("roles")
                role = ROLE_OF.get(row.role)
                if role is None:
                    self.people.unsupported.setdefault(row.user, row.role)
                    raise LineProblem(
                        "role", "UNSUPPORTED_ROLE", f"{row.role!r} is not imported: only {SUPPORTED}."
                    )
            except LineProblem as problem:
                batch.fail(line, line.get("sourcedId"), problem, None)
                continue
            chosen = self.people.roles.get(row.user)
            if chosen is None or (row.primary and not chosen.primary):
                self.people.roles[row.user] = ChosenRole(
                    role, row.role, line.number, row.sourced_id, row.primary
                )

    async def finish(self, batch: Batch) -> None:
        return None


@dataclass(frozen=True, slots=True)
class _Current:
    email: str
    name: str
    student_number: str | None
    grade_level: int | None
    cohort_year: int | None
    teacher_record: bool


class UsersStep:
    file = USERS

    def __init__(self, people: People) -> None:
        self.people = people
        self.seen = FirstLines()

    def batches(self, package: RosterPackage, problems: list[FileProblem]) -> Iterator[list[Line]]:
        return chunked(package, self.file, problems)

    def _role(self, row: UserRow) -> Role:
        chosen = self.people.roles.get(row.sourced_id)
        word = chosen.word if chosen is not None else row.role_column
        if chosen is not None:
            chosen.used = True
            role: Role | None = chosen.role
        elif row.role_column:
            role = ROLE_OF.get(row.role_column)
            if role is None:
                raise LineProblem(
                    "role", "UNSUPPORTED_ROLE", f"{row.role_column!r} is not imported: only {SUPPORTED}."
                )
        elif row.sourced_id in self.people.unsupported:
            found = self.people.unsupported[row.sourced_id]
            raise LineProblem(
                "role", "UNSUPPORTED_ROLE", f"roles.csv gives this user only {found!r}: only {SUPPORTED}."
            )
        else:
            raise LineProblem("role", "REQUIRED", "The user has no role: add one to roles.csv.")
        assert role is not None
        if role == Role.GUARDIAN:
            self.people.relationships[row.sourced_id] = word
        return role

    async def apply(self, batch: Batch, lines: list[Line]) -> None:
        index, people = batch.index, self.people
        rows: list[tuple[Line, UserRow, Role]] = []
        for line in lines:
            try:
                row = user_row(line)
                self.seen.check(row.sourced_id, line)
                if row.status == TO_BE_DELETED:
                    raise unsupported_deletion("users")
                rows.append((line, row, self._role(row)))
            except LineProblem as problem:
                batch.fail(line, line.get("sourcedId"), problem, "users")
        await _refresh_known(batch, [row.sourced_id for _, row, _ in rows])
        known = [index.users[row.sourced_id].id for _, row, _ in rows if row.sourced_id in index.users]
        current = await _current(batch.session, [pk for pk in known if pk > 0])
        email_owners = await _email_owners(batch.session, {row.email for _, row, _ in rows})
        number_owners = await _number_owners(
            batch.session,
            index.school_id,
            {_number(row) for _, row, role in rows if role == Role.STUDENT} - {""},
        )
        plan = _Plan()
        for line, row, role in rows:
            entry = index.users.get(row.sourced_id)
            try:
                self._check(row, role, entry, email_owners, number_owners)
                plan.add(batch, row, role, entry, current.get(entry.id) if entry else None)
            except LineProblem as problem:
                batch.fail(line, row.sourced_id, problem, ENTITY_OF[role])
                continue
            people.emails[row.email] = row.sourced_id
            if role == Role.STUDENT:
                people.numbers[_number(row)] = row.sourced_id
            people.agents.extend((line.number, row.sourced_id, agent) for agent in row.agents)
        await plan.write(batch)

    def _check(
        self,
        row: UserRow,
        role: Role,
        entry: UserEntry | None,
        email_owners: dict[str, int],
        number_owners: dict[str, int],
    ) -> None:
        key = row.sourced_id
        if entry is not None and entry.role != role:
            raise LineProblem(
                "role", "CONFLICT", f"This account is a {entry.role.value}: an import does not change roles."
            )
        owner, claimed = email_owners.get(row.email), self.people.emails.get(row.email)
        if (owner is not None and (entry is None or owner != entry.id)) or (
            claimed is not None and claimed != key
        ):
            raise LineProblem("email", "CONFLICT", "Another account has this email.")
        if role != Role.STUDENT:
            return
        number = _number(row)
        if not number:
            raise LineProblem("identifier", "REQUIRED", "A student needs an identifier (the student number).")
        owner, claimed = number_owners.get(number), self.people.numbers.get(number)
        if (owner is not None and (entry is None or owner != entry.id)) or (
            claimed is not None and claimed != key
        ):
            raise LineProblem(
                "identifier", "CONFLICT", f"Another student of the school has the number {number!r}."
            )

    async def finish(self, batch: Batch) -> None:
        """roles.csv lines whose user is neither in users.csv nor the school."""
        for key, chosen in self.people.roles.items():
            if not chosen.used and key not in batch.index.users:
                batch.fail(
                    chosen.line, chosen.sourced_id, unknown("userSourcedId", "user", key), None, file=ROLES
                )


def _number(row: UserRow) -> str:
    return row.identifier or (row.sourced_id if len(row.sourced_id) <= 32 else "")


@dataclass
class _Plan:
    """The writes of one batch of users.csv lines: new accounts and their records, changes."""

    new_users: list[tuple[UserEntry, dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)
    user_updates: list[dict[str, Any]] = field(default_factory=list)
    student_updates: list[dict[str, Any]] = field(default_factory=list)
    new_students: list[dict[str, Any]] = field(default_factory=list)
    new_teachers: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self, batch: Batch, row: UserRow, role: Role, entry: UserEntry | None, current: _Current | None
    ) -> None:
        """Plans one line (raising LineProblem before anything is planned for it)."""
        index, entity = batch.index, ENTITY_OF[role]
        level = grade_level(row.grades[0]) if row.grades else None
        student: dict[str, Any] | None = None
        if role == Role.STUDENT:
            if level is None and (current is None or current.grade_level is None):
                raise LineProblem("grades", "REQUIRED", "A student needs a grade (grades).")
            level = level if level is not None else current.grade_level if current else None
            assert level is not None
            cohort = row.cohort_year or (current.cohort_year if current else None)
            cohort = cohort or cohort_year(index.first_session_start or batch.today, level)
            student = {
                "school_id": index.school_id,
                "student_number": _number(row),
                "grade_level": level,
                "cohort_year": cohort,
            }
        if entry is None:
            account = {
                "school_id": index.school_id, "email": row.email, "name": row.name, "role": role,
                "status": UserStatus.INVITED, "password_hash": None, "sourced_id": row.sourced_id,
            }  # fmt: skip
            entry = UserEntry(0, role)
            index.users[row.sourced_id] = entry
            self.new_users.append((entry, account, student))
            batch.count(entity, "created")
            return
        changed = False
        if current is None or (current.email, current.name) != (row.email, row.name):
            self.user_updates.append({"id": entry.id, "email": row.email, "name": row.name})
            changed = True
        if student is not None:
            if current is None or current.student_number is None:
                self.new_students.append(student | {"user_id": entry.id})
                changed = True
            elif (current.student_number, current.grade_level, current.cohort_year) != (
                student["student_number"],
                student["grade_level"],
                student["cohort_year"],
            ):
                self.student_updates.append(
                    {k: v for k, v in student.items() if k != "school_id"} | {"user_id": entry.id}
                )
                changed = True
        if role == Role.TEACHER and (current is None or not current.teacher_record):
            self.new_teachers.append({"user_id": entry.id, "school_id": index.school_id})
            changed = True
        batch.count(entity, "updated" if changed else "unchanged")

    async def write(self, batch: Batch) -> None:
        ids = await batch.insert_rows(User, [account for _, account, _ in self.new_users])
        for (entry, _, student), user_id in zip(self.new_users, ids, strict=True):
            entry.id = user_id
            if student is not None:
                self.new_students.append(student | {"user_id": user_id})
            elif entry.role == Role.TEACHER:
                self.new_teachers.append({"user_id": user_id, "school_id": batch.index.school_id})
        await batch.update_rows(User, self.user_updates)
        await batch.update_rows(StudentProfile, self.student_updates)
        await batch.execute_insert(StudentProfile, self.new_students)
        await batch.execute_insert(TeacherProfile, self.new_teachers)


async def _refresh_known(batch: Batch, keys: list[str]) -> None:
    """The accounts of these sourcedIds as the database has them now: another import may have
    made some since this one loaded the school's index."""
    if not keys:
        return
    rows = await batch.session.execute(
        select(User.sourced_id, User.id, User.role).where(
            User.school_id == batch.index.school_id, User.sourced_id.in_(keys)
        )
    )
    for key, user_id, role in rows:
        if key is not None:
            batch.index.users[key] = UserEntry(user_id, role)


async def _current(session: AsyncSession, user_ids: list[int]) -> dict[int, _Current]:
    if not user_ids:
        return {}
    rows = await session.execute(
        select(
            User.id, User.email, User.name, StudentProfile.student_number, StudentProfile.grade_level,
            StudentProfile.cohort_year, TeacherProfile.user_id,
        )
        .outerjoin(StudentProfile, StudentProfile.user_id == User.id)
        .outerjoin(TeacherProfile, TeacherProfile.user_id == User.id)
        .where(User.id.in_(user_ids))
    )  # fmt: skip
    return {
        user_id: _Current(email, name, number, level, cohort, teacher is not None)
        for user_id, email, name, number, level, cohort, teacher in rows
    }


async def _email_owners(session: AsyncSession, emails: Iterable[str]) -> dict[str, int]:
    """The accounts (of any school) that have these emails."""
    wanted = list(emails)
    if not wanted:
        return {}
    rows = await session.execute(select(User.email, User.id).where(User.email.in_(wanted)))
    return dict(rows.all())


async def _number_owners(session: AsyncSession, school_id: int, numbers: set[str]) -> dict[str, int]:
    if not numbers:
        return {}
    rows = await session.execute(
        select(StudentProfile.student_number, StudentProfile.user_id).where(
            StudentProfile.school_id == school_id, StudentProfile.student_number.in_(numbers)
        )
    )
    return dict(rows.all())
