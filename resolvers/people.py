"""The people of a school: the admins' list of accounts, deactivating and reactivating an account,
and the guardians linked to a student; and the rules the other people modules share (which ids
name an account, who manages which accounts, what a valid name and email are, what an invited
account is and how its open invitations end).

Deactivation ends everything at once: the account's refresh tokens are revoked in the same
transaction, its access tokens stop working because every request loads the account and
refuses an inactive one (resolvers/auth.py `authenticate`), and after the commit a
SessionRevoked for all of its sessions closes its WebSockets on every server process.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Select, delete, func, literal, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from errors import BadInput, Forbidden, Problem, ProblemError
from models import GuardianLink, Invitation, RefreshToken, StudentProfile, User
from models.base import utcnow
from models.enums import Role, Tier, UserStatus
from resolvers import audit, text_search
from resolvers.auth import EMAIL_PATTERN
from resolvers.ids import decode_id
from resolvers.pagination import Page, cursor_key, cursor_time, decode_cursor, encode_cursor, page_size
from resolvers.policy import SCHOOL_WIDE_ROLES
from resolvers.roster_rules import ADMINS_ONLY, flush_or_refuse, not_found, require_admin, require_staff
from resolvers.text_search import Ranked
from subscriptions.channels import user_sessions_channel
from subscriptions.events import SessionRevoked

if TYPE_CHECKING:
    from auth.identity import CurrentUser
    from context import Context

# A person's ids: a student is also a User, a teacher too; each names the same account.
ACCOUNT_TYPES = frozenset({"User", "Student", "Teacher"})
MAX_NAME_LENGTH = 200
MAX_RELATIONSHIP_LENGTH = 40
DEFAULT_RELATIONSHIP = "parent"
SEARCHED = (User.name, User.email)  # what the list's query looks in, typos forgiven
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def account_pk(global_id: str) -> int | None:
    """The account an id of a User, Student or Teacher names; None for anything else."""
    try:
        type_name, pk = decode_id(global_id)
    except BadInput:
        return None
    return pk if type_name in ACCOUNT_TYPES else None


async def own_account(session: AsyncSession, global_id: str, school_id: int, field: Sequence[str]) -> User:
    """The account of the caller's school an input's id names, locked for the transaction; else
    NOT_FOUND on `field` (another school's is answered alike)."""
    pk = account_pk(global_id)
    user = await session.get(User, pk, with_for_update=True) if pk is not None else None
    if user is None or user.school_id != school_id:
        raise ProblemError(not_found(field, "user"))
    return user


def require_may_manage(caller: CurrentUser, role: Role) -> None:
    """Staff and admins manage accounts; STAFF and ADMIN accounts only admins."""
    if role in SCHOOL_WIDE_ROLES and caller.role != Role.ADMIN:
        raise Forbidden(ADMINS_ONLY)


def name_problem(name: str, field: Sequence[str]) -> Problem | None:
    if 0 < len(name) <= MAX_NAME_LENGTH:
        return None
    return Problem(f"A name of 1 to {MAX_NAME_LENGTH} characters.", "INVALID", tuple(field))


def email_problem(email: str, field: Sequence[str]) -> Problem | None:
    if len(email) <= 254 and EMAIL_PATTERN.match(email):
        return None
    return Problem("Enter a valid email address.", "INVALID", tuple(field))


def email_taken(field: Sequence[str] = ("input", "email")) -> Problem:
    return Problem("This email belongs to another account.", "CONFLICT", tuple(field))


def invited_account(school_id: int, email: str, name: str, role: Role, moment: datetime) -> User:
    """A new account that cannot sign in until one of its invitations is accepted: no password,
    INVITED (the caller adds it to its session)."""
    return User(
        school_id=school_id,
        email=email,
        name=name,
        password_hash=None,
        role=role,
        tier=Tier.FREE,
        status=UserStatus.INVITED,
        created_at=moment,
    )


async def revoke_open_invitations(session: AsyncSession, user_id: int, moment: datetime) -> None:
    """Every code of the account not yet accepted or revoked stops working, in the caller's
    transaction."""
    await session.execute(
        update(Invitation)
        .where(
            Invitation.user_id == user_id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None)
        )
        .values(revoked_at=moment)
    )


async def is_email_taken(session: AsyncSession, email: str, except_id: int | None = None) -> bool:
    """Emails are unique across every school (they sign in)."""
    query = select(User.id).where(User.email == email)
    if except_id is not None:
        query = query.where(User.id != except_id)
    return await session.scalar(query.limit(1)) is not None


# ---------------------------------------------------------------- the list of accounts


@dataclass
class UserFilter:
    roles: list[Role] | None = None
    statuses: list[UserStatus] | None = None
    text: str | None = None


@dataclass
class UserOrder:
    field: str = "NAME"  # NAME | EMAIL | JOINED_AT
    descending: bool = False


