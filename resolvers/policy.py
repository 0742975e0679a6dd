"""Who may see what. Every resolver asks here; nothing else decides.

- The school is a hard boundary: an object of another school is treated exactly like one
  that does not exist (FORBIDDEN, same message), so not even its existence is revealed.
- Students see themselves. Guardians and mentors see their students (the parts a
  `Relation.GUARDIAN`/`Relation.MENTOR` may see, decided by each resolver). Teachers see the
  students enrolled in their classes. Staff and admins see their whole school.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Protocol

from auth.identity import CurrentUser
from errors import BadInput, Forbidden, Unauthenticated
from models.enums import Role
from resolvers.ids import decode_id_of

if TYPE_CHECKING:
    from loaders import Loaders

NOT_VISIBLE = "Not found, or not yours to see."
EXPIRED = "The access token is invalid or has expired. Refresh it or sign in again."
SCHOOL_WIDE_ROLES = frozenset({Role.STAFF, Role.ADMIN})


class Relation(enum.Enum):
    """How the caller relates to a student, strongest first."""

    SELF = "SELF"
    SCHOOL = "SCHOOL"  # staff or admin of the student's school
    TEACHER = "TEACHER"
    MENTOR = "MENTOR"
    GUARDIAN = "GUARDIAN"


RELATION_OF_ROLE = {
    Role.TEACHER: Relation.TEACHER,
    Role.MENTOR: Relation.MENTOR,
    Role.GUARDIAN: Relation.GUARDIAN,
}
# The loader (in `Loaders`) of the student ids each relation reaches.
RELATED_STUDENTS_LOADER = {
    Relation.TEACHER: "student_ids_by_teacher",
    Relation.MENTOR: "student_ids_by_mentor",
    Relation.GUARDIAN: "student_ids_by_guardian",
}


class HasUser(Protocol):
    user: CurrentUser | None
    token_rejected: bool


class HasUserAndLoaders(HasUser, Protocol):
    loaders: Loaders


def require_user(ctx: HasUser) -> CurrentUser:
    if ctx.user is None:
        raise Unauthenticated(EXPIRED if ctx.token_rejected else None)
    return ctx.user


def require_same_school(user: CurrentUser, school_id: int | None) -> None:
    """Denies across schools with the same answer as for a missing object (`school_id` None)."""
    if school_id is None or school_id != user.school_id:
        raise Forbidden(NOT_VISIBLE)


def require_role(user: CurrentUser, roles: frozenset[Role]) -> None:
    if user.role not in roles:
        raise Forbidden


async def relation_to_student(
    ctx: HasUserAndLoaders, student_id: int, student_school_id: int
) -> Relation | None:
    """The caller's relation to a student of `student_school_id`, or None: no access."""
    user = require_user(ctx)
    if student_school_id != user.school_id:
        return None
    if user.id == student_id:
        return Relation.SELF
    if user.role in SCHOOL_WIDE_ROLES:
        return Relation.SCHOOL
    relation = RELATION_OF_ROLE.get(user.role)
    if relation is None:
        return None
    related = await getattr(ctx.loaders, RELATED_STUDENTS_LOADER[relation]).load(user.id)
    return relation if student_id in related else None


async def require_student_visible(
    ctx: HasUserAndLoaders, student_id: int, student_school_id: int | None
) -> Relation:
    relation = None
    if student_school_id is not None:
        relation = await relation_to_student(ctx, student_id, student_school_id)
    if relation is None:
        raise Forbidden(NOT_VISIBLE)
    return relation


# Who may talk to whom (chat), beyond the school-wide roles who may talk to anyone of their
# school. "Staff of the same school" are its employees: teachers, mentors, staff and admins.
EMPLOYEE_ROLES = frozenset({Role.TEACHER, Role.MENTOR, Role.STAFF, Role.ADMIN})


async def may_contact(ctx: HasUserAndLoaders, other_id: int, other_role: Role, other_school_id: int) -> bool:
    """Whether the caller may start a conversation with another user. Symmetric, and never
    across schools: employees of a school with each other and school-wide roles with anyone;
    teachers with the students of their classes and those students' guardians; mentors with
    their mentees; students with their guardians."""
    user = require_user(ctx)
    if other_school_id != user.school_id or other_id == user.id:
        return False
    roles = {user.role, other_role}
    if roles & SCHOOL_WIDE_ROLES or roles <= EMPLOYEE_ROLES:
        return True
    # Put the pair in a fixed order, so that each rule below is written once.
    (first_id, first_role), (second_id, second_role) = sorted(
        [(user.id, user.role), (other_id, other_role)], key=lambda pair: _CONTACT_ORDER[pair[1]]
    )
    if second_role == Role.STUDENT and first_role in RELATION_OF_ROLE:
        loader = RELATED_STUDENTS_LOADER[RELATION_OF_ROLE[first_role]]
        return second_id in await getattr(ctx.loaders, loader).load(first_id)
    if (first_role, second_role) == (Role.TEACHER, Role.GUARDIAN):
        taught = await ctx.loaders.student_ids_by_teacher.load(first_id)
        return bool(taught & await ctx.loaders.student_ids_by_guardian.load(second_id))
    return False


_CONTACT_ORDER = {
    Role.ADMIN: 0,
    Role.STAFF: 1,
    Role.TEACHER: 2,
    Role.MENTOR: 3,
    Role.GUARDIAN: 4,
    Role.STUDENT: 5,
}


async def require_teacher_visible(ctx: HasUserAndLoaders, teacher_global_id: str | None) -> int:
    """The teacher whose own records (dashboard, earnings) are asked for, by default the caller:
    the teacher sees theirs, the staff and admins of their school anyone's there."""
    user = require_user(ctx)
    if teacher_global_id is None:
        if user.role != Role.TEACHER:
            raise BadInput("Give the teacherId.")
        return user.id
    teacher_id = decode_id_of(teacher_global_id, "Teacher")
    teacher = await ctx.loaders.user_by_id.load(teacher_id)
    if teacher is None or teacher.role != Role.TEACHER or teacher.school_id != user.school_id:
        raise Forbidden(NOT_VISIBLE)
    if user.id != teacher_id and user.role not in SCHOOL_WIDE_ROLES:
        raise Forbidden("Only the teacher and their school's staff see this.")
    return teacher_id


async def require_class_teacher(ctx: HasUserAndLoaders, class_id: int, class_school_id: int | None) -> None:
    """Taking a class's attendance: its teachers (co-teachers too) and its school's admins."""
    user = require_user(ctx)
    require_same_school(user, class_school_id)
    if user.role == Role.ADMIN:
        return
    if user.role != Role.TEACHER or class_id not in await ctx.loaders.class_ids_by_teacher.load(user.id):
        raise Forbidden("Only the class's teachers and the school's admins do this.")
