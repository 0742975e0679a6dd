"""The async engine and session factories, the SQL statement count of an operation (metrics),
and what counts as "the database is unavailable" (an outage, not a bug)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from config import Settings

WRITER_OPTION = "campusgraph_writer"

# PostgreSQL: how long to wait for a new connection, for a free one in the pool, and for one
# statement. A database that refuses connections fails a request at once; one that stopped
# answering fails it within these bounds instead of hanging it. The pool checks a connection
# before lending it (pre-ping), so the connections of a restarted server are replaced, not
# handed out dead.
CONNECT_TIMEOUT_SECONDS = 5.0
POOL_TIMEOUT_SECONDS = 10.0
STATEMENT_TIMEOUT_SECONDS = 60.0

# SQLSTATEs of a lost or refused connection: class 08 (connection exception), the server shutting
# down or starting up (57P01-57P03), and no connection slot left (53300).
_UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")

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
            url,
            pool_size=10,
            max_overflow=20,
            pool_pre_ping=True,
            pool_recycle=1800,
            pool_timeout=POOL_TIMEOUT_SECONDS,
            connect_args={"timeout": CONNECT_TIMEOUT_SECONDS, "command_timeout": STATEMENT_TIMEOUT_SECONDS},
        )
        event.listen(engine.sync_engine, "do_connect", _connect_or_unavailable)
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)
    return engine


class DatabaseUnavailable(Exception):
    """The database could not be reached: connection refused, timed out or lost."""


def is_database_unavailable(error: BaseException | None) -> bool:
    """Whether `error` (or what caused it) means the database cannot be reached, as opposed to a
    bug or a refused statement. Such errors are shown to clients as SERVICE_UNAVAILABLE."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (DatabaseUnavailable, exc.TimeoutError)):  # refused, or no pool slot in time
            return True
        if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
            return True
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
            return True
        if type(error).__name__ == "InterfaceError" and "connection is closed" in str(error):
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
    return False


def _connect_or_unavailable(dialect: Dialect, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> Any:
    """Connects as SQLAlchemy would, but a socket error (refused, unreachable, timed out) becomes
    DatabaseUnavailable: SQLAlchemy passes such errors on unwrapped, indistinguishable from any
    other OSError of the request."""
    try:
        return dialect.connect(*cargs, **cparams)
    except OSError as error:  # TimeoutError and ConnectionRefusedError are OSErrors
        raise DatabaseUnavailable(f"cannot connect to the database: {error!r}") from error


def _count_statement(*_args: Any) -> None:
    counter = operation_statements.get()
    if counter is not None:
        counter[0] += 1


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers run beside the writer (the migrations make every database WAL, so here it
    is a no-op but for files made before them); foreign keys are off in SQLite unless asked for.
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
