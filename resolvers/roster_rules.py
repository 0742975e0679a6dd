"""What every roster write checks first, in one place: who may manage the school's roster, that
an id inside an input names an object of the caller's school, and that the term is open; and how
a write that a concurrent one beat to a unique value is refused.

An id of another school's object is answered exactly like an unknown one (NOT_FOUND in
`userErrors`), so a write never reveals what exists elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from errors import Forbidden, InvalidId, Problem, ProblemError
from models import Term
from models.base import Base
from models.enums import Role, TermStatus
from resolvers.ids import decode_id_of
from resolvers.policy import SCHOOL_WIDE_ROLES, require_user

if TYPE_CHECKING:
    from auth.identity import CurrentUser
    from resolvers.policy import HasUser

M = TypeVar("M", bound=Base)

STAFF_ONLY = "Only the school's staff and admins do this."
ADMINS_ONLY = "Only the school's admins do this."


def require_staff(ctx: HasUser) -> CurrentUser:
    """The school's staff and admins manage its roster."""
    user = require_user(ctx)
    if user.role not in SCHOOL_WIDE_ROLES:
        raise Forbidden(STAFF_ONLY)
    return user


def require_admin(ctx: HasUser) -> CurrentUser:
    user = require_user(ctx)
    if user.role != Role.ADMIN:
        raise Forbidden(ADMINS_ONLY)
    return user


def not_found(field: Sequence[str | int], what: str) -> Problem:
    return Problem(f"No such {what}, or not yours to manage.", "NOT_FOUND", tuple(str(f) for f in field))


def term_closed(field: Sequence[str] | None = None) -> Problem:
    return Problem(
        "The term is closed: its grades and roster are frozen until an admin reopens it.",
        "TERM_CLOSED",
        tuple(field) if field else None,
    )


def require_open(term: Term, field: Sequence[str] | None = None) -> None:
    """Raises TERM_CLOSED (rolling the caller's transaction back) for a closed term."""
    if term.status == TermStatus.CLOSED:
        raise ProblemError(term_closed(field))


def decode_or_none(global_id: str, type_name: str) -> int | None:
    """The primary key of an id of `type_name`, or None for a malformed id or another type's."""
    try:
        return decode_id_of(global_id, type_name)
    except InvalidId:
        return None


async def own_row(
    session: AsyncSession,
    model: type[M],
    global_id: str,
    type_name: str,
    school_id: int,
    field: Sequence[str | int],
    *,
    school_of: Any = None,
) -> M:
    """The row of `model` an input's id names, if it belongs to `school_id`; else raises
    NOT_FOUND on `field`. `school_of(row)` gives the row's school where the model has no
    `school_id` column of its own."""
    pk = decode_or_none(global_id, type_name)
    row = await session.get(model, pk) if pk is not None else None
    row_school = (school_of(row) if school_of else getattr(row, "school_id", None)) if row else None
    if row is None or row_school != school_id:
        raise ProblemError(not_found(field, type_name[0].lower() + type_name[1:]))
    return row


async def flush_or_refuse(session: AsyncSession, conflict: Problem) -> None:
    """Writes the session's rows now. A unique value checked free, then taken by a concurrent
    writer that committed first, fails its constraint here: that is `conflict` (a ProblemError,
    so the transaction rolls back whole)."""
    try:
        await session.flush()
    except IntegrityError as error:
        raise ProblemError(conflict) from error
