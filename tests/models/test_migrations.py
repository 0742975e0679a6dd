"""Every model change comes with a migration, and both databases store the same values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

import models
from migrations.runner import include_object
from models import School


async def test_migrations_match_the_models(engine: AsyncEngine) -> None:
    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": include_object}
        )
        return list(compare_metadata(context, models.Base.metadata))

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []


async def test_timestamps_come_back_aware_and_in_utc(
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    paris = timezone(timedelta(hours=1))
    async with session_factory() as session, session.begin():
        school = School(name="Zone", slug="zone", created_at=datetime(2026, 11, 23, 10, 0, tzinfo=paris))
        session.add(school)
    async with session_factory() as session:
        stored = await session.get(School, school.id)
    assert stored is not None
    assert stored.created_at == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert stored.created_at.utcoffset() == timedelta(0)


async def test_naive_timestamps_are_refused(session_factory: async_sessionmaker[AsyncSession]) -> None:
    async with session_factory() as session:
        session.add(School(name="Naive", slug="naive", created_at=datetime(2026, 11, 23)))  # noqa: DTZ001
        with pytest.raises(Exception, match="naive datetimes"):
            await session.flush()


def test_a_migrated_sqlite_database_is_in_wal_mode(migrated_template: str) -> None:
    """The mode is read from the file header (bytes 18-19 are 2 in WAL), not through a
    connection, which would itself switch the mode. Copies of the template (every test's
    database) then start in WAL, and engines opening one at once never race to switch it."""
    if not migrated_template.startswith("sqlite"):
        pytest.skip("SQLite only")
    with open(migrated_template.removeprefix("sqlite:///"), "rb") as database:
        header = database.read(20)
    assert (header[18], header[19]) == (2, 2)
