"""PostgreSQL stopped and started again under a running server: requests fail fast with a clear
SERVICE_UNAVAILABLE (not a masked internal error, not a hang), /readyz says so, and the same
server process serves again once the database is back (the pool replaces dead connections).

The PostgreSQL server is the test's own (tests.conftest.ThrowawayPostgres), never a shared one.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from config import Settings
from models.db import create_engine, create_session_factory
from tests.conftest import ROOT, ThrowawayPostgres
from tests.contract.documents import contract_operation
from tests.factories import PASSWORD, Factory, SchoolData

pytestmark = pytest.mark.slow

LOGIN = contract_operation("Login")
SEARCH = contract_operation("StudentSearch")
CLIENT_TIMEOUT = 30.0  # what a client would wait; a failure must come well before it
FAIL_FAST_SECONDS = 10.0  # generous: measured ~0.05 s on loopback
RECOVERY_SECONDS = 10.0  # measured: the first request after PostgreSQL is back succeeds


@dataclass
class Setup:
    server: Any
    school: SchoolData
    staff_token: str
    log: Path


async def prepare(postgres: ThrowawayPostgres, start_server: Any, tmp_path: Path) -> Setup:
    """Migrates the throwaway database (`server.py migrate`), adds a school, starts a server on it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    migrate = [sys.executable, "server.py", "migrate"]
    env |= {"DATABASE_URL": postgres.url, "ENVIRONMENT": "test"}
    await asyncio.to_thread(subprocess.run, migrate, cwd=ROOT, env=env, check=True, capture_output=True)
    settings = Settings(database_url=postgres.url, environment="test", _env_file=None)  # type: ignore[call-arg]
    engine = create_engine(settings)
    try:
        factory = Factory(create_session_factory(engine), settings)
        north = await factory.school("north")
    finally:
        await engine.dispose()
    server = start_server(DATABASE_URL=postgres.url)
    return Setup(server, north, factory.token(north.staff), tmp_path / "server-0.log")


async def timed_post(
    base_url: str, query: str, variables: dict[str, Any], token: str | None = None
) -> tuple[float, httpx.Response]:
    """One request on a connection of its own (a failed request may close its connection)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base_url, timeout=CLIENT_TIMEOUT) as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    return time.monotonic() - started, response


def login_variables() -> dict[str, Any]:
    return {"input": {"email": "staff@north.test", "password": PASSWORD}}


@pytest.mark.parametrize("mode", ["fast", "immediate"])  # a clean shutdown, and a crash
async def test_requests_fail_fast_while_postgres_is_down_and_succeed_once_it_is_back(
    start_server: Any, throwaway_postgres: ThrowawayPostgres, tmp_path: Path, mode: str
) -> None:
    setup = await prepare(throwaway_postgres, start_server, tmp_path)
    base_url = setup.server.base_url
    _, login = await timed_post(base_url, LOGIN, login_variables())
    assert login.json()["data"]["login"]["accessToken"]
    _, search = await timed_post(base_url, SEARCH, {"first": 5}, setup.staff_token)
    assert search.json()["data"]["students"]["totalCount"] == 2  # the pool now holds connections

    throwaway_postgres.stop(mode)
    request_ids, failed_in = [], []
    for _ in range(3):
        elapsed, response = await timed_post(base_url, LOGIN, login_variables())
        failed_in.append(elapsed)
        assert elapsed < FAIL_FAST_SECONDS, f"took {elapsed:.2f}s"
        body = response.json()
        assert body["data"] is None
        [error] = body["errors"]
        assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE", body
        assert "database is unavailable" in error["message"]
        request_ids.append(error["extensions"]["requestId"])
    # A signed-in request reads its user before execution (server.py get_context): it must not
    # hang either (its clear error is test_signed_in_requests_get_the_same_clear_error).
    elapsed, response = await timed_post(base_url, SEARCH, {"first": 5}, setup.staff_token)
    failed_in.append(elapsed)
    assert elapsed < FAIL_FAST_SECONDS, f"took {elapsed:.2f}s"
    assert response.status_code != 200 or "errors" in response.json()
    async with httpx.AsyncClient(base_url=base_url, timeout=CLIENT_TIMEOUT) as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("unavailable")
        assert (await client.get("/healthz")).status_code == 200, "alive: no reason to restart the process"

    throwaway_postgres.start()
    started = time.monotonic()
    attempts = 0
    while True:
        attempts += 1
        _, login = await timed_post(base_url, LOGIN, login_variables())
        if "errors" not in login.json():
            break
        assert time.monotonic() - started < RECOVERY_SECONDS, login.json()
        await asyncio.sleep(0.2)
    recovered = time.monotonic() - started
    _, search = await timed_post(base_url, SEARCH, {"first": 5}, setup.staff_token)
    assert search.json()["data"]["students"]["totalCount"] == 2
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.get("/readyz")).status_code == 200
    assert setup.server.process.poll() is None, "the same server process, not a restarted one"
    print(f"\npostgres {mode} stop: requests failed in {max(failed_in):.3f}s at most; "
          f"recovered {recovered:.2f}s after pg_ctl start returned ({attempts} attempt(s))")  # fmt: skip

    log = setup.log.read_text()
    for request_id in request_ids:
        lines = [line for line in log.splitlines() if request_id in line]
        assert len(lines) == 1, lines  # logged once, with its request id
        assert "the database is unavailable" in lines[0]


async def test_signed_in_requests_get_the_same_clear_error(
    start_server: Any, throwaway_postgres: ThrowawayPostgres, tmp_path: Path
) -> None:
    setup = await prepare(throwaway_postgres, start_server, tmp_path)
    throwaway_postgres.stop()
    elapsed, response = await timed_post(setup.server.base_url, SEARCH, {"first": 5}, setup.staff_token)
    assert elapsed < FAIL_FAST_SECONDS
    assert response.headers["content-type"].startswith("application/json"), response.text
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert "database is unavailable" in error["message"]
