"""Who may see and do what in finance. Staff and admins of the student's school run it; a
student reads their own account, a guardian their wards'; teachers and mentors never, even for
students they teach or mentor (FORBIDDEN). Another school's student is answered like a missing one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from auth.identity import CurrentUser
from errors import Forbidden
from models.enums import Role
from resolvers.policy import SCHOOL_WIDE_ROLES, Relation, require_student_visible, require_user

if TYPE_CHECKING:
    from context import Context

ACCOUNT_READERS = frozenset({Relation.SELF, Relation.SCHOOL, Relation.GUARDIAN})


def require_finance_staff(ctx: Context) -> CurrentUser:
    """Staff or admin (of their own school: every query narrows to `user.school_id`)."""
    user = require_user(ctx)
    if user.role not in SCHOOL_WIDE_ROLES:
        raise Forbidden
    return user


def require_finance_admin(ctx: Context) -> CurrentUser:
    user = require_user(ctx)
    if user.role is not Role.ADMIN:
        raise Forbidden
    return user


async def require_account_reader(ctx: Context, student_id: int, student_school_id: int | None) -> Relation:
    """The student, their guardians, staff and admins of their school; FORBIDDEN for anyone else
    (teachers and mentors included), with the missing-object answer across schools."""
    relation = await require_student_visible(ctx, student_id, student_school_id)
    if relation not in ACCOUNT_READERS:
        raise Forbidden
    return relation
