"""The audit trail (FERPA): reads of a student's record by others, and every write.

Entries are appended in the caller's transaction, so a write and its audit entry commit or
roll back together. Nothing in the API updates or deletes them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import AuditEntry
from models.base import utcnow
from resolvers.pagination import Page, newest_first, page_size
from resolvers.policy import SCHOOL_WIDE_ROLES, require_role, require_user

if TYPE_CHECKING:
    from context import Context


def record(
    session: AsyncSession,
    ctx: Context,
    action: str,
    subject_type: str,
    subject_id: int | None,
    *,
    actor_id: int | None = None,
    school_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    user = ctx.user
    session.add(
        AuditEntry(
            school_id=school_id if school_id is not None else (user.school_id if user else None),
            actor_id=actor_id if actor_id is not None else (user.id if user else None),
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            ip=ctx.client_ip,
            detail=detail or {},
        )
    )


async def record_many(
    session: AsyncSession,
    ctx: Context,
    action: str,
    subject_type: str,
    subject_ids: Iterable[int],
    **detail: Any,
) -> None:
    """The same write to many subjects, in one statement."""
    await record_each(
        session, ctx, action, subject_type, [(subject_id, detail) for subject_id in subject_ids]
    )


async def record_each(
    session: AsyncSession,
    ctx: Context,
    action: str,
    subject_type: str,
    entries: Iterable[tuple[int, dict[str, Any]]],
) -> None:
    """One action on many subjects, each with its own detail, in one statement."""
    user = ctx.user
    at = utcnow()
    rows = [
        {
            "school_id": user.school_id if user else None,
            "actor_id": user.id if user else None,
            "action": action,
            "subject_type": subject_type,
            "subject_id": subject_id,
            "ip": ctx.client_ip,
            "at": at,
            "detail": detail,
        }
        for subject_id, detail in entries
    ]
    if rows:
        await session.execute(insert(AuditEntry), rows)


def note_read(ctx: Context, subject_type: str, subject_id: int) -> None:
    """Remembers a read; `flush_reads` writes all of an operation's reads in one statement."""
    ctx.audited_reads.add((subject_type, subject_id))


async def flush_reads(ctx: Context) -> None:
    user = ctx.user
    if not ctx.audited_reads or user is None:
        return
    at = utcnow()
    rows = [
        {
            "school_id": user.school_id,
            "actor_id": user.id,
            "action": "read",
            "subject_type": subject_type,
            "subject_id": subject_id,
            "ip": ctx.client_ip,
            "at": at,
            "detail": {"requestId": ctx.request_id},
        }
        for subject_type, subject_id in sorted(ctx.audited_reads)
    ]
    ctx.audited_reads.clear()
    async with ctx.writer.begin() as session:
        await session.execute(insert(AuditEntry), rows)


async def entries(
    ctx: Context, *, first: int | None, after: str | None, subject_type: str | None, subject_id: int | None
) -> Page[AuditEntry]:
    """The school's audit trail, newest first: staff and admins only."""
    user = require_user(ctx)
    require_role(user, SCHOOL_WIDE_ROLES)
    query = select(AuditEntry).where(AuditEntry.school_id == user.school_id)
    if subject_type is not None:
        query = query.where(AuditEntry.subject_type == subject_type)
    if subject_id is not None:
        query = query.where(AuditEntry.subject_id == subject_id)
    async with ctx.session_factory() as session:
        return await newest_first(
            session, query, AuditEntry.id, page_size(first, ctx.settings.max_page_size), after
        )
