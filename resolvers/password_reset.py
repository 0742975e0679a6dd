"""Account recovery: `requestPasswordReset` e-mails a single-use link, `resetPassword` uses it.

No account enumeration. The answer to a request never depends on the address: the request
itself only counts against the caller's IP (RATE_LIMITED beyond RESET_REQUESTS_PER_IP) and
leaves the rest (the per-address limit, the lookup, the token, the e-mail) to a task that runs
after the response is sent, for a known address and an unknown one alike. So the answer and its
time are the same whatever the address; a slow or failing mail server shows in neither.

A link is `{FRONTEND_URL}/reset-password?token=...`: 32 random bytes, of which only the SHA-256 is
stored (PasswordReset), valid RESET_MINUTES, once. Using it is a conditional UPDATE (`used_at IS
NULL`): of two concurrent resets with one token exactly one wins. Success sets the password,
ends every session of the user (refresh tokens revoked; access tokens refused at once, as
`resolvers.auth.authenticate` reads both the revocation and `password_changed_at`; WebSockets
closed through `announce_revocation`) and spends the user's other links. An unknown, used,
expired or tampered token is INVALID_TOKEN alike, and counts against the IP
(BAD_RESET_TOKENS_PER_IP). The mail is sent directly, not through the delivery outbox: it is no
communication of the school's, and is not in anybody's history.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, ParamSpec

from sqlalchemy import select, update
from starlette.background import BackgroundTasks

from auth.passwords import hash_password
from errors import Problem
from models import PasswordReset, User
from resolvers import audit
from resolvers.auth import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, set_password
from resolvers.sessions import announce_revocation
from services.email import EmailOutcome, OutgoingEmail

if TYPE_CHECKING:
    from context import Context

log = logging.getLogger(__name__)
Params = ParamSpec("Params")

RESET_MINUTES = 30
MAX_EMAIL_LENGTH = 320
MAX_TOKEN_LENGTH = 200
SUBJECT = "Reset your CampusGraph password"
REQUESTS_LIMITED = Problem("Too many password reset requests from here. Try again later.", "RATE_LIMITED")
TOKENS_LIMITED = Problem("Too many invalid reset links from here. Try again later.", "RATE_LIMITED")
INVALID_TOKEN = Problem(
    "This reset link is not valid: it may have expired or been used. Ask for a new one.",
    "INVALID_TOKEN",
    ("input", "token"),
)
INVALID_PASSWORD = Problem(
    f"The password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.",
    "INVALID",
    ("input", "newPassword"),
)


def now() -> datetime:
    return datetime.now(UTC)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def reset_link(ctx: Context, token: str) -> str:
    return f"{ctx.settings.frontend_url.rstrip('/')}/reset-password?token={token}"


async def request_password_reset(ctx: Context, email: str) -> list[Problem]:
    """Always [] (or RATE_LIMITED for the IP): the rest happens after the response."""
    ip = ctx.client_ip or "unknown"
    if not await ctx.app.limiter.hit(ctx.settings.reset_requests_per_ip, "reset-request-ip", ip):
        return [REQUESTS_LIMITED]
    if not _after_response(ctx, _send_reset_link, ctx, email):
        await _send_reset_link(ctx, email)
    return []


def _after_response(
    ctx: Context, job: Callable[Params, Awaitable[None]], *args: Params.args, **kwargs: Params.kwargs
) -> bool:
    """Has `job(*args, **kwargs)` run once the HTTP response has been sent (a background task of the
    response Strawberry sends); False without an HTTP response (a WebSocket operation, which
    needs a signed-in caller anyway): the caller then runs it itself."""
    response = ctx.response
    if response is None:
        return False
    tasks = response.background
    if not isinstance(tasks, BackgroundTasks):
        tasks = BackgroundTasks([tasks] if tasks is not None else [])
        response.background = tasks
    tasks.add_task(job, *args, **kwargs)
    return True


async def _send_reset_link(ctx: Context, email: str) -> None:
    """Mails a new link to an active account of `email`, within the per-address limit. Errors
    are logged: after the response there is nobody else to tell."""
    try:
        await _make_and_mail_link(ctx, email.strip().lower())
    except Exception:
        log.exception("request %s: the password reset link was not sent", ctx.request_id)


async def _make_and_mail_link(ctx: Context, address: str) -> None:
    app = ctx.app
    if len(address) > MAX_EMAIL_LENGTH:
        return
    if not await app.limiter.hit(ctx.settings.reset_emails_per_address, "reset-address", address):
        return
    if not app.mailer.enabled:
        log.warning("a password reset was asked for, but e-mail is not configured (SMTP_HOST)")
        return
    token = secrets.token_urlsafe(32)
    moment = now()
    async with ctx.writer.begin() as session:
        user = await session.scalar(select(User).where(User.email == address))
        if user is None or not user.is_active:
            audit.record(session, ctx, "password_reset.requested", "User", None, detail={"email": address})
            return
        session.add(
            PasswordReset(
                user_id=user.id,
                token_hash=hash_token(token),
                created_at=moment,
                expires_at=moment + timedelta(minutes=RESET_MINUTES),
                requested_ip=ctx.client_ip,
            )
        )
        audit.record(session, ctx, "password_reset.requested", "User", user.id, school_id=user.school_id)
        name, to = user.name, user.email
    text = (
        f"Hello {name},\n\n"
        f"someone, hopefully you, asked to reset the password of your CampusGraph account {to}.\n"
        f"Choose a new password here within {RESET_MINUTES} minutes (the link works once):\n\n"
        f"{reset_link(ctx, token)}\n\n"
        "If you did not ask for this, ignore this e-mail: your password stays as it is.\n"
    )
    result = await app.mailer.send(OutgoingEmail(to=to, subject=SUBJECT, text=text))
    if result.outcome != EmailOutcome.SENT:
        log.warning("password reset e-mail not sent (%s): %s", result.outcome.value, result.error)


async def reset_password(ctx: Context, token: str, new_password: str) -> list[Problem]:
    """Sets the password of the token's user, once; every session of the user ends."""
    if not MIN_PASSWORD_LENGTH <= len(new_password) <= MAX_PASSWORD_LENGTH:
        return [INVALID_PASSWORD]
    ip = ctx.client_ip or "unknown"
    # Counted before the token is looked up, given back when it was good (stores/attempts.py).
    attempt = await ctx.app.attempts.reserve(ctx.settings.bad_reset_tokens_per_ip, "reset-token-ip", ip)
    if attempt is None:
        return [TOKENS_LIMITED]
    new_hash = await asyncio.to_thread(hash_password, new_password)
    moment = now()
    user_id: int | None = None
    async with ctx.writer.begin() as session:
        reset = (
            await session.scalar(select(PasswordReset).where(PasswordReset.token_hash == hash_token(token)))
            if len(token) <= MAX_TOKEN_LENGTH
            else None
        )
        user = await session.get(User, reset.user_id) if reset is not None else None
        usable = reset is not None and reset.used_at is None and reset.expires_at > moment
        if reset is not None and user is not None and user.is_active and usable:
            # Conditional: of two concurrent uses of the token, exactly one wins.
            used = await session.execute(
                update(PasswordReset)
                .where(PasswordReset.id == reset.id, PasswordReset.used_at.is_(None))
                .values(used_at=moment)
            )
            if used.rowcount == 1:  # type: ignore[attr-defined]
                await set_password(session, user, new_hash, moment)
                audit.record(
                    session,
                    ctx,
                    "password.reset",
                    "User",
                    user.id,
                    actor_id=user.id,
                    school_id=user.school_id,
                )
                user_id = user.id
        if user_id is None:
            audit.record(
                session, ctx, "password_reset.refused", "User", user.id if user else None, detail={"ip": ip}
            )
    if user_id is None:
        return [INVALID_TOKEN]
    await ctx.app.attempts.give_back(attempt)
    await announce_revocation(ctx, user_id, None)
    return []
