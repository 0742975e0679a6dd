"""The queue of student dashboards to refresh in the background (worker.py takes from it).

The queue is at-least-once: a job taken by a worker stays in a processing list, under a lease,
until it is done; a worker whose lease expired (dead or stalled) gets its jobs put back.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol

from redis import asyncio as aioredis


class RefreshQueue(Protocol):
    async def enqueue(self, student_ids: list[int]) -> None: ...

    async def take(self, wait_seconds: int) -> int | None: ...

    async def take_more(self, limit: int) -> list[int]:
        """Up to `limit` more queued jobs, without waiting."""

    async def done(self, student_ids: list[int]) -> None: ...

    async def depth(self) -> int: ...

    async def recover(self) -> int:
        """Puts back the jobs whose worker died (their lease expired); how many."""


class MemoryRefreshQueue:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._queued: set[int] = set()

    async def enqueue(self, student_ids: list[int]) -> None:
        for student_id in student_ids:
            if student_id not in self._queued:
                self._queued.add(student_id)
                self._queue.put_nowait(student_id)

    async def take(self, wait_seconds: int) -> int | None:
        try:
            return await asyncio.wait_for(self._queue.get(), wait_seconds)
        except TimeoutError:
            return None

    async def take_more(self, limit: int) -> list[int]:
        taken: list[int] = []
        while len(taken) < limit and not self._queue.empty():
            taken.append(self._queue.get_nowait())
        return taken

    async def done(self, student_ids: list[int]) -> None:
        self._queued.difference_update(student_ids)

    async def depth(self) -> int:
        return self._queue.qsize()

    async def recover(self) -> int:
        """Nothing outlives the process here."""
        return 0


class RedisRefreshQueue:
    """A Redis list of student ids to refresh; a taken id moves to the PROCESSING list with a
    lease (LEASES: id → expiry). Any worker's `recover` puts back the ids whose lease expired
    (their worker died or stalled) and leaves a live worker's alone. A refresh is idempotent,
    so the rare job done twice (a worker slower than its lease) costs only time."""

    QUEUE, PROCESSING, QUEUED = "dashboards:refresh", "dashboards:refreshing", "dashboards:queued"
    LEASES = "dashboards:leases"

    # Moves up to ARGV[1] ids from the queue to PROCESSING, each with a lease until ARGV[2].
    _TAKE = """
    local moved = {}
    for _ = 1, tonumber(ARGV[1]) do
      local id = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
      if not id then break end
      redis.call('ZADD', KEYS[3], ARGV[2], id)
      moved[#moved + 1] = id
    end
    return moved
    """
    # Puts back the ids of PROCESSING whose lease ended before ARGV[1]; an id without a lease yet
    # (taken a moment ago by a blocking take) gets one until ARGV[2].
    _RECOVER = """
    local back = 0
    for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
      local expiry = redis.call('ZSCORE', KEYS[3], id)
      if not expiry then
        redis.call('ZADD', KEYS[3], ARGV[2], id)
      elseif tonumber(expiry) < tonumber(ARGV[1]) then
        redis.call('LREM', KEYS[1], 1, id)
        redis.call('ZREM', KEYS[3], id)
        redis.call('RPUSH', KEYS[2], id)
        back = back + 1
      end
    end
    return back
    """

    def __init__(self, redis: aioredis.Redis, lease_seconds: float = 60.0) -> None:
        self.redis = redis
        self.lease_seconds = lease_seconds
        self._take = redis.register_script(self._TAKE)
        self._recover = redis.register_script(self._RECOVER)

    async def enqueue(self, student_ids: list[int]) -> None:
        for student_id in student_ids:
            if await self.redis.sadd(self.QUEUED, str(student_id)):
                await self.redis.lpush(self.QUEUE, str(student_id))

    async def take(self, wait_seconds: int) -> int | None:
        taken = await self.redis.blmove(self.QUEUE, self.PROCESSING, wait_seconds, "RIGHT", "LEFT")
        if taken is None:
            return None
        student_id = int(taken)
        await self.redis.zadd(self.LEASES, {str(student_id): time.time() + self.lease_seconds})
        return student_id

    async def take_more(self, limit: int) -> list[int]:
        """One round trip (a script): the ids and their leases."""
        keys = [self.QUEUE, self.PROCESSING, self.LEASES]
        moved = await self._take(keys=keys, args=[limit, time.time() + self.lease_seconds])
        return [int(student_id) for student_id in moved]

    async def done(self, student_ids: list[int]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for student_id in student_ids:
                pipe.lrem(self.PROCESSING, 1, str(student_id))
            pipe.zrem(self.LEASES, *map(str, student_ids))
            pipe.srem(self.QUEUED, *map(str, student_ids))
            await pipe.execute()

    async def depth(self) -> int:
        return int(await self.redis.llen(self.QUEUE))

    async def recover(self) -> int:
        """Puts back the jobs whose lease expired; how many."""
        now = time.time()
        keys = [self.PROCESSING, self.QUEUE, self.LEASES]
        return int(await self._recover(keys=keys, args=[now, now + self.lease_seconds]))
