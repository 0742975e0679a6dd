"""`node(id:)`: any object by its global id, if the caller may see it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from errors import Forbidden
from models.enums import Role
from resolvers import audit
from resolvers.ids import decode_id
from resolvers.policy import (
    NOT_VISIBLE,
    Relation,
    may_contact,
    require_same_school,
    require_student_visible,
    require_user,
)

if TYPE_CHECKING:
    from context import Context


async def load_node(ctx: Context, global_id: str) -> tuple[str, Any]:
    """Returns (type name, model) for a global id the caller may see; a Student comes as
    (user, profile). Unknown, missing and foreign ids are all FORBIDDEN alike."""
    user = require_user(ctx)
    type_name, pk = decode_id(global_id)
    loaders = ctx.loaders
    row: Any = None
    if type_name in ("User", "Student"):
        account = await loaders.user_by_id.load(pk)
        if account is not None and (type_name == "Student" or account.role == Role.STUDENT):
            profile = await loaders.student_profile_by_user_id.load(pk)
            await _require_student(ctx, pk, profile.school_id if profile else None)
            return type_name, (account, profile) if type_name == "Student" else account
        if type_name == "User" and account is not None:
            await _require_contact(ctx, account.id, account.role, account.school_id)
            return type_name, account
        row = None
    elif type_name == "Teacher":
        row = await loaders.teacher_profile_by_user_id.load(pk)
        if row is not None:
            require_same_school(user, row.school_id)
            return type_name, await loaders.user_by_id.load_existing(pk)
    elif type_name == "Class":
        row = await loaders.class_by_id.load(pk)
    elif type_name == "Course":
        row = await loaders.course_by_id.load(pk)
    elif type_name == "Term":
        row = await loaders.term_by_id.load(pk)
    elif type_name == "GradingPeriod":
        row = await loaders.grading_period_by_id.load(pk)
    elif type_name == "School":
        row = await loaders.school_by_id.load(pk)
        require_same_school(user, row.id if row else None)
        return type_name, row
    require_same_school(user, getattr(row, "school_id", None))
    return type_name, row


async def _require_contact(ctx: Context, account_id: int, role: Role, school_id: int | None) -> None:
    """An account that is not a student's (a guardian, a teacher, staff) is seen by its owner and
    by those who may contact it (chat's rule, `may_contact`): ids are sequential, and the whole
    school read every parent's name and e-mail through `node(id: "User:N")`. A teacher's work
    directory entry stays open to the school through the `Teacher` type."""
    user = require_user(ctx)
    if account_id == user.id:
        return
    if school_id is None or not await may_contact(ctx, account_id, role, school_id):
        raise Forbidden(NOT_VISIBLE)


async def _require_student(ctx: Context, student_id: int, school_id: int | None) -> None:
    relation = await require_student_visible(ctx, student_id, school_id)
    if relation is not Relation.SELF:
        audit.note_read(ctx, "Student", student_id)
