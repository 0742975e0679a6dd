"""Accounts and sessions: login, register, refresh, logout, password change, and who a token is.

A session is a family of refresh tokens. Each refresh uses one up and issues the next;
presenting a used one again means it was stolen or replayed, so the whole family is revoked.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from auth.identity import SignInMethod
from auth.passwords import hash_password, needs_rehash, verify_password
from auth.tokens import (
    AccessClaims,
    hash_refresh_token,
    issue_access_token,
    new_refresh_token,
    new_session_id,
    read_access_token,
)
from errors import Problem
from models import PasswordReset, RefreshToken, School, StudentProfile, User
from models.base import utcnow
from models.enums import Role, StudentStatus, Tier
from resolvers import audit
from resolvers.analytics import refresh_student_risk
from resolvers.policy import require_user
from resolvers.sessions import announce_revocation, family_revoked, revoke_family

if TYPE_CHECKING:
    from context import AppState, Context

# Verified against when the email is unknown, so that both failures take the same time.
_UNKNOWN_USER_HASH = hash_password("no such account: constant-time placeholder")
EMAIL_PATTERN = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,63}$")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
WRONG_CREDENTIALS = Problem("Wrong email or password.", "INVALID_CREDENTIALS")
RATE_LIMITED = Problem("Too many failed sign-ins. Try again later.", "RATE_LIMITED")
CHANGES_LIMITED = Problem(
    "Too many wrong current passwords. Try again later.", "RATE_LIMITED", ("input", "currentPassword")
)
INVALID_REFRESH = Problem(
    "This refresh token is not valid. Sign in again.", "INVALID_TOKEN", ("input", "refreshToken")
)


@dataclass
class SessionTokens:
    user: User | None = None
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: datetime | None = None
    problems: list[Problem] = field(default_factory=list)


def now() -> datetime:
    return datetime.now(UTC)


async def authenticate(app: AppState, token: str) -> tuple[User, AccessClaims] | None:
    """The user behind an access token, if the token is valid, its session not ended (logout,
    revokeSession, reuse detected: the database is the truth, read in the same statement as the
    user, so every process refuses it at once) and the account still stands (active, and the
    password not changed since the token was issued)."""
    claims = read_access_token(token, app.settings.secret_key)
    if claims is None:
        return None
    async with app.session_factory() as session:
        row = (
            await session.execute(
                select(User, family_revoked(claims.session_id)).where(User.id == claims.user_id)
            )
        ).first()
    if row is None:
        return None
    user, session_ended = row
    if session_ended or not user.is_active:
        return None
    changed = user.password_changed_at
    # Tokens carry whole seconds: one issued in the second of a password change is refused too.
    if changed is not None and claims.issued_at.timestamp() <= int(changed.timestamp()):
        return None
    return user, claims


async def login(ctx: Context, email: str, password: str) -> SessionTokens:
    """The attempt is counted (per account and per address) before the password is checked, so
    that guesses sent at once cannot all be checked (stores/attempts.py); a right password gives
    its attempts back."""
    email = email.strip().lower()
    rules = ctx.settings
    attempts = ctx.app.attempts
    ip = ctx.client_ip or "unknown"
    by_account = await attempts.reserve(rules.failed_logins_per_account, "login-account", email)
    by_address = await attempts.reserve(rules.failed_logins_per_ip, "login-ip", ip) if by_account else None
    if by_account is None or by_address is None:
        if by_account is not None:
            await attempts.give_back(by_account)
        async with ctx.writer.begin() as session:
            audit.record(session, ctx, "login.rate_limited", "User", None, detail={"email": email})
        return SessionTokens(problems=[RATE_LIMITED])
    async with ctx.writer.begin() as session:
        user = await session.scalar(select(User).where(User.email == email))
        stored_hash = user.password_hash if user and user.password_hash else _UNKNOWN_USER_HASH
        valid = await asyncio.to_thread(verify_password, stored_hash, password)
        if user is None or not valid or not user.is_active:
            school_id = user.school_id if user else None
            actor_id = user.id if user else None
            audit.record(
                session,
                ctx,
                "login.failed",
                "User",
                actor_id,
                actor_id=actor_id,
                school_id=school_id,
                detail={"email": email},
            )
            return SessionTokens(problems=[WRONG_CREDENTIALS])
        if user.password_hash is None or needs_rehash(user.password_hash):
            user.password_hash = await asyncio.to_thread(hash_password, password)
        user.last_sign_in_at = utcnow()
        tokens = start_session(session, ctx, user)
        audit.record(session, ctx, "login", "User", user.id, actor_id=user.id, school_id=user.school_id)
    await attempts.give_back(by_address)
    await attempts.forget(rules.failed_logins_per_account, "login-account", email)
    return tokens


async def register(ctx: Context, email: str, password: str, name: str, invitation_code: str) -> SessionTokens:
    email, name = email.strip().lower(), name.strip()
    problems = _registration_problems(email, password, name)
    if not await ctx.app.limiter.hit(
        ctx.settings.registrations_per_ip, "register-ip", ctx.client_ip or "unknown"
    ):
        problems.append(Problem("Too many registrations from here. Try again later.", "RATE_LIMITED"))
    if problems:
        return SessionTokens(problems=problems)
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        async with ctx.writer.begin() as session:
            school = await session.scalar(
                select(School).where(School.invitation_code == invitation_code.strip())
            )
            if school is None:
                return SessionTokens(
                    problems=[
                        Problem("Unknown invitation code.", "INVALID_INVITATION", ("input", "invitationCode"))
                    ]
                )
            user = User(
                school_id=school.id,
                email=email,
                name=name,
                password_hash=password_hash,
                role=Role.STUDENT,
                tier=Tier.FREE,
            )
            session.add(user)
            await session.flush()
            session.add(_new_student_profile(school, user))
            await session.flush()
            await refresh_student_risk(session, [user.id], now())
            tokens = start_session(session, ctx, user)
            audit.record(session, ctx, "register", "User", user.id, actor_id=user.id, school_id=school.id)
    except IntegrityError:
        return SessionTokens(
            problems=[Problem("This email is already registered.", "EMAIL_TAKEN", ("input", "email"))]
        )
    return tokens


def _registration_problems(email: str, password: str, name: str) -> list[Problem]:
    problems = []
    if len(email) > 254 or not EMAIL_PATTERN.match(email):
        problems.append(Problem("Enter a valid email address.", "INVALID", ("input", "email")))
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        problems.append(
            Problem(
                f"The password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.",
                "INVALID",
                ("input", "password"),
            )
        )
    if not 1 <= len(name) <= 200:
        problems.append(Problem("Enter your name (at most 200 characters).", "INVALID", ("input", "name")))
    return problems


def _new_student_profile(school: School, user: User) -> StudentProfile:
    """A self-registered student starts in grade 9 with a school-issued number; staff can change both."""
    return StudentProfile(
        user_id=user.id,
        school_id=school.id,
        student_number=f"{school.slug[:2].upper()}-R{user.id:06d}",
        grade_level=9,
        cohort_year=now().year + 4,
        status=StudentStatus.ENROLLED,
    )


async def refresh(ctx: Context, refresh_token: str) -> SessionTokens:
    token_hash = hash_refresh_token(refresh_token)
    moment = now()
    async with ctx.writer.begin() as session:
        stored = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
        if stored is None or stored.revoked_at is not None or stored.expires_at <= moment:
            return SessionTokens(problems=[INVALID_REFRESH])
        # Conditional update: of two concurrent uses, exactly one wins; the other is a reuse.
        used = await session.execute(
            update(RefreshToken)
            .where(RefreshToken.id == stored.id, RefreshToken.used_at.is_(None))
            .values(used_at=moment)
        )
        user = await session.get(User, stored.user_id)
        if used.rowcount != 1 or user is None or not user.is_active:  # type: ignore[attr-defined]
            await revoke_family(session, stored.family_id, moment)
            audit.record(
                session,
                ctx,
                "session.reuse_detected",
                "User",
                stored.user_id,
                actor_id=stored.user_id,
                school_id=user.school_id if user else None,
                detail={"session": stored.family_id},
            )
            revoked = (stored.user_id, stored.family_id)
        else:
            method = SignInMethod(stored.sign_in_method)
            tokens = _issue(session, ctx, user, stored.family_id, method, stored.sso_provider)
            revoked = None
    if revoked:
        await announce_revocation(ctx, *revoked)
        return SessionTokens(problems=[INVALID_REFRESH])
    return tokens


async def logout(ctx: Context, refresh_token: str) -> list[Problem]:
    """Ends the token's session: its refresh tokens are revoked, which `authenticate` reads, so
    its access tokens are refused at once, and its WebSockets close."""
    moment = now()
    async with ctx.writer.begin() as session:
        stored = await session.scalar(
            select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(refresh_token))
        )
        if stored is None or stored.revoked_at is not None:
            return [INVALID_REFRESH]
        await revoke_family(session, stored.family_id, moment)
        audit.record(session, ctx, "logout", "User", stored.user_id, actor_id=stored.user_id)
    await announce_revocation(ctx, stored.user_id, stored.family_id)
    return []


async def change_password(ctx: Context, current_password: str, new_password: str) -> list[Problem]:
    """Ends every session of the user: refresh tokens are revoked, access tokens stop working."""
    caller = require_user(ctx)
    if not MIN_PASSWORD_LENGTH <= len(new_password) <= MAX_PASSWORD_LENGTH:
        return [
            Problem(
                f"The password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters.",
                "INVALID",
                ("input", "newPassword"),
            )
        ]
    # A stolen access token must not become a password oracle: wrong current passwords are
    # limited like failed sign-ins, counted before the check (stores/attempts.py).
    attempt = await ctx.app.attempts.reserve(
        ctx.settings.failed_logins_per_account, "password-change", str(caller.id)
    )
    if attempt is None:
        return [CHANGES_LIMITED]
    new_hash = await asyncio.to_thread(hash_password, new_password)
    moment = now()
    async with ctx.writer.begin() as session:
        user = await session.get(User, caller.id)
        assert user is not None, "an authenticated user exists"
        if user.password_hash is None or not await asyncio.to_thread(
            verify_password, user.password_hash, current_password
        ):
            audit.record(session, ctx, "password.change_refused", "User", user.id)
            return [
                Problem("The current password is wrong.", "INVALID_CREDENTIALS", ("input", "currentPassword"))
            ]
        await set_password(session, user, new_hash, moment)
        audit.record(session, ctx, "password.changed", "User", user.id)
    await ctx.app.attempts.give_back(attempt)
    await announce_revocation(ctx, caller.id, None)
    return []


async def set_password(session: AsyncSession, user: User, new_hash: str, moment: datetime) -> None:
    """The new password (changePassword, resetPassword): every session of the user revoked, and
    the reset links they still had spent. The caller announces the revocation after commit."""
    user.password_hash = new_hash
    user.password_changed_at = moment
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=moment)
    )
    await session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=moment)
    )


def start_session(
    session: AsyncSession,
    ctx: Context,
    user: User,
    method: SignInMethod = SignInMethod.PASSWORD,
    sso_provider: str | None = None,
) -> SessionTokens:
    """Signs the user in inside the caller's transaction (login, register, acceptInvitation,
    SSO); `method` (and the SSO provider's key) is what mySessions shows of it."""
    return _issue(session, ctx, user, new_session_id(), method, sso_provider)


def _issue(
    session: AsyncSession,
    ctx: Context,
    user: User,
    family_id: str,
    method: SignInMethod,
    sso_provider: str | None,
) -> SessionTokens:
    moment = now()
    settings = ctx.settings
    expires_at = moment + timedelta(minutes=settings.access_token_minutes)
    claims = AccessClaims(user.id, user.school_id, user.role, user.tier, family_id, moment, expires_at)
    refresh_token, refresh_hash = new_refresh_token()
    user_agent = ctx.request.headers.get("user-agent") if ctx.request is not None else None
    session.add(
        RefreshToken(
            user_id=user.id,
            family_id=family_id,
            token_hash=refresh_hash,
            issued_at=moment,
            expires_at=moment + timedelta(days=settings.refresh_token_days),
            user_agent=user_agent[:300] if user_agent else None,
            ip=ctx.client_ip,
            sign_in_method=method.value,
            sso_provider=sso_provider,
        )
    )
    return SessionTokens(
        user=user,
        access_token=issue_access_token(claims, settings.secret_key),
        refresh_token=refresh_token,
        expires_at=expires_at,
    )
