"""An exported zip stays in the media store while its link works and is deleted once it has
expired: by `delete_expired_exports`, which the worker's sweep loop runs."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from context import build_state, close_state
from models.base import utcnow
from models.roster_imports import RosterExport
from resolvers.oneroster.exporter import delete_expired_exports
from stores.media import MediaStore
from tests.clients import GraphQLClient
from tests.factories import Factory
from tests.resolvers.oneroster.test_export import export
from worker import sweep_exports_forever


def media_files(settings: Settings) -> set[Path]:
    root = settings.media_dir
    return {path for path in root.rglob("*.zip") if path.is_file()} if root.exists() else set()


async def exports(session_factory: async_sessionmaker[AsyncSession]) -> list[tuple[str, datetime]]:
    async with session_factory() as session:
        rows = await session.execute(select(RosterExport.storage_key, RosterExport.expires_at))
        return sorted((key, expires_at) for key, expires_at in rows)


async def test_an_export_is_deleted_once_its_link_has_expired(
    gql: GraphQLClient,
    http: httpx.AsyncClient,
    factory: Factory,
    settings: Settings,
    session_factory: async_sessionmaker[AsyncSession],
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    first = await export(gql, factory.token(north.staff))
    second = await export(gql, factory.token(south.admin))
    recorded = await exports(session_factory)
    assert len(recorded) == 2
    assert {expires_at.isoformat() for _, expires_at in recorded} == {
        datetime.fromisoformat(first["expiresAt"]).isoformat(),
        datetime.fromisoformat(second["expiresAt"]).isoformat(),
    }
    files = media_files(settings)
    assert files == {settings.media_dir / key for key, _ in recorded}

    state = build_state(settings)
    try:
        earliest = min(expires_at for _, expires_at in recorded)
        assert await delete_expired_exports(state, now=earliest - timedelta(seconds=1)) == 0
        assert media_files(settings) == files, "a link that still works keeps its file"
        assert (await http.get(first["url"])).status_code == 200

        async with session_factory.begin() as session:  # north's link has expired, south's not
            await session.execute(
                update(RosterExport)
                .where(RosterExport.school_id == north.school.id)
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
        assert await delete_expired_exports(state) == 1
        assert await delete_expired_exports(state) == 0, "deleted once"
    finally:
        await close_state(state)
    left = await exports(session_factory)
    assert [expires_at.isoformat() for _, expires_at in left] == [
        datetime.fromisoformat(second["expiresAt"]).isoformat()
    ]
    assert media_files(settings) == {settings.media_dir / key for key, _ in left}
    assert (await http.get(first["url"])).status_code == 404, "the file is gone"
    assert (await http.get(second["url"])).status_code == 200


async def test_the_worker_sweeps_expired_exports(
    factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    store = MediaStore(settings.media_dir)
    keys = [store.save(b"PK\x03\x04zip", suffix=".zip") for _ in range(3)]
    async with session_factory.begin() as session:
        for key, minutes in zip(keys, (-5, -1, 10), strict=True):
            expires_at = utcnow() + timedelta(minutes=minutes)
            session.add(RosterExport(school_id=north.school.id, storage_key=key, expires_at=expires_at))
    store.delete(keys[0])  # a file already gone (another process's sweep) is fine
    state = build_state(settings)
    stop = asyncio.Event()
    sweeper = asyncio.create_task(sweep_exports_forever(state, stop, every=0.05))
    try:
        deadline = time.monotonic() + 20
        while len(await exports(session_factory)) > 1:
            assert time.monotonic() < deadline, "the sweep deleted the expired exports"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await sweeper
        await close_state(state)
    assert [key for key, _ in await exports(session_factory)] == [keys[2]]
    assert media_files(settings) == {settings.media_dir / keys[2]}