def _sort_column(ctx: Context, field: str) -> ColumnElement[Any]:
    if field == "JOINED_AT":
        return User.created_at.expression
    column = func.lower(User.name if field == "NAME" else User.email)
    # Byte order on both databases, as the student search.
    return column if ctx.settings.is_sqlite else column.collate("C")


def _python_sort_value(user: User, field: str) -> str | int:
    if field == "JOINED_AT":
        return (user.created_at - EPOCH) // timedelta(microseconds=1)
    return (user.name if field == "NAME" else user.email).lower()


async def users(
    ctx: Context, user_filter: UserFilter, order: UserOrder, first: int | None, after: str | None
) -> Page[User]:
    """The school's accounts (admins only), by role, status and words of the name or email.
    Pages are keyset pages on (sort value, id); a query with a word of five letters or more
    also finds typos, closest first (resolvers/text_search.py)."""
    admin = require_admin(ctx)
    limit = page_size(first, ctx.settings.max_page_size)
    query = select(User).where(User.school_id == admin.school_id)
    if user_filter.roles:
        query = query.where(User.role.in_(user_filter.roles))
    if user_filter.statuses:
        query = query.where(User.status.in_(user_filter.statuses))
    words = text_search.search_words(user_filter.text)
    if words:
        query = query.where(text_search.candidates(words, exact=SEARCHED, fuzzy=SEARCHED))
    if text_search.is_fuzzy(words):
        return await _closest_users(ctx, query, words, order, limit, after)
    sort = _sort_column(ctx, order.field)
    page_query = query.add_columns(sort.label("sort_value"))
    if after is not None:
        sort_value, last_id = _decode_cursor(after, order.field)
        position, mark = tuple_(sort, User.id), tuple_(literal(sort_value, sort.type), literal(last_id))
        page_query = page_query.where(position < mark if order.descending else position > mark)
    ordering = [sort.desc(), User.id.desc()] if order.descending else [sort.asc(), User.id.asc()]
    async with ctx.session_factory() as session:
        rows = (await session.execute(page_query.order_by(*ordering).limit(limit + 1))).all()
        total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    cursors = [_encode_cursor(value, user.id) for user, value in rows[:limit]]
    return Page([user for user, _ in rows[:limit]], cursors, total, len(rows) > limit)


async def _closest_users(
    ctx: Context,
    query: Select[User],
    words: Sequence[str],
    order: UserOrder,
    limit: int,
    after: str | None,
) -> Page[User]:
    """The candidates the database narrowed to, scored, ranked and paged by text_search."""
    async with ctx.session_factory() as session:
        found = list((await session.scalars(query)).all())
    ranked = []
    for user in found:
        close = text_search.closeness(words, (user.name, user.email), (user.name, user.email))
        if close is not None:
            ranked.append(Ranked(user, close, _python_sort_value(user, order.field), user.id))
    numeric = order.field == "JOINED_AT"
    page = text_search.rank_page(
        ranked, descending=order.descending, first=limit, after=after, numeric=numeric
    )
    return Page([entry.item for entry in page.entries], page.cursors, len(ranked), page.has_next_page)


def _encode_cursor(sort_value: str | datetime, user_id: int) -> str:
    value = sort_value.isoformat() if isinstance(sort_value, datetime) else sort_value
    return encode_cursor(json.dumps([value, user_id]))


def _decode_cursor(cursor: str, field: str) -> tuple[str | datetime, int]:
    try:
        sort_value, user_id = json.loads(decode_cursor(cursor))
    except (ValueError, TypeError) as error:
        raise BadInput("Not a valid cursor.") from error
    if not isinstance(sort_value, str):
        raise BadInput("Not a valid cursor.")
    return (cursor_time(sort_value) if field == "JOINED_AT" else sort_value), cursor_key(user_id)


# ---------------------------------------------------------------- deactivation


async def deactivate(ctx: Context, global_id: str, reason: str | None) -> User | list[Problem]:
    """Staff and admins (STAFF and ADMIN accounts: admins). The account cannot sign in; its
    sessions and open connections end on every process, and its open invitations are revoked."""
    caller = require_staff(ctx)
    moment = utcnow()
    try:
        async with ctx.writer.begin() as session:
            user = await own_account(session, global_id, caller.school_id, ("input", "userId"))
            if user.id == caller.id:
                raise ProblemError(Problem("You cannot deactivate yourself.", "INVALID", ("input", "userId")))
            require_may_manage(caller, user.role)
            if user.status == UserStatus.DEACTIVATED:
                raise ProblemError(_state("The account is deactivated already."))
            user.status, user.deactivated_at = UserStatus.DEACTIVATED, moment
            await session.execute(
                update(RefreshToken)
                .where(RefreshToken.user_id == user.id, RefreshToken.revoked_at.is_(None))
                .values(revoked_at=moment)
            )
            await revoke_open_invitations(session, user.id, moment)
            audit.record(session, ctx, "user.deactivated", "User", user.id, detail={"reason": reason or ""})
    except ProblemError as refused:
        return refused.problems
    await ctx.bus.publish(user_sessions_channel(user.id), SessionRevoked(session_id=None))
    return user


