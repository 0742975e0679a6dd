"""The async engine and session factory, and the SQL statement counter used by tests and metrics."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from config import Settings

# The statements of the current operation, when something is counting (the metrics extension).
operation_statements: ContextVar[list[int] | None] = ContextVar("operation_statements", default=None)


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.async_database_url
    if settings.is_sqlite:
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        engine = create_async_engine(
            url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_recycle=1800
        )
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
    return engine


def _count_statement(*_args: Any) -> None:
    counter = operation_statements.get()
    if counter is not None:
        counter[0] += 1


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; foreign keys are off in SQLite unless asked for."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class StatementCounter:
    """Counts SQL statements on an engine while active (`with counter:`)."""

    def __init__(self, engine: AsyncEngine | Engine) -> None:
        self._engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
        self.count = 0
        self.statements: list[str] = []

    def _on_execute(self, *args: Any) -> None:
        self.count += 1
        self.statements.append(args[2])

    def __enter__(self) -> StatementCounter:
        event.listen(self._engine, "after_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self._engine, "after_cursor_execute", self._on_execute)
