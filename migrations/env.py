"""Alembic environment: async engine from Settings, batch mode on SQLite (for ALTER TABLE)."""

from __future__ import annotations

import asyncio
import logging.config
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

import models
from config import Settings
from migrations.runner import include_object

config = context.config
if config.config_file_name and not config.attributes.get("database_url"):
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)
target_metadata = models.Base.metadata


def database_url() -> str:
    url = config.attributes.get("database_url")
    return str(url) if url else Settings().async_database_url


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def _write_ahead_log(dbapi_connection: Any, _record: Any) -> None:
    """A SQLite database is put in WAL mode when it is made, not later by the server: the mode is
    kept in the file, and switching needs an exclusive lock that two engines opening a fresh
    file at once deadlock on (SQLite then answers one of them "database is locked" without
    waiting). Test databases are copies of a migrated template, so they start in WAL too."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


async def run_online() -> None:
    engine = create_async_engine(database_url(), poolclass=NullPool)  # nothing left open after
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _write_ahead_log)
    async with engine.connect() as connection:
        await connection.run_sync(run_with)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(run_online())