async def reactivate(ctx: Context, global_id: str) -> User | list[Problem]:
    """Back to ACTIVE, or to INVITED for an account that never set a password (its codes were
    revoked with the deactivation: it needs a new invitation)."""
    caller = require_staff(ctx)
    try:
        async with ctx.writer.begin() as session:
            user = await own_account(session, global_id, caller.school_id, ("input", "userId"))
            require_may_manage(caller, user.role)
            if user.status != UserStatus.DEACTIVATED:
                raise ProblemError(_state("The account is not deactivated."))
            user.status = UserStatus.ACTIVE if user.password_hash else UserStatus.INVITED
            user.deactivated_at = None
            audit.record(
                session, ctx, "user.reactivated", "User", user.id, detail={"status": user.status.value}
            )
    except ProblemError as refused:
        return refused.problems
    return user


def _state(message: str) -> Problem:
    return Problem(message, "FORBIDDEN_STATE", ("input", "userId"))


# ---------------------------------------------------------------- guardians


@dataclass
class Guardianship:
    """A guardian and a ward as a link leaves them (the student as account and profile)."""

    guardian: User
    student: User
    profile: StudentProfile


async def _pair(
    session: AsyncSession, caller: CurrentUser, guardian_gid: str, student_gid: str
) -> Guardianship:
    """The guardian and the student of the caller's school two ids name (NOT_FOUND each
    otherwise; a user who is not a guardian: INVALID)."""
    problems: list[Problem] = []
    guardian: User | None = None
    try:
        guardian = await own_account(session, guardian_gid, caller.school_id, ("input", "guardianId"))
    except ProblemError as refused:
        problems.extend(refused.problems)
    if guardian is not None and guardian.role != Role.GUARDIAN:
        problems.append(Problem("This account is not a guardian's.", "INVALID", ("input", "guardianId")))
    pk = account_pk(student_gid)
    profile = await session.get(StudentProfile, pk) if pk is not None else None
    ours = profile is not None and profile.school_id == caller.school_id
    student = await session.get(User, profile.user_id) if profile is not None and ours else None
    if student is None:
        problems.append(not_found(("input", "studentId"), "student"))
    if problems or guardian is None or student is None or profile is None:
        raise ProblemError(*problems)
    return Guardianship(guardian, student, profile)


async def link_guardian(
    ctx: Context, guardian_gid: str, student_gid: str, relationship: str | None
) -> Guardianship | list[Problem]:
    """Staff and admins: the guardian then sees the ward's grades, attendance and balances."""
    caller = require_staff(ctx)
    relation = (relationship or "").strip() or DEFAULT_RELATIONSHIP
    if len(relation) > MAX_RELATIONSHIP_LENGTH:
        message = f"A relationship of at most {MAX_RELATIONSHIP_LENGTH} characters."
        return [Problem(message, "INVALID", ("input", "relationship"))]
    already = Problem("This guardian is linked to this student already.", "CONFLICT", ("input", "guardianId"))
    try:
        async with ctx.writer.begin() as session:
            pair = await _pair(session, caller, guardian_gid, student_gid)
            linked = await session.scalar(
                select(GuardianLink.id).where(
                    GuardianLink.guardian_id == pair.guardian.id, GuardianLink.student_id == pair.student.id
                )
            )
            if linked is not None:
                raise ProblemError(already)
            session.add(
                GuardianLink(guardian_id=pair.guardian.id, student_id=pair.student.id, relationship=relation)
            )
            await flush_or_refuse(session, already)  # a concurrent link of the same pair may come first
            detail = {"guardianId": pair.guardian.id, "relationship": relation}
            audit.record(session, ctx, "guardian.linked", "Student", pair.student.id, detail=detail)
    except ProblemError as refused:
        return refused.problems
    return pair


async def unlink_guardian(ctx: Context, guardian_gid: str, student_gid: str) -> Guardianship | list[Problem]:
    """Staff and admins: the guardian stops seeing the student at once (the next request)."""
    caller = require_staff(ctx)
    try:
        async with ctx.writer.begin() as session:
            pair = await _pair(session, caller, guardian_gid, student_gid)
            removed = await session.execute(
                delete(GuardianLink).where(
                    GuardianLink.guardian_id == pair.guardian.id, GuardianLink.student_id == pair.student.id
                )
            )
            if removed.rowcount != 1:  # type: ignore[attr-defined]
                raise ProblemError(
                    Problem(
                        "This guardian is not linked to this student.", "NOT_FOUND", ("input", "guardianId")
                    )
                )
            detail = {"guardianId": pair.guardian.id}
            audit.record(session, ctx, "guardian.unlinked", "Student", pair.student.id, detail=detail)
    except ProblemError as refused:
        return refused.problems
    return pair
