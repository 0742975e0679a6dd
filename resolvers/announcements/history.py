"""communicationHistory: every message the school sent to a person (announcement copies, notices,
payment reminders), newest first, with each channel's delivery. The school's staff and admins
only. Reading a student's messages (those to them and to their guardians about them) is a read
of their records: audited, like every read of a student's records by someone else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, exists, or_, select

from errors import BadInput, Forbidden
from models import Communication, Delivery, User
from models.enums import CommunicationChannel, DeliveryStatus, NotificationCategory, Role
from resolvers import audit
from resolvers.pagination import Page, newest_first, page_size
from resolvers.people import account_pk
from resolvers.policy import NOT_VISIBLE
from resolvers.roster_rules import require_staff

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from context import Context


@dataclass(frozen=True)
class HistoryFilter:
    student_id: str | None = None
    guardian_id: str | None = None
    channel: CommunicationChannel | None = None
    category: NotificationCategory | None = None
    delivery_statuses: list[DeliveryStatus] | None = None
    sent_from: datetime | None = None
    sent_to: datetime | None = None


async def communication_history(
    ctx: Context, where: HistoryFilter, first: int | None, after: str | None
) -> Page[Communication]:
    user = require_staff(ctx)
    conditions: list[ColumnElement[bool]] = [Communication.school_id == user.school_id]
    limit = page_size(first, ctx.settings.max_page_size)
    async with ctx.session_factory() as session:
        if where.student_id is not None:
            student_id = await _person(session, where.student_id, user.school_id, Role.STUDENT)
            conditions.append(
                or_(Communication.recipient_id == student_id, Communication.student_id == student_id)
            )
            audit.note_read(ctx, "Student", student_id)
        if where.guardian_id is not None:
            guardian_id = await _person(session, where.guardian_id, user.school_id, Role.GUARDIAN)
            conditions.append(Communication.recipient_id == guardian_id)
        conditions += _delivery_conditions(where)
        if where.category is not None:
            conditions.append(Communication.category == where.category)
        if where.sent_from is not None:
            conditions.append(Communication.sent_at >= _aware(where.sent_from))
        if where.sent_to is not None:
            conditions.append(Communication.sent_at <= _aware(where.sent_to))
        query = select(Communication).where(*conditions)
        page = await newest_first(session, query, Communication.id, limit, after)
        await _note_students(session, ctx, page.items)
    for row in page.items:
        ctx.loaders.announcements.communication_by_id.prime(row.id, row)
    return page


async def _person(session: AsyncSession, global_id: str, school_id: int, role: Role) -> int:
    """The person an id names, a `role` of the caller's school; else answered as missing."""
    pk = account_pk(global_id)
    if pk is None:
        raise BadInput(f"Not a {role.value.lower()}'s id.")
    person = await session.get(User, pk)
    if person is None or person.school_id != school_id or person.role != role:
        raise Forbidden(NOT_VISIBLE)
    return pk


def _delivery_conditions(where: HistoryFilter) -> list[ColumnElement[bool]]:
    """Copies with a delivery on `channel` (in one of the statuses, when given)."""
    if where.channel is None and not where.delivery_statuses:
        return []
    delivered = [Delivery.communication_id == Communication.id]
    if where.channel is not None:
        delivered.append(Delivery.channel == where.channel)
    if where.delivery_statuses:
        delivered.append(Delivery.status.in_(where.delivery_statuses))
    return [exists().where(*delivered)]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _note_students(session: AsyncSession, ctx: Context, copies: list[Communication]) -> None:
    """Every student whose messages the page shows: those it is about, and the students among
    its recipients (a guardian's copy about none of their wards names no student)."""
    about = {copy.student_id for copy in copies if copy.student_id is not None}
    recipients = {copy.recipient_id for copy in copies}
    if recipients:
        students = await session.scalars(
            select(User.id).where(User.id.in_(recipients), User.role == Role.STUDENT)
        )
        about.update(students)
    for student_id in sorted(about):
        audit.note_read(ctx, "Student", student_id)
