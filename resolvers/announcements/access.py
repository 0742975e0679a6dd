"""Who may write, change and read announcements (the contract's header and its operations):

- Students, guardians and mentors only receive (FORBIDDEN).
- SCHOOL and GRADE_LEVELS: the school's staff and admins; CLASS: the class's teachers
  (co-teachers included), staff and admins; SAFETY: staff and admins, whatever the scope.
- Changing, publishing and cancelling: its author, staff and admins (and the audience rules
  again, for what it is then addressed to).
- Seeing everything about one (counts, deliveries, recipients): its author, the class's
  teachers, staff and admins; a recipient sees what was sent to them.

An announcement of another school is answered like a missing one: NOT_FOUND in userErrors for
an id inside an input, FORBIDDEN "Not found, or not yours to see." for a root's id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Forbidden, ProblemError
from models import Announcement, ClassTeacher, Communication
from models.enums import AnnouncementScope, NotificationCategory, Role
from resolvers.policy import NOT_VISIBLE, SCHOOL_WIDE_ROLES, require_user
from resolvers.roster_rules import decode_or_none, not_found

if TYPE_CHECKING:
    from auth.identity import CurrentUser
    from context import Context
    from resolvers.announcements.audience import Audience

SENDER_ROLES = frozenset({Role.TEACHER, Role.STAFF, Role.ADMIN})
RECEIVERS_ONLY = "Students, guardians and mentors receive announcements; they do not send them."
SCHOOL_WIDE_ONLY = "Only the school's staff and admins address the whole school or grade levels."
CLASS_TEACHERS_ONLY = "Only the class's teachers, staff and admins address a class."
SAFETY_ONLY = "Only the school's staff and admins send safety announcements."
MANAGERS_ONLY = "Only its author and the school's staff and admins change an announcement."


def require_sender(ctx: Context) -> CurrentUser:
    user = require_user(ctx)
    if user.role not in SENDER_ROLES:
        raise Forbidden(RECEIVERS_ONLY)
    return user


async def teaches(session: AsyncSession, teacher_id: int, class_id: int) -> bool:
    query = select(ClassTeacher.teacher_id).where(
        ClassTeacher.class_id == class_id, ClassTeacher.teacher_id == teacher_id
    )
    return await session.scalar(query) is not None


async def require_may_address(
    session: AsyncSession, user: CurrentUser, audience: Audience, category: NotificationCategory
) -> None:
    """Raises FORBIDDEN unless `user` may send to `audience` in `category` (its class, if any,
    already known to be of the user's school)."""
    if user.role in SCHOOL_WIDE_ROLES:
        return
    if category == NotificationCategory.SAFETY:
        raise Forbidden(SAFETY_ONLY)
    if audience.scope != AnnouncementScope.CLASS:
        raise Forbidden(SCHOOL_WIDE_ONLY)
    if (
        user.role != Role.TEACHER
        or audience.class_id is None
        or not await teaches(session, user.id, audience.class_id)
    ):
        raise Forbidden(CLASS_TEACHERS_ONLY)


async def own_announcement(
    session: AsyncSession, user: CurrentUser, global_id: str, field: Sequence[str]
) -> Announcement:
    """The announcement an input names, of the caller's school; else NOT_FOUND on `field`."""
    pk = decode_or_none(global_id, "Announcement")
    query = select(Announcement).where(Announcement.id == pk, Announcement.school_id == user.school_id)
    row = await session.scalar(query) if pk is not None else None
    if row is None:
        raise ProblemError(not_found(field, "announcement"))
    return row


def require_manager(user: CurrentUser, announcement: Announcement) -> None:
    if announcement.author_id != user.id and user.role not in SCHOOL_WIDE_ROLES:
        raise Forbidden(MANAGERS_ONLY)


async def sees_everything(ctx: Context, announcement: Announcement) -> bool:
    """Its author, the class's teachers, the school's staff and admins."""
    user = require_user(ctx)
    if announcement.school_id != user.school_id:
        return False
    if user.id == announcement.author_id or user.role in SCHOOL_WIDE_ROLES:
        return True
    if user.role != Role.TEACHER or announcement.class_id is None:
        return False
    return announcement.class_id in await ctx.loaders.class_ids_by_teacher.load(user.id)


async def require_visible(ctx: Context, announcement: Announcement | None) -> Announcement:
    """The announcement, if the caller sees everything about it or received a copy of it."""
    user = require_user(ctx)
    if announcement is None or announcement.school_id != user.school_id:
        raise Forbidden(NOT_VISIBLE)
    if await sees_everything(ctx, announcement):
        return announcement
    async with ctx.session_factory() as session:
        received = await session.scalar(
            select(
                exists().where(
                    Communication.announcement_id == announcement.id, Communication.recipient_id == user.id
                )
            )
        )
    if not received:
        raise Forbidden(NOT_VISIBLE)
    return announcement
