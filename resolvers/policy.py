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

from models.enums import Role
from resolvers.errors import Forbidden, Unauthenticated
from resolvers.identity import CurrentUser

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
