"""The assembled student dashboards: a cache (Redis for all processes, or in the process) with
hit and miss counts.

A cached dashboard is fresh for FRESH_SECONDS, then served as stale (and queued for a
refresh) until MAX_AGE_SECONDS, after which it is assembled again while the caller waits.

The cache keeps each dashboard as the JSON bytes its owner serialized
(resolvers/student_dashboard_document.py) with the epoch seconds it was generated at, and
never reads them: this room sits below resolvers/ and does not know the document.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol, cast

from redis import asyncio as aioredis

FRESH_SECONDS = 60.0
MAX_AGE_SECONDS = 600.0


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    cached: int
    stale: int
    oldest_stale_seconds: float | None


class DashboardCache(Protocol):
    async def get(self, student_id: int) -> bytes | None:
        """The cached dashboard's JSON, counting a hit or a miss."""

    async def put(self, student_id: int, dashboard: bytes, generated_at: float) -> None:
        """Stores a dashboard's JSON, generated at `generated_at` (epoch seconds)."""

    async def delete(self, student_ids: list[int]) -> None: ...

    async def stale_ids(self, limit: int) -> list[int]: ...

    async def stats(self) -> CacheStats: ...


def _stats(hits: int, misses: int, ages: list[float]) -> CacheStats:
    stale = [age for age in ages if age > FRESH_SECONDS]
    return CacheStats(hits, misses, len(ages), len(stale), round(max(stale), 1) if stale else None)


class MemoryDashboardCache:
    def __init__(self) -> None:
        self._entries: dict[int, tuple[bytes, float]] = {}  # student -> (JSON, generated at)
        self.hits = self.misses = 0

    def _live(self) -> dict[int, tuple[bytes, float]]:
        now = time.time()
        for student_id in [s for s, (_, at) in self._entries.items() if now - at > MAX_AGE_SECONDS]:
            del self._entries[student_id]
        return self._entries

    async def get(self, student_id: int) -> bytes | None:
        found = self._live().get(student_id)
        if found is None:
            self.misses += 1
            return None
        self.hits += 1
        return found[0]

    async def put(self, student_id: int, dashboard: bytes, generated_at: float) -> None:
        self._entries[student_id] = (dashboard, generated_at)

    async def delete(self, student_ids: list[int]) -> None:
        for student_id in student_ids:
            self._entries.pop(student_id, None)

    async def stale_ids(self, limit: int) -> list[int]:
        now = time.time()
        entries = self._live().items()
        old = sorted((at, s) for s, (_, at) in entries if now - at > FRESH_SECONDS)
        return [student_id for _, student_id in old[:limit]]

    async def stats(self) -> CacheStats:
        now = time.time()
        return _stats(self.hits, self.misses, [now - at for _, at in self._live().values()])


class RedisDashboardCache:
    """`dashboard:<id>` holds the JSON (expiring at MAX_AGE_SECONDS); the sorted set
    `dashboards` indexes them by generation time; `dashboards:hits`/`:misses` count."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def get(self, student_id: int) -> bytes | None:
        raw = cast(bytes | None, await self.redis.get(f"dashboard:{student_id}"))
        await self.redis.incr("dashboards:misses" if raw is None else "dashboards:hits")
        return raw

    async def put(self, student_id: int, dashboard: bytes, generated_at: float) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(f"dashboard:{student_id}", dashboard, ex=int(MAX_AGE_SECONDS))
            pipe.zadd("dashboards", {str(student_id): generated_at})
            await pipe.execute()

    async def delete(self, student_ids: list[int]) -> None:
        if student_ids:
            await self.redis.delete(*(f"dashboard:{s}" for s in student_ids))
            await self.redis.zrem("dashboards", *(str(s) for s in student_ids))

    async def stale_ids(self, limit: int) -> list[int]:
        await self.redis.zremrangebyscore("dashboards", "-inf", time.time() - MAX_AGE_SECONDS)
        newest = time.time() - FRESH_SECONDS
        found = await self.redis.zrangebyscore("dashboards", "-inf", newest, start=0, num=limit)
        return [int(cast(bytes, member)) for member in found]

    async def stats(self) -> CacheStats:
        await self.redis.zremrangebyscore("dashboards", "-inf", time.time() - MAX_AGE_SECONDS)
        now = time.time()
        scored = await self.redis.zrange("dashboards", 0, -1, withscores=True)
        ages = [now - score for _, score in cast(list[tuple[bytes, float]], scored)]
        hits, misses = await self.redis.mget("dashboards:hits", "dashboards:misses")
        return _stats(int(hits or 0), int(misses or 0), ages)
