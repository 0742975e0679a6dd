"""`Writer`: a seed's multi-row inserts on one connection, so in one transaction, in chunks of
CHUNK_ROWS rows that move the progress bar; it gives back the ids the database assigned (through
RETURNING) and counts the rows written per table. `Row` is a row to insert.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from models import Base

Row = dict[str, Any]
CHUNK_ROWS = 5_000  # rows per INSERT call (the driver splits further); the progress bar moves per chunk


class Writer:
    """Multi-row inserts on one connection (so in one transaction), counting the rows per table."""

    def __init__(self, connection: AsyncConnection, bar: Any) -> None:
        self.connection = connection
        self.bar = bar
        self.counts: Counter[str] = Counter()

    async def insert(self, model: type[Base], rows: Sequence[Row]) -> None:
        for chunk in self._chunks(model, rows):
            await self.connection.execute(insert(model), chunk)

    async def insert_returning_ids(
        self, model: type[Base], rows: Sequence[Row], key: Sequence[str]
    ) -> list[int]:
        """Inserts the rows and gives their ids in the rows' order.

        A multi-row INSERT ... RETURNING does not promise the order of what it returns (SQLite
        says so), so each row is found again by its `key` columns, unique among `rows`.
        """
        columns = model.__table__.c
        statement = insert(model).returning(columns.id, *(columns[name] for name in key))
        ids: dict[tuple[Any, ...], int] = {}
        for chunk in self._chunks(model, rows):
            result = await self.connection.execute(statement, chunk)
            ids.update((tuple(found[1:]), found[0]) for found in result)
        return [ids[tuple(row[name] for name in key)] for row in rows]

    def _chunks(self, model: type[Base], rows: Sequence[Row]) -> Iterator[Sequence[Row]]:
        self.bar.set_postfix_str(model.__tablename__)
        for start in range(0, len(rows), CHUNK_ROWS):
            chunk = rows[start : start + CHUNK_ROWS]
            yield chunk
            self.bar.update(len(chunk))
        self.counts[model.__tablename__] += len(rows)
