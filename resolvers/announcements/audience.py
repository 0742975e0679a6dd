"""Who an announcement reaches, resolved when it is sent (who is in the audience then).

The audience's students define it: the school's enrolled students (SCHOOL), those of some grade
levels (GRADE_LEVELS), or the students actively enrolled in a class (CLASS). From them come the
recipients: the students themselves, their guardians, and staff — every employee of the school
(SCHOOL), the teachers of those students' classes with the school's staff and admins
(GRADE_LEVELS), or the class's teachers, co-teachers included (CLASS). Deactivated accounts
receive nothing, and nobody of another school ever does.

A guardian of several students of the audience gets one copy per student when the text uses
`{{student.*}}` (each about its student), else one (about their student when they have one
there, about none when several).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Announcement, ClassTeacher, Enrollment, GuardianLink, StudentProfile, User
from models.enums import AnnouncementScope, EnrollmentStatus, Role, StudentStatus, UserStatus
from resolvers.policy import EMPLOYEE_ROLES, SCHOOL_WIDE_ROLES


@dataclass(frozen=True)
class Audience:
    scope: AnnouncementScope
    grade_levels: tuple[int, ...] = ()
    class_id: int | None = None
    include_students: bool = True
    include_guardians: bool = False
    include_staff: bool = False

    @classmethod
    def of(cls, announcement: Announcement) -> Audience:
        return cls(
            scope=announcement.scope,
            grade_levels=tuple(announcement.grade_levels or ()),
            class_id=announcement.class_id,
            include_students=announcement.include_students,
            include_guardians=announcement.include_guardians,
            include_staff=announcement.include_staff,
        )

    @property
    def includes_anyone(self) -> bool:
        return self.include_students or self.include_guardians or self.include_staff


class MemberKind(enum.Enum):
    STUDENT = "STUDENT"
    GUARDIAN = "GUARDIAN"
    STAFF = "STAFF"


@dataclass(frozen=True)
class Person:
    id: int
    name: str


@dataclass(frozen=True)
class StudentRef:
    id: int
    name: str
    grade_level: int


@dataclass(frozen=True)
class Member:
    """One copy to make: its recipient and the student whose values it is rendered with (the
    recipient themself for a student, the ward for a guardian, none for staff)."""

    recipient: Person
    kind: MemberKind
    student: StudentRef | None = None

    @property
    def about_student_id(self) -> int | None:
        """The ward a guardian's copy is about (what the copy records)."""
        return self.student.id if self.kind == MemberKind.GUARDIAN and self.student else None


def _live() -> ColumnElement[bool]:
    return User.status != UserStatus.DEACTIVATED


def _students(school_id: int, audience: Audience) -> Select[int, str, int]:
    """The audience's students: (id, name, grade level)."""
    query = (
        select(User.id, User.name, StudentProfile.grade_level)
        .join(StudentProfile, StudentProfile.user_id == User.id)
        .where(User.school_id == school_id, User.role == Role.STUDENT, _live())
    )
    if audience.scope == AnnouncementScope.CLASS:
        return query.join(Enrollment, Enrollment.student_id == User.id).where(
            Enrollment.class_id == audience.class_id, Enrollment.status == EnrollmentStatus.ACTIVE
        )
    query = query.where(StudentProfile.status == StudentStatus.ENROLLED)
    if audience.scope == AnnouncementScope.GRADE_LEVELS:
        query = query.where(StudentProfile.grade_level.in_(audience.grade_levels))
    return query


