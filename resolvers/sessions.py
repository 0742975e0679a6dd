"""The caller's sessions (devices): listing them, ending one, and ending a family of tokens.

A session is a family of refresh tokens (resolvers/auth.py). It is active while its newest
token is neither used, revoked nor expired; it ends when its family is revoked, and from then
on its access tokens are refused too: `resolvers.auth.authenticate` asks the database whether
the token's family has a revoked token, in the same statement that loads the user, so the
refusal is immediate on every process and needs no Redis (and cannot fail open when Redis is
down). Its live WebSockets close on SessionRevoked (subscriptions/sign_ins.py).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Select, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.identity import SignInMethod
from errors import Problem
from models import RefreshToken
from resolvers import audit
from resolvers.ids import encode_key
from resolvers.pagination import Page, cursor_id, encode_cursor, page_size
from resolvers.policy import require_user
from subscriptions.channels import user_sessions_channel
from subscriptions.events import SessionRevoked

if TYPE_CHECKING:
    from context import Context

SESSION_TYPE = "UserSession"
FAMILY_ID = re.compile(r"[0-9a-f]{1,64}")
SESSION_NOT_FOUND = Problem("No such session of yours, or it has ended.", "NOT_FOUND", ("input", "sessionId"))


@dataclass(frozen=True)
class UserSession:
    """One active session as its owner sees it. The device details are those of its newest
    token (a refresh from elsewhere moves them)."""

    family_id: str
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip: str | None
    sign_in_method: SignInMethod
    sso_provider: str | None
    current: bool


def session_global_id(family_id: str) -> str:
    return encode_key(SESSION_TYPE, family_id)


def family_of(global_id: str) -> str | None:
    """The family id inside a session's global id; None for anything that is not one."""
    try:
        raw = base64.urlsafe_b64decode((global_id + "=" * (-len(global_id) % 4)).encode("ascii")).decode()
    except (ValueError, UnicodeError, binascii.Error):
        return None
    type_name, _, family_id = raw.partition(":")
    return family_id if type_name == SESSION_TYPE and FAMILY_ID.fullmatch(family_id) else None


def family_revoked(family_id: ColumnElement[str] | str) -> ColumnElement[bool]:
    """Whether a token of the family was revoked: the family is then over (revocation is
    always of a whole family, or of all of a user's)."""
    return exists().where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_not(None))


async def revoke_family(session: AsyncSession, family_id: str, moment: datetime) -> int:
    """Revokes the family's tokens; how many were still unrevoked."""
    result = await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=moment)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def announce_revocation(ctx: Context, user_id: int, session_id: str | None) -> None:
    """Tells every process to end the live connections of that session (None: all of the user's)."""
    await ctx.bus.publish(user_sessions_channel(user_id), SessionRevoked(session_id=session_id))


def _active_sessions(user_id: int, moment: datetime) -> Select[RefreshToken, datetime]:
    """Each active family of the user as (its newest token, its first token's issue time)."""
    started = (
        select(RefreshToken.family_id, func.min(RefreshToken.issued_at).label("created_at"))
        .where(RefreshToken.user_id == user_id)
        .group_by(RefreshToken.family_id)
        .subquery()
    )
    return (
        select(RefreshToken, started.c.created_at)
        .join(started, started.c.family_id == RefreshToken.family_id)
        .where(
            RefreshToken.user_id == user_id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > moment,
        )
    )


def _shown(ctx: Context, token: RefreshToken, created_at: datetime) -> UserSession:
    return UserSession(
        family_id=token.family_id,
        created_at=created_at,
        last_used_at=token.issued_at,
        expires_at=token.expires_at,
        user_agent=token.user_agent,
        ip=token.ip,
        sign_in_method=SignInMethod(token.sign_in_method),
        sso_provider=token.sso_provider,
        current=ctx.claims is not None and ctx.claims.session_id == token.family_id,
    )


async def my_sessions(ctx: Context, first: int | None, after: str | None) -> Page[UserSession]:
    """The caller's active sessions, the most recently used first: a count and one page, two
    statements however many sessions there are. The cursor is the newest token's id, which
    grows with its issue time."""
    caller = require_user(ctx)
    limit = page_size(first, ctx.settings.max_page_size)
    before_id = cursor_id(after)
    query = _active_sessions(caller.id, datetime.now(UTC))
    async with ctx.session_factory() as session:
        total = await session.scalar(select(func.count()).select_from(query.subquery()))
        if before_id is not None:
            query = query.where(RefreshToken.id < before_id)
        rows = (await session.execute(query.order_by(RefreshToken.id.desc()).limit(limit + 1))).all()
    items = rows[:limit]
    return Page(
        items=[_shown(ctx, token, created_at) for token, created_at in items],
        cursors=[encode_cursor(str(token.id)) for token, _ in items],
        total_count=total or 0,
        has_next_page=len(rows) > limit,
    )


async def revoke_session(ctx: Context, session_id: str) -> tuple[UserSession | None, list[Problem]]:
    """Ends one of the caller's active sessions at once. Another user's session, an ended one
    and a malformed id are all NOT_FOUND alike."""
    caller = require_user(ctx)
    family_id = family_of(session_id)
    if family_id is None:
        return None, [SESSION_NOT_FOUND]
    moment = datetime.now(UTC)
    async with ctx.writer.begin() as session:
        active = _active_sessions(caller.id, moment).where(RefreshToken.family_id == family_id)
        row = (await session.execute(active)).first()
        # A concurrent revocation may have won since the read: then nothing is ours to end.
        if row is None or await revoke_family(session, family_id, moment) == 0:
            return None, [SESSION_NOT_FOUND]
        ended = _shown(ctx, *row)
        audit.record(session, ctx, "session.revoked", "User", caller.id, detail={"session": family_id})
    await announce_revocation(ctx, caller.id, family_id)
    return ended, []
