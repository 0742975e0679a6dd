"""Rate limits (the `limits` library): in the process, or in Redis so all processes share them.

When Redis cannot be reached the limits are not enforced (and a warning is logged) rather than
refusing every request: an outage of the limiter must not become an outage of the API.
Guesses at secrets are limited by stores/attempts.py instead: they must be counted before they
are checked, and a right one given back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from redis import asyncio as aioredis

log = logging.getLogger(__name__)
STORAGE_ERRORS = (aioredis.ConnectionError, aioredis.TimeoutError, OSError, StorageError)


def _unenforced(error: Exception) -> bool:
    log.warning("rate limits not enforced, their storage is unreachable: %s", type(error).__name__)
    return True


@dataclass(frozen=True)
class Budget:
    remaining: int
    limit: int
    reset_at: float


class RateLimiter:
    def __init__(self, redis_url: str | None) -> None:
        self._pool: aioredis.ConnectionPool | None = None
        storage: Storage = MemoryStorage()
        if redis_url:
            # Our own pool, so that `close` can release its connections; a burst waits for a free
            # connection instead of failing (redis-py's plain pool raises at its maximum).
            self._pool = aioredis.BlockingConnectionPool.from_url(redis_url, timeout=5)
            options: dict[str, Any] = {"connection_pool": self._pool}
            storage = RedisStorage(
                f"async+{redis_url}", implementation="redispy", key_prefix="campusgraph-limits", **options
            )
        # Two counters per key and window, whatever the limit: a moving window would keep one entry
        # per unit counted (100,000 per user per hour for the query-cost budget).
        self._limiter = SlidingWindowCounterRateLimiter(storage)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()

    async def hit(self, rule: str, *keys: str, cost: int = 1) -> bool:
        """Counts `cost` hits; False (and nothing counted) when that would exceed the limit."""
        try:
            return await self._limiter.hit(parse(rule), *keys, cost=cost)
        except STORAGE_ERRORS as error:
            return _unenforced(error)

    async def budget(self, rule: str, *keys: str) -> Budget:
        item = parse(rule)
        try:
            stats = await self._limiter.get_window_stats(item, *keys)
        except STORAGE_ERRORS as error:
            _unenforced(error)
            return Budget(remaining=item.amount, limit=item.amount, reset_at=0.0)
        return Budget(remaining=stats.remaining, limit=item.amount, reset_at=stats.reset_time)

    async def clear(self, rule: str, *keys: str) -> None:
        try:
            await self._limiter.clear(parse(rule), *keys)
        except STORAGE_ERRORS as error:
            _unenforced(error)
