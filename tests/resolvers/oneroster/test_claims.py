"""An import whose process died is taken over by exactly one worker once its heartbeat is older
than the lease, a live run's is left alone, an overtaken run writes nothing more, and an import
whose runs keep dying ends FAILED instead of crashing workers forever."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from context import AppState, build_state, close_state
from models import AuditEntry, RosterImport, RosterImportProblem, User
from models.base import utcnow
from models.enums import RosterImportStatus
from resolvers.oneroster.claims import LEASE, MAX_ATTEMPTS, claim_next
from resolvers.oneroster.importer import run_import
from resolvers.oneroster.imports import Upload as SetFile
from resolvers.oneroster.imports import create_import, package_of
from resolvers.oneroster.progress import LeaseLost
from tests.factories import Factory
from tests.resolvers.oneroster.builder import school_set
from worker import import_rosters_forever

STUDENTS = 3


@pytest.fixture
async def state(settings: Settings) -> AsyncIterator[AppState]:
    """A worker's state, without an app (whose own loop would claim the imports of the test)."""
    app_state = build_state(settings)
    await app_state.bus.connect()
    yield app_state
    await close_state(app_state)


async def running_import(state: AppState, factory: Factory, *, heartbeat: datetime | None) -> RosterImport:
    """An import its starter made RUNNING and then left: its process died after its last beat."""
    north = await factory.school("north")
    payload = package_of([SetFile(name, data) for name, data in school_set(students=STUDENTS).files()])
    job = await create_import(
        state,
        payload,
        school_id=north.school.id,
        started_by_id=north.staff.id,
        dry_run=False,
        inline_max=None,
    )
    assert (job.status, job.attempts) == (RosterImportStatus.RUNNING, 1)
    assert job.heartbeat_at is not None
    assert utcnow() - job.heartbeat_at < timedelta(seconds=30)
    async with state.writer_session_factory.begin() as session:
        await session.execute(
            update(RosterImport).where(RosterImport.id == job.id).values(heartbeat_at=heartbeat)
        )
    return job


async def stored(session_factory: async_sessionmaker[AsyncSession], import_id: int) -> RosterImport:
    async with session_factory() as session:
        job = await session.get(RosterImport, import_id)
    assert job is not None
    return job


async def problems_of(
    session_factory: async_sessionmaker[AsyncSession], import_id: int
) -> list[tuple[object, ...]]:
    async with session_factory() as session:
        rows = await session.execute(
            select(RosterImportProblem.file, RosterImportProblem.line, RosterImportProblem.code).where(
                RosterImportProblem.import_id == import_id
            )
        )
        return [tuple(row) for row in rows]


async def imported_students(session_factory: async_sessionmaker[AsyncSession]) -> int:
    async with session_factory() as session:
        query = select(func.count()).select_from(User).where(User.sourced_id.like("stu-%"))
        return await session.scalar(query) or 0


async def test_a_dead_run_is_taken_over_and_completed_by_the_worker(
    state: AppState, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    job = await running_import(state, factory, heartbeat=utcnow() - LEASE - timedelta(seconds=1))
    async with state.writer_session_factory.begin() as session:  # what the dead run had written
        session.add(
            RosterImportProblem(import_id=job.id, file="users.csv", line=2, code="INVALID", message="x")
        )
        await session.execute(update(RosterImport).where(RosterImport.id == job.id).values(processed=5))
    stop = asyncio.Event()
    worker = asyncio.create_task(import_rosters_forever(state, stop, idle_seconds=0.05))
    try:
        deadline = time.monotonic() + 60
        while (await stored(session_factory, job.id)).status == RosterImportStatus.RUNNING:
            assert time.monotonic() < deadline, "the worker took the import over"
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await worker
    done = await stored(session_factory, job.id)
    assert (done.status, done.attempts, done.payload) == (RosterImportStatus.COMPLETED, 2, None)
    assert done.processed == done.total > 5
    assert await problems_of(session_factory, job.id) == [], "the dead run's problems are found again, once"
    assert await imported_students(session_factory) == STUDENTS


async def test_a_live_run_keeps_its_import(
    state: AppState, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    job = await running_import(state, factory, heartbeat=utcnow() - LEASE + timedelta(seconds=20))
    assert await claim_next(state) is None
    kept = await stored(session_factory, job.id)
    assert (kept.status, kept.attempts, kept.processed) == (RosterImportStatus.RUNNING, 1, 0)
    assert await run_import(state, job.id) == RosterImportStatus.COMPLETED, "its own run goes on"


async def test_concurrent_workers_take_a_dead_run_over_once(
    state: AppState, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    job = await running_import(state, factory, heartbeat=None)  # as an older version left it
    claims = await asyncio.gather(*(claim_next(state) for _ in range(6)))
    assert sorted(claims, key=lambda claim: claim is None) == [job.id] + [None] * 5
    assert await claim_next(state) is None, "its heartbeat is fresh now"
    taken = await stored(session_factory, job.id)
    assert (taken.status, taken.attempts) == (RosterImportStatus.RUNNING, 2)


async def test_an_overtaken_run_writes_nothing_more(
    state: AppState, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    """A run silent for longer than the lease (hung, not dead) finds out at its next batch."""
    north = await factory.school("north")
    files = school_set(students=1200, classes=2, per_class=2).files()  # about ten batches
    payload = package_of([SetFile(name, data) for name, data in files])
    job = await create_import(
        state, payload, school_id=north.school.id, started_by_id=None, dry_run=False, inline_max=None
    )
    first_batch = asyncio.Event()

    def progressed(processed: int, total: int) -> None:
        if processed:
            first_batch.set()

    run = asyncio.create_task(run_import(state, job.id, on_progress=progressed))
    await first_batch.wait()
    async with state.writer_session_factory.begin() as session:  # what another worker's take-over writes
        await session.execute(
            update(RosterImport)
            .where(RosterImport.id == job.id)
            .values(attempts=RosterImport.attempts + 1, heartbeat_at=utcnow(), processed=0, counts={})
        )
    students_then = await imported_students(session_factory)
    with pytest.raises(LeaseLost):
        await run
    kept = await stored(session_factory, job.id)
    assert (kept.status, kept.attempts, kept.processed, kept.counts) == (RosterImportStatus.RUNNING, 2, 0, {})
    assert kept.payload == payload, "the new run still has the set"
    assert await imported_students(session_factory) == students_then, "nothing written after the take-over"


async def test_an_import_whose_runs_keep_dying_ends_failed(
    state: AppState, factory: Factory, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    job = await running_import(state, factory, heartbeat=utcnow() - LEASE - timedelta(seconds=1))
    async with state.writer_session_factory.begin() as session:
        await session.execute(
            update(RosterImport).where(RosterImport.id == job.id).values(attempts=MAX_ATTEMPTS)
        )
    assert await asyncio.gather(*(claim_next(state) for _ in range(3))) == [None] * 3
    failed = await stored(session_factory, job.id)
    assert (failed.status, failed.attempts, failed.payload) == (RosterImportStatus.FAILED, MAX_ATTEMPTS, None)
    assert failed.finished_at is not None
    assert await problems_of(session_factory, job.id) == [("", None, "FAILED")]
    async with session_factory() as session:
        audits = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "roster.imported", AuditEntry.subject_id == job.id
                )
            )
        ).all()
    assert [(entry.detail or {}).get("status") for entry in audits] == ["FAILED"], "ended once"
    assert await imported_students(session_factory) == 0
