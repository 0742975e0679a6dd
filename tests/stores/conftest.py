"""What the store tests share: a clock they move by hand, and two Redis clients as two processes
would have."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis_clients(redis_url: str | None) -> AsyncIterator[tuple[aioredis.Redis, aioredis.Redis]]:
    """Two clients of the test's Redis, as two processes would have."""
    if redis_url is None:
        pytest.skip("REDIS_URL is not set")
    first, second = aioredis.Redis.from_url(redis_url), aioredis.Redis.from_url(redis_url)
    yield first, second
    await first.aclose()
    await second.aclose()
