"""Rate limits (the `limits` library): in the process, or in Redis so all processes share them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis import asyncio as aioredis


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
            # Our own pool, so that `close` can release its connections.
            self._pool = aioredis.ConnectionPool.from_url(redis_url)
            options: dict[str, Any] = {"connection_pool": self._pool}
            storage = RedisStorage(
                f"async+{redis_url}", implementation="redispy", key_prefix="campusgraph-limits", **options
            )
        self._limiter = MovingWindowRateLimiter(storage)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.disconnect()

    async def allowed(self, rule: str, *keys: str) -> bool:
        """Whether one more hit would fit, without counting it."""
        return await self._limiter.test(parse(rule), *keys)

    async def hit(self, rule: str, *keys: str, cost: int = 1) -> bool:
        """Counts `cost` hits; False (and nothing counted) when that would exceed the limit."""
        return await self._limiter.hit(parse(rule), *keys, cost=cost)

    async def budget(self, rule: str, *keys: str) -> Budget:
        item = parse(rule)
        stats = await self._limiter.get_window_stats(item, *keys)
        return Budget(remaining=stats.remaining, limit=item.amount, reset_at=stats.reset_time)

    async def clear(self, rule: str, *keys: str) -> None:
        await self._limiter.clear(parse(rule), *keys)
