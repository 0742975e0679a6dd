"""Loader building blocks: rows by primary key, and rows grouped by a foreign key.

Each batch reads with its own short session, because graphql-core resolves sibling
fields concurrently and one AsyncSession must never be shared by concurrent reads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from typing import Any, Generic, TypeVar

from aiodataloader import DataLoader
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import InstrumentedAttribute

from models.base import Base

M = TypeVar("M", bound=Base)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
MAX_BATCH = 1000


class SessionLoader(DataLoader[K, V], Generic[K, V]):
    """A DataLoader whose batches each read with a short session of their own."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        super().__init__(max_batch_size=MAX_BATCH)
        self._session_factory = session_factory


class RowByKeyLoader(SessionLoader[K, M | None], Generic[K, M]):
    """Loads at most one row per key (a primary key or a unique column)."""

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], column: InstrumentedAttribute[Any]):
        super().__init__(session_factory)
        self._column = column

    async def batch_load_fn(self, keys: Sequence[K]) -> list[M | None]:
        async with self._session_factory() as session:
            rows = (await session.scalars(select(self._column.class_).where(self._column.in_(keys)))).all()
        by_key = {getattr(row, self._column.key): row for row in rows}
        return [by_key.get(key) for key in keys]

    async def load_existing(self, key: K) -> M:
        """For keys a foreign key guarantees; a missing row is a bug, not a user error."""
        row = await self.load(key)
        if row is None:
            raise LookupError(f"{self._column} = {key!r} does not exist")
        return row


class RowsByKeyLoader(SessionLoader[K, list[M]], Generic[K, M]):
    """Loads every row whose `column` equals the key (and `where`), ordered by `order_by`."""

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        column: InstrumentedAttribute[Any],
        order_by: Sequence[Any] = (),
        where: Sequence[Any] = (),
    ):
        super().__init__(session_factory)
        self._column = column
        self._order_by = order_by
        self._where = where

    async def batch_load_fn(self, keys: Sequence[K]) -> list[list[M]]:
        query = (
            select(self._column.class_).where(self._column.in_(keys), *self._where).order_by(*self._order_by)
        )
        async with self._session_factory() as session:
            rows = (await session.scalars(query)).all()
        grouped: defaultdict[K, list[M]] = defaultdict(list)
        for row in rows:
            grouped[getattr(row, self._column.key)].append(row)
        return [grouped.get(key, []) for key in keys]
