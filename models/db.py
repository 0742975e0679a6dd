"""The async engine and session factories, and the SQL statement count of an operation (metrics)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from config import Settings

WRITER_OPTION = "campusgraph_writer"

# The statements of the current operation, when something is counting (the metrics extension).
operation_statements: ContextVar[list[int] | None] = ContextVar("operation_statements", default=None)


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.async_database_url
    if settings.is_sqlite:
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _sqlite_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
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


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer; foreign keys are off in SQLite unless asked for.
    The driver's own transaction handling is turned off so that `_sqlite_begin` decides."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """Writers take SQLite's write lock when they begin (BEGIN IMMEDIATE), so that two of them
    never both read and then fail to upgrade ("database is locked"); they wait their turn."""
    immediate = connection.get_execution_options().get(WRITER_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def create_writer_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions for read-then-write transactions (on PostgreSQL the same as any other)."""
    return async_sessionmaker(engine.execution_options(**{WRITER_OPTION: True}), expire_on_commit=False)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
