"""Large imports run in the worker (claimed once), their progress pushed by rosterImportProgress
from any server process, and the `server.py import-roster` command."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config import Settings
from context import build_state, close_state
from models import Enrollment, RosterImport, RosterImportProblem, User
from models.enums import RosterImportStatus
from resolvers.oneroster.claims import claim_next
from resolvers.oneroster.importer import Interrupted, run_import
from resolvers.oneroster.imports import INLINE_MAX_ROWS, create_import, package_of
from resolvers.oneroster.imports import Upload as SetFile
from tests.clients import GraphQLClient, TransportWSClient
from tests.conftest import ROOT
from tests.contract.documents import contract_operation
from tests.factories import Factory
from tests.resolvers.oneroster.builder import RosterSet, counts_of, school_set, upload
from tests.resolvers.oneroster.test_import import imported

ROSTER_IMPORT = contract_operation("RosterImport")
PROGRESS = contract_operation("RosterImportProgress")
FINAL = ("COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED")


def large_set() -> RosterSet:
    return school_set(students=700, teachers=4, classes=4, guardians=10, per_class=2)  # about 3,000 lines


async def test_a_large_set_is_queued_and_the_worker_runs_it(
    gql: GraphQLClient, http: httpx.AsyncClient, factory: Factory
) -> None:
    north = await factory.school("north")
    token = factory.token(north.staff)
    queued = imported(await upload(http, token, large_set().files()))
    assert queued["status"] == "QUEUED"
    assert queued["progress"]["processed"] == 0
    assert queued["progress"]["total"] > INLINE_MAX_ROWS
    assert queued["counts"] == []
    deadline = time.monotonic() + 120
    while True:  # the app's background loop (as in every serving process) runs it
        state = (await gql.as_user(token).data(ROSTER_IMPORT, {"id": queued["id"]}))["rosterImport"]
        if state["status"] in FINAL or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert state["status"] == "COMPLETED", state
    assert state["progress"]["processed"] == state["progress"]["total"] == queued["progress"]["total"]
    assert counts_of(state)["enrollments"]["created"] == 1400


async def test_a_queued_import_is_claimed_exactly_once(factory: Factory, settings: Settings) -> None:
    north = await factory.school("north")
    payload = package_of([SetFile(name, data) for name, data in school_set(students=2, classes=1).files()])
    state = build_state(settings)
    await state.bus.connect()
    try:
        job = await create_import(
            state, payload, school_id=north.school.id, started_by_id=None, dry_run=False, inline_max=0
        )
        assert job.status == RosterImportStatus.QUEUED
        claims = await asyncio.gather(*(claim_next(state) for _ in range(6)))
        assert sorted(claims, key=lambda claim: claim is None) == [job.id] + [None] * 5
        assert await claim_next(state) is None
    finally:
        await close_state(state)


async def test_a_stopping_worker_puts_its_import_back_in_the_queue(
    factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession]
) -> None:
    north = await factory.school("north")
    payload = package_of([SetFile(name, data) for name, data in school_set(students=2, classes=1).files()])
    state = build_state(settings)
    await state.bus.connect()
    try:
        job = await create_import(
            state, payload, school_id=north.school.id, started_by_id=None, dry_run=False, inline_max=None
        )
        stop = asyncio.Event()
        stop.set()
        try:
            await run_import(state, job.id, stop=stop)
        except Interrupted:
            pass
        else:
            raise AssertionError("a set stop event interrupts the import")
        async with session_factory() as session:
            back = await session.get(RosterImport, job.id)
            assert back is not None
            assert (back.status, back.processed, back.payload) == (RosterImportStatus.QUEUED, 0, payload)
            assert back.attempts == 0, "a run handed back is not a failed attempt"
            assert await session.scalar(select(func.count()).select_from(RosterImportProblem)) == 0
        assert await claim_next(state) == job.id
        assert await run_import(state, job.id) == RosterImportStatus.COMPLETED
        async with session_factory() as session:
            done = await session.get(RosterImport, job.id)
            assert done is not None
            assert done.payload is None, "the uploaded files are dropped once imported"
    finally:
        await close_state(state)


async def read_until_complete(client: TransportWSClient, operation_id: str) -> list[dict[str, Any]]:
    states: list[dict[str, Any]] = []
    while True:
        message = await client.receive(wait=60)
        assert message["id"] == operation_id
        if message["type"] == "complete":
            return states
        assert message["type"] == "next", message
        assert "errors" not in message["payload"], message
        states.append(message["payload"]["data"]["rosterImportProgress"])


async def test_progress_is_pushed_from_any_process_until_the_end(
    start_server: Any, factory: Factory, settings: Settings
) -> None:
    north, south = await factory.school("north"), await factory.school("south")
    server_a = start_server()
    server_b = start_server() if settings.redis_url else server_a
    async with httpx.AsyncClient(base_url=server_a.base_url) as http:
        queued = imported(await upload(http, factory.token(north.staff), large_set().files()))
    watcher = await TransportWSClient.connect(server_b.ws_url, {"accessToken": factory.token(north.admin)})
    operation = await watcher.subscribe(PROGRESS, {"importId": queued["id"]})
    states = await read_until_complete(watcher, operation)
    assert states[-1]["status"] == "COMPLETED"
    assert states[-1]["progress"]["processed"] == states[-1]["progress"]["total"]
    assert counts_of(states[-1])["students"]["created"] == 700
    processed = [state["progress"]["processed"] for state in states]
    assert processed == sorted(processed)
    assert len(states) >= 3, "the state at once, progress as it goes, the end"
    await watcher.close()

    outsider = await TransportWSClient.connect(server_b.ws_url, {"accessToken": factory.token(south.staff)})
    await outsider.subscribe(PROGRESS, {"importId": queued["id"]})
    message = await outsider.receive()
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    await outsider.close()


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env |= {"DATABASE_URL": settings.database_url, "ENVIRONMENT": "test", "LOG_LEVEL": "WARNING"}
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    return subprocess.run(
        [sys.executable, "server.py", "import-roster", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


async def test_the_command_line_imports_a_folder_with_a_progress_bar(
    factory: Factory, settings: Settings, session_factory: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    north = await factory.school("north")
    await factory.school("south")
    for name, data in school_set(students=5, classes=2).files():
        (tmp_path / name).write_bytes(data)

    async def students() -> int:
        async with session_factory() as session:
            query = (
                select(func.count())
                .select_from(User)
                .where(User.school_id == north.school.id, User.sourced_id.is_not(None))
            )
            return await session.scalar(query) or 0

    dry = await asyncio.to_thread(run_cli, settings, str(tmp_path), "--school", "north", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "COMPLETED (dry run: nothing written)" in dry.stdout
    assert await students() == 0
    real = await asyncio.to_thread(run_cli, settings, str(tmp_path), "--school", "north")
    assert real.returncode == 0, real.stderr
    assert real.stdout.startswith("COMPLETED: ")
    assert "students        created 5" in real.stdout
    assert "line" in real.stderr, "tqdm's bar"
    assert await students() == 5 + 2 + 2
    async with session_factory() as session:
        seats = await session.scalar(
            select(func.count())
            .select_from(Enrollment)
            .join(User, User.id == Enrollment.student_id)
            .where(User.school_id == north.school.id)
        )
        assert seats == 1 + 10
    ambiguous = await asyncio.to_thread(run_cli, settings, str(tmp_path))
    assert ambiguous.returncode != 0
    assert "several schools" in ambiguous.stderr
