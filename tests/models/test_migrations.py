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
