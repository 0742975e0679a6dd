"""Page-size checks and keyset (cursor) pages over an id column, newest first."""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from errors import BadInput
from resolvers.ids import MAX_PK

T = TypeVar("T")
DEFAULT_PAGE_SIZE = 20
DIGITS = re.compile(r"[0-9]{1,18}")  # ASCII only: str.isdigit() also takes "²", which int() refuses


@dataclass
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    total_count: int
    has_next_page: bool


def page_size(
    first: int | None, cap: int, default: int = DEFAULT_PAGE_SIZE, *, argument: str = "first"
) -> int:
    """The page size asked for in `first` (or `last`, named by `argument`), checked against `cap`."""
    if first is None:
        return min(default, cap)
    if not 0 <= first <= cap:
        raise BadInput(f"{argument} must be between 0 and {cap}.")
    return first


def encode_cursor(value: str) -> str:
    """Cursors are opaque to clients: what is inside may change."""
    return base64.urlsafe_b64encode(value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> str:
    try:
        return base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode("ascii")).decode()
    except (ValueError, UnicodeError, binascii.Error) as error:
        raise BadInput("Not a valid cursor.") from error


def cursor_key(value: object) -> int:
    """The row id in a cursor: a primary key (1 to MAX_PK), or the cursor is not one of ours."""
    if type(value) is not int or not 0 < value <= MAX_PK:
        raise BadInput("Not a valid cursor.")
    return value


def cursor_time(value: object) -> datetime:
    """The time in a cursor: ISO 8601 with a zone, as our cursors carry it (times are stored
    with one; a naive time cannot be compared with them)."""
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise BadInput("Not a valid cursor.")
    return moment


def cursor_id(after: str | None) -> int | None:
    if after is None:
        return None
    raw = decode_cursor(after)
    return cursor_key(int(raw) if DIGITS.fullmatch(raw) else None)


async def newest_first(
    session: AsyncSession,
    query: Select[Any],
    id_column: InstrumentedAttribute[int],
    first: int,
    after: str | None,
) -> Page[Any]:
    """One page of `query`'s rows ordered by `id_column` descending; the cursor is the id."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    before_id = cursor_id(after)
    if before_id is not None:
        query = query.where(id_column < before_id)
    rows = list((await session.scalars(query.order_by(id_column.desc()).limit(first + 1))).all())
    items = rows[:first]
    return Page(
        items=items,
        cursors=[encode_cursor(str(getattr(row, id_column.key))) for row in items],
        total_count=total or 0,
        has_next_page=len(rows) > first,
    )
