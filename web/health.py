"""`/healthz` (the process answers) and `/readyz` (its dependencies and background loops are
well): load balancers and orchestrators poll them."""

from __future__ import annotations

import asyncio

from redis import asyncio as aioredis
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from context import AppState
from worker import BackgroundWork


def health_routes(state: AppState, background: BackgroundWork) -> list[Route]:
    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_request: Request) -> Response:
        checks = await readiness(state) | {"backgroundLoops": background.readiness()}
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks}, 200 if ready else 503
        )

    return [Route("/healthz", healthz), Route("/readyz", readyz)]


async def readiness(state: AppState) -> dict[str, str]:
    """Each dependency: "ok", or why not. Each check has a short deadline."""
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(2), state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as error:
        checks["database"] = f"unavailable: {type(error).__name__}"
    if state.settings.redis_url:
        checks["redis"] = await _ping_redis(state.settings.redis_url)
    return checks


async def _ping_redis(url: str) -> str:
    client = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        async with asyncio.timeout(2):
            await client.ping()
        return "ok"
    except Exception as error:
        return f"unavailable: {type(error).__name__}"
    finally:
        await client.aclose()