def _staff(school_id: int, audience: Audience) -> Select[int, str]:
    people = select(User.id, User.name).where(User.school_id == school_id, _live())
    if audience.scope == AnnouncementScope.SCHOOL:
        return people.where(User.role.in_(EMPLOYEE_ROLES))
    if audience.scope == AnnouncementScope.CLASS:
        return people.join(ClassTeacher, ClassTeacher.teacher_id == User.id).where(
            ClassTeacher.class_id == audience.class_id
        )
    students = _students(school_id, audience).with_only_columns(User.id).scalar_subquery()
    teachers = (
        select(ClassTeacher.teacher_id)
        .join(Enrollment, Enrollment.class_id == ClassTeacher.class_id)
        .where(Enrollment.student_id.in_(students), Enrollment.status == EnrollmentStatus.ACTIVE)
        .scalar_subquery()
    )
    return people.where(User.role.in_(SCHOOL_WIDE_ROLES) | User.id.in_(teachers))


async def resolve(
    session: AsyncSession, school_id: int, audience: Audience, *, per_student: bool
) -> list[Member]:
    """The copies to make for the audience now, in a stable order (by recipient, then student);
    `per_student`: the text uses `{{student.*}}`. Three statements at most."""
    members: list[Member] = []
    students = {
        row.id: StudentRef(row.id, row.name, row.grade_level)
        for row in (await session.execute(_students(school_id, audience))).all()
    }
    if audience.include_students:
        members += [Member(Person(s.id, s.name), MemberKind.STUDENT, s) for s in students.values()]
    if audience.include_guardians and students:
        members += await _guardians(session, school_id, audience, students, per_student=per_student)
    if audience.include_staff:
        staff = (await session.execute(_staff(school_id, audience))).all()
        members += [Member(Person(row.id, row.name), MemberKind.STAFF) for row in staff]
    unique = {(m.recipient.id, m.student.id if m.student else 0): m for m in members}
    return [unique[key] for key in sorted(unique)]


async def _guardians(
    session: AsyncSession,
    school_id: int,
    audience: Audience,
    students: dict[int, StudentRef],
    *,
    per_student: bool,
) -> list[Member]:
    ids = _students(school_id, audience).with_only_columns(User.id).scalar_subquery()
    query = (
        select(GuardianLink.guardian_id, User.name, GuardianLink.student_id)
        .join(User, User.id == GuardianLink.guardian_id)
        .where(GuardianLink.student_id.in_(ids), User.school_id == school_id, _live())
        .order_by(GuardianLink.guardian_id, GuardianLink.student_id)
    )
    wards: defaultdict[Person, list[StudentRef]] = defaultdict(list)
    for guardian_id, name, student_id in (await session.execute(query)).all():
        if student_id in students:
            wards[Person(guardian_id, name)].append(students[student_id])
    members: list[Member] = []
    for guardian, theirs in wards.items():
        if per_student:
            members += [Member(guardian, MemberKind.GUARDIAN, ward) for ward in theirs]
        else:
            members.append(Member(guardian, MemberKind.GUARDIAN, theirs[0] if len(theirs) == 1 else None))
    return members


async def missing_grade_levels(session: AsyncSession, school_id: int, levels: Sequence[int]) -> list[int]:
    """The levels among `levels` that no student of the school is in."""
    present = set(
        await session.scalars(
            select(StudentProfile.grade_level)
            .where(StudentProfile.school_id == school_id, StudentProfile.grade_level.in_(levels))
            .distinct()
        )
    )
    return [level for level in levels if level not in present]


def describe(audience: Audience, class_title: str | None) -> str:
    """For people: "Students and guardians of Algebra A", "Staff of grades 9 and 10"."""
    who = [
        name
        for name, included in (
            ("students", audience.include_students),
            ("guardians", audience.include_guardians),
            ("staff", audience.include_staff),
        )
        if included
    ]
    people = _joined(who).capitalize() if who else "Nobody"
    if audience.scope == AnnouncementScope.SCHOOL:
        return f"{people} of the whole school"
    if audience.scope == AnnouncementScope.CLASS:
        return f"{people} of {class_title or 'a class'}"
    levels = [str(level) for level in audience.grade_levels]
    return f"{people} of grade{'s' if len(levels) > 1 else ''} {_joined(levels)}"


def _joined(words: Sequence[str]) -> str:
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
