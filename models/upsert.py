"""INSERT ... ON CONFLICT, written once for both databases we run on."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession


def upsert_insert(db: AsyncSession | AsyncConnection, entity: Any) -> Any:
    """An INSERT of `entity` that can say `on_conflict_do_update` (the same SQL on SQLite and
    PostgreSQL); concurrent writers of one key then update instead of colliding."""
    bind = db.get_bind() if isinstance(db, AsyncSession) else db
    dialect = postgresql if bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(entity)
