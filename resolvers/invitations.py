"""Invitations: one-time codes with which an INVITED account sets its password and signs in.

Only a code's SHA-256 is stored; the code itself is in the answer that made the invitation and
nowhere else. A code works once, for INVITATION_DAYS days, and stops working when the account
is invited again, when it is revoked, or when the account is deactivated. Accepting is one
conditional UPDATE (`WHERE accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now`), so
of concurrent accepts of one code exactly one wins.

Codes are looked up without signing in (the accept page), so the lookups that fail (an unknown,
used, revoked or expired code) are limited per client address: FAILED_CODES_PER_IP.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from auth.identity import SignInMethod
from auth.passwords import hash_password
from errors import ApiError, Problem, ProblemError
from models import GuardianLink, Invitation, School, StudentProfile, TeacherProfile, User
from models.base import utcnow
from models.enums import InvitationStatus, Role, UserStatus
from resolvers import audit
from resolvers.auth import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, SessionTokens, start_session
from resolvers.people import (
    account_pk,
    email_problem,
    email_taken,
    invited_account,
    is_email_taken,
    name_problem,
    own_account,
    require_may_manage,
    revoke_open_invitations,
)
from resolvers.roster_rules import flush_or_refuse, not_found, own_row, require_staff
from stores.attempts import Attempt

if TYPE_CHECKING:
    from auth.identity import CurrentUser
    from context import Context

INVITATION_DAYS = 7
# The `limits` notation of config.py's abuse limits: failed code lookups of one client address.
FAILED_CODES_PER_IP = "30/15 minutes"
MAX_CODE_LENGTH = 100
MAX_WARDS = 20
INVALID_INVITATION = Problem(
    "This invitation is not valid: unknown, used, revoked or expired.",
    "INVALID_INVITATION",
    ("input", "code"),
)


class TooManyCodes(ApiError):
    code = "RATE_LIMITED"
    default_message = "Too many invitation codes tried from here. Try again later."


@dataclass
class IssuedInvitation:
    """An invitation and its account; `code` only in the answer that made it."""

    invitation: Invitation
    user: User
    code: str | None = None


@dataclass
class InvitationPreview:
    email: str
    name: str
    role: Role
    expires_at: datetime
    school: School


def accept_path(code: str) -> str:
    """The accept page of a code (relative: the frontends' own origin)."""
    return f"/invite/{code}"


def status_of(invitation: Invitation, now: datetime) -> InvitationStatus:
    if invitation.accepted_at is not None:
        return InvitationStatus.ACCEPTED
    if invitation.revoked_at is not None:
        return InvitationStatus.REVOKED
    return InvitationStatus.EXPIRED if invitation.expires_at <= now else InvitationStatus.PENDING


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


async def issue(session: AsyncSession, user: User, created_by_id: int, moment: datetime) -> IssuedInvitation:
    """A new code for the account, in the caller's transaction; its older codes stop working."""
    await revoke_open_invitations(session, user.id, moment)
    code = secrets.token_urlsafe(24)
    invitation = Invitation(
        school_id=user.school_id,
        user_id=user.id,
        code_hash=_hash(code),
        created_by_id=created_by_id,
        created_at=moment,
        expires_at=moment + timedelta(days=INVITATION_DAYS),
    )
    session.add(invitation)
    await session.flush()
    return IssuedInvitation(invitation, user, code)


@dataclass
class InviteFields:
    user_id: str | None = None
    email: str | None = None
    name: str | None = None
    role: Role | None = None
    ward_ids: list[str] | None = None


async def invite(ctx: Context, fields: InviteFields) -> IssuedInvitation | list[Problem]:
    """Staff and admins invite a new account (email, name, role; a guardian with their wards) or
    again one that never signed in (userId). Only admins invite STAFF and ADMIN accounts."""
    caller = require_staff(ctx)
    if fields.user_id is not None:
        return await _reinvite(ctx, caller, fields)
    if fields.role is not None:
        require_may_manage(caller, fields.role)
    email, name = (fields.email or "").strip().lower(), (fields.name or "").strip()
    problems = [
        problem
        for problem in (email_problem(email, ("input", "email")), name_problem(name, ("input", "name")))
        if problem
    ]
    if fields.role is None:
        problems.append(Problem("Give the role of the account.", "INVALID", ("input", "role")))
    elif fields.role == Role.STUDENT:
        problems.append(Problem("Students are made with createStudent.", "INVALID", ("input", "role")))
    elif fields.ward_ids and fields.role != Role.GUARDIAN:
        problems.append(Problem("Only a guardian has wards.", "INVALID", ("input", "wardIds")))
    if fields.ward_ids and len(fields.ward_ids) > MAX_WARDS:
        problems.append(Problem(f"At most {MAX_WARDS} wards.", "INVALID", ("input", "wardIds")))
    if problems:
        return problems
    assert fields.role is not None
    moment = utcnow()
    try:
        async with ctx.writer.begin() as session:
            if await is_email_taken(session, email):
                raise ProblemError(email_taken())
            wards = await _wards(session, caller.school_id, fields.ward_ids or [])
            user = invited_account(caller.school_id, email, name, fields.role, moment)
            session.add(user)
            await flush_or_refuse(session, email_taken())  # a concurrent invitation may take it first
            if user.role == Role.TEACHER:
                session.add(TeacherProfile(user_id=user.id, school_id=caller.school_id))
            session.add_all(
                GuardianLink(guardian_id=user.id, student_id=ward, linked_at=moment) for ward in wards
            )
            issued = await issue(session, user, caller.id, moment)
            detail = {"role": user.role.value, "wardIds": wards}
            audit.record(session, ctx, "user.invited", "User", user.id, detail=detail)
    except ProblemError as refused:
        return refused.problems
    return issued


async def _wards(session: AsyncSession, school_id: int, global_ids: list[str]) -> list[int]:
    """The students of the school the ids name, once each; NOT_FOUND at the index of any other."""
    pks = [account_pk(global_id) for global_id in global_ids]
    wanted = [pk for pk in pks if pk is not None]
    found = set(
        await session.scalars(
            select(StudentProfile.user_id).where(
                StudentProfile.user_id.in_(wanted), StudentProfile.school_id == school_id
            )
        )
    )
    problems = [
        not_found(("input", "wardIds", index), "student") for index, pk in enumerate(pks) if pk not in found
    ]
    if problems:
        raise ProblemError(*problems)
    return list(dict.fromkeys(pk for pk in pks if pk is not None))


async def _reinvite(
    ctx: Context, caller: CurrentUser, fields: InviteFields
) -> IssuedInvitation | list[Problem]:
    assert fields.user_id is not None
    if fields.email is not None or fields.role is not None or fields.ward_ids is not None:
        message = "Give either the userId of an account, or the email, name and role of a new one."
        return [Problem(message, "INVALID", ("input", "userId"))]
    try:
        async with ctx.writer.begin() as session:
            user = await own_account(session, fields.user_id, caller.school_id, ("input", "userId"))
            require_may_manage(caller, user.role)
            if user.status == UserStatus.DEACTIVATED or user.password_hash or user.last_sign_in_at:
                message = "This account has signed in already, or is deactivated: it needs no invitation."
                raise ProblemError(Problem(message, "FORBIDDEN_STATE", ("input", "userId")))
            if fields.name is not None:
                problem = name_problem(fields.name.strip(), ("input", "name"))
                if problem:
                    raise ProblemError(problem)
                user.name = fields.name.strip()
            issued = await issue(session, user, caller.id, utcnow())
            audit.record(session, ctx, "user.reinvited", "User", user.id)
    except ProblemError as refused:
        return refused.problems
    return issued


async def revoke(ctx: Context, invitation_id: str) -> IssuedInvitation | list[Problem]:
    """Staff and admins: the code stops working (revoking a revoked one changes nothing)."""
    caller = require_staff(ctx)
    moment = utcnow()
    used = Problem("This invitation was accepted already.", "FORBIDDEN_STATE", ("input", "invitationId"))
    try:
        async with ctx.writer.begin() as session:
            field = ("input", "invitationId")
            invitation = await own_row(
                session, Invitation, invitation_id, "Invitation", caller.school_id, field
            )
            if invitation.accepted_at is not None:
                raise ProblemError(used)
            if invitation.revoked_at is None:
                revoked = await session.execute(
                    update(Invitation)
                    .where(
                        Invitation.id == invitation.id,
                        Invitation.accepted_at.is_(None),
                        Invitation.revoked_at.is_(None),
                    )
                    .values(revoked_at=moment)
                )
                if revoked.rowcount != 1:  # type: ignore[attr-defined]
                    raise ProblemError(used)  # accepted in the meantime
                audit.record(session, ctx, "invitation.revoked", "User", invitation.user_id)
            user = await session.get(User, invitation.user_id)
            assert user is not None
    except ProblemError as refused:
        return refused.problems
    return IssuedInvitation(invitation, user)


async def _valid_code(ctx: Context, code: str) -> tuple[Invitation, User, School] | None:
    if not code or len(code) > MAX_CODE_LENGTH:
        return None
    query = (
        select(Invitation, User, School)
        .join(User, User.id == Invitation.user_id)
        .join(School, School.id == Invitation.school_id)
        .where(
            Invitation.code_hash == _hash(code),
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > utcnow(),
            User.status != UserStatus.DEACTIVATED,
        )
    )
    async with ctx.session_factory() as session:
        row = (await session.execute(query)).first()
    return (row[0], row[1], row[2]) if row else None


async def _reserve_attempt(ctx: Context) -> Attempt:
    """Counts the client's attempt at a code before the code is looked up (so that codes tried at
    once cannot outrun the limit, stores/attempts.py); raises TooManyCodes when none is left."""
    attempt = await ctx.app.attempts.reserve(FAILED_CODES_PER_IP, "invitation-ip", ctx.client_ip or "unknown")
    if attempt is None:
        raise TooManyCodes
    return attempt


async def preview(ctx: Context, code: str) -> InvitationPreview | None:
    """What the accept page shows; None for a code that does not work (no sign-in needed)."""
    attempt = await _reserve_attempt(ctx)
    found = await _valid_code(ctx, code)
    if found is None:
        return None
    await ctx.app.attempts.give_back(attempt)
    invitation, user, school = found
    return InvitationPreview(user.email, user.name, user.role, invitation.expires_at, school)


async def accept(ctx: Context, code: str, password: str, name: str | None) -> SessionTokens:
    """Sets the password, makes the account ACTIVE and signs it in (no sign-in needed)."""
    problems = []
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        message = f"The password must have {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
        problems.append(Problem(message, "INVALID", ("input", "password")))
    new_name = name.strip() if name is not None else None
    problem = name_problem(new_name, ("input", "name")) if new_name is not None else None
    if problem:
        problems.append(problem)
    if problems:
        return SessionTokens(problems=problems)
    try:
        attempt = await _reserve_attempt(ctx)
    except TooManyCodes as limited:
        return SessionTokens(problems=[Problem(str(limited), "RATE_LIMITED", ("input", "code"))])
    if len(code) > MAX_CODE_LENGTH:
        code = ""
    password_hash = await asyncio.to_thread(hash_password, password)
    moment = utcnow()
    try:
        async with ctx.writer.begin() as session:
            accepted = (
                await session.execute(
                    update(Invitation)
                    .where(
                        Invitation.code_hash == _hash(code),
                        Invitation.accepted_at.is_(None),
                        Invitation.revoked_at.is_(None),
                        Invitation.expires_at > moment,
                    )
                    .values(accepted_at=moment)
                    .returning(Invitation.user_id)
                )
            ).first()
            user = await session.get(User, accepted.user_id, with_for_update=True) if accepted else None
            if user is None or user.status == UserStatus.DEACTIVATED:
                raise ProblemError(INVALID_INVITATION)
            user.password_hash, user.status, user.last_sign_in_at = password_hash, UserStatus.ACTIVE, moment
            if new_name is not None:
                user.name = new_name
            await revoke_open_invitations(session, user.id, moment)
            tokens = start_session(session, ctx, user, SignInMethod.INVITATION)
            audit.record(
                session,
                ctx,
                "invitation.accepted",
                "User",
                user.id,
                actor_id=user.id,
                school_id=user.school_id,
            )
    except ProblemError as refused:
        return SessionTokens(problems=refused.problems)
    await ctx.app.attempts.give_back(attempt)
    return tokens
