"""Faults with real services: Redis stopped and started again under a running server, and a
refresh worker that dies in the middle of a job."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from redis import asyncio as aioredis

from config import Settings
from context import build_state, close_state
from resolvers.ids import encode_id
from resolvers.student_dashboard_document import StudentDashboardDocument
from stores.refresh_queue import RedisRefreshQueue
from tests.clients import TransportWSClient
from tests.conftest import ThrowawayRedis, http_client_for
from tests.contract.documents import contract_operation
from tests.factories import PASSWORD, Factory
from worker import refresh_forever

pytestmark = pytest.mark.slow

LOGIN = contract_operation("Login")
SEARCH = contract_operation("StudentSearch")
EVENTS = "subscription($c: ID!) { gradebookEvents(classId: $c) { __typename } }"
FINALS = contract_operation("CalculateFinalGrades")


async def post(
    client: httpx.AsyncClient, token: str | None, query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body: dict[str, Any] = (
        await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    ).json()
    return body


async def test_the_api_keeps_working_while_redis_is_down_and_events_resume_after(
    start_server: Any, factory: Factory, throwaway_redis: ThrowawayRedis
) -> None:
    north = await factory.school("north")
    server = start_server(REDIS_URL=throwaway_redis.url)
    teacher = factory.token(north.teacher)
    class_id = encode_id("Class", north.klass.id)
    watcher = await TransportWSClient.connect(server.ws_url, {"accessToken": teacher})
    await watcher.subscribe(EVENTS, {"c": class_id})
    assert (await watcher.receive())["payload"]["data"]["gradebookEvents"]["__typename"] == "EditorsChanged"

    throwaway_redis.stop()
    async with httpx.AsyncClient(base_url=server.base_url) as client:
        login = await post(
            client, None, LOGIN, {"input": {"email": "staff@north.test", "password": PASSWORD}}
        )
        assert login["data"]["login"]["accessToken"], "sign-in works without Redis (limits not enforced)"
        search = await post(client, login["data"]["login"]["accessToken"], SEARCH, {"first": 5})
        assert search["data"]["students"]["totalCount"] == 2
        finals = await post(client, teacher, FINALS, {"input": {"classId": class_id}})
        assert "errors" not in finals, "writes commit; their events are best effort"
        assert (await client.get("/readyz")).status_code == 503

        throwaway_redis.start()
        deadline = asyncio.get_running_loop().time() + 10
        while (await client.get("/readyz")).status_code != 200:
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.5)  # the listener's retry reconnects and subscribes again
        assert "errors" not in await post(client, teacher, FINALS, {"input": {"classId": class_id}})
    while True:
        event = await watcher.receive(wait=10)
        if event["payload"]["data"]["gradebookEvents"]["__typename"] == "FinalGradesCalculated":
            break
    await watcher.close()


async def test_a_job_left_by_a_dead_worker_runs_again(
    settings: Settings, factory: Factory, throwaway_redis: ThrowawayRedis
) -> None:
    north = await factory.school("north")
    state = build_state(settings.model_copy(update={"redis_url": throwaway_redis.url}))
    await state.bus.connect()
    queue = RedisRefreshQueue(aioredis.Redis.from_url(throwaway_redis.url), lease_seconds=0.2)
    try:
        await queue.enqueue([north.student.id])
        assert await queue.take(wait_seconds=1) == north.student.id  # a worker takes it, then dies
        assert await state.refresh_queue.recover() == 0, "its lease still runs: the worker may be alive"
        await asyncio.sleep(0.3)  # the lease expires
        assert await state.dashboards.get(north.student.id) is None
        worker = asyncio.create_task(refresh_forever(state))
        for _ in range(50):
            if await state.dashboards.get(north.student.id) is not None:
                break
            await asyncio.sleep(0.1)
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)
        refreshed = await state.dashboards.get(north.student.id)
        assert refreshed is not None
        assert StudentDashboardDocument.model_validate_json(refreshed).name == north.student.name
        assert await queue.depth() == 0
    finally:
        await queue.redis.aclose()
        await close_state(state)


async def test_the_refresh_loop_survives_a_redis_error_and_readyz_reports_it_while_it_lasts(
    settings: Settings, throwaway_redis: ThrowawayRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """OOM is a Redis *response* error, not a connection error: it used to end the loop for good."""
    redis = aioredis.Redis.from_url(throwaway_redis.url)
    wired = settings.model_copy(update={"redis_url": throwaway_redis.url})
    try:
        async with http_client_for(wired) as http:
            assert (await http.get("/readyz")).json()["checks"]["backgroundLoops"] == "ok"
            await redis.config_set("maxmemory-policy", "noeviction")
            await redis.config_set("maxmemory", "1")  # every write is refused with OOM
            checks = await _readyz_until(http, lambda c: c["backgroundLoops"] != "ok")
            assert checks["backgroundLoops"].startswith("failing: dashboard-refresh")
            assert "OutOfMemoryError" in checks["backgroundLoops"] or "OOM" in checks["backgroundLoops"]
            logged = [r for r in caplog.records if "background loop dashboard-refresh failed" in r.message]
            assert logged
            assert logged[0].exc_info is not None, "logged with its traceback"
            await redis.config_set("maxmemory", "0")
            checks = await _readyz_until(http, lambda c: c["backgroundLoops"] == "ok")
            assert checks["backgroundLoops"] == "ok", "the loop runs again by itself"
    finally:
        await redis.aclose()


async def _readyz_until(http: httpx.AsyncClient, condition: Any, seconds: float = 20) -> dict[str, str]:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        checks: dict[str, str] = (await http.get("/readyz")).json()["checks"]
        if condition(checks) or asyncio.get_running_loop().time() > deadline:
            return checks
        await asyncio.sleep(0.2)


async def test_a_live_workers_jobs_stay_with_it_and_a_dead_ones_come_back(
    throwaway_redis: ThrowawayRedis,
) -> None:
    redis = aioredis.Redis.from_url(throwaway_redis.url)
    live, dead, other = (RedisRefreshQueue(redis, lease_seconds=s) for s in (60, 0.2, 60))
    try:
        await live.enqueue([1, 2, 3, 4])
        assert await live.take(wait_seconds=1) == 1
        assert await live.take_more(1) == [2]
        assert await dead.take_more(2) == [3, 4]
        await asyncio.sleep(0.3)
        assert await other.recover() == 2, "the dead worker's two jobs, not the live one's"
        assert sorted([await other.take(wait_seconds=1), *await other.take_more(5)]) == [3, 4]
        await live.done([1, 2])
        await other.done([3, 4])
        assert await redis.llen(RedisRefreshQueue.PROCESSING) == 0
        assert await redis.zcard(RedisRefreshQueue.LEASES) == 0
    finally:
        await redis.aclose()
