"""The assembled teacher dashboards, cached per teacher: in Redis (shared by every process) when
configured, else in the process. `resolvers.after_commit.teacher_dashboards_changed` invalidates
them.

Each teacher has a generation number that every change to their dashboard increments. A
dashboard is stored with the generation it was assembled at and served only while that is
still the current one, so a dashboard assembled from data read before a change, and stored
after it, is never served. Entries also expire after TTL_SECONDS, which bounds how long the
parts that age by themselves (an upcoming session that has started, a new month) lag.

A dashboard is a pydantic model that the caller defines (stores/ knows nothing of resolvers/):
`get` names the model to read back. An entry that is not one (say, written by a process that
runs an earlier shape of the model, during a deploy) counts as not cached.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from redis import asyncio as aioredis

TTL_SECONDS = 60
MAX_MEMORY_ENTRIES = 5000
GENERATION_TTL_SECONDS = 86400

Dashboard = TypeVar("Dashboard", bound=BaseModel)


class TeacherDashboardCache(Protocol):
    async def get(self, teacher_id: int, kind: type[Dashboard]) -> tuple[Dashboard | None, int]:
        """The cached dashboard if it is current (else None), and the current generation."""

    async def put(self, teacher_id: int, generation: int, dashboard: BaseModel) -> None:
        """Stores a dashboard assembled at `generation` (as `get` returned it before assembling)."""

    async def invalidate(self, teacher_ids: Iterable[int]) -> None: ...


class MemoryTeacherDashboardCache:
    """Keeps the dashboard objects themselves (frozen models): a hit costs no parsing."""

    def __init__(self) -> None:
        self._entries: dict[int, tuple[float, int, BaseModel]] = {}
        self._generations: dict[int, int] = {}

    async def get(self, teacher_id: int, kind: type[Dashboard]) -> tuple[Dashboard | None, int]:
        generation = self._generations.get(teacher_id, 0)
        entry = self._entries.get(teacher_id)
        if entry is None or entry[0] < time.monotonic() or entry[1] != generation:
            return None, generation
        return (entry[2] if isinstance(entry[2], kind) else None), generation

    async def put(self, teacher_id: int, generation: int, dashboard: BaseModel) -> None:
        now = time.monotonic()
        if len(self._entries) >= MAX_MEMORY_ENTRIES:
            self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
            for oldest in sorted(self._entries, key=lambda k: self._entries[k][0])[
                : MAX_MEMORY_ENTRIES // 10
            ]:
                del self._entries[oldest]
        self._entries[teacher_id] = (now + TTL_SECONDS, generation, dashboard)

    async def invalidate(self, teacher_ids: Iterable[int]) -> None:
        for teacher_id in teacher_ids:
            self._generations[teacher_id] = self._generations.get(teacher_id, 0) + 1
            self._entries.pop(teacher_id, None)


class RedisTeacherDashboardCache:
    """`teacher-dashboard:<id>` holds {"generation", "dashboard"} (expiring after TTL_SECONDS),
    the dashboard as its model's JSON; `teacher-dashboard:<id>:generation` counts the changes."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def get(self, teacher_id: int, kind: type[Dashboard]) -> tuple[Dashboard | None, int]:
        raw, raw_generation = await self.redis.mget(_key(teacher_id), _generation_key(teacher_id))
        generation = int(raw_generation or 0)
        if raw is None:
            return None, generation
        entry = orjson.loads(raw)
        if entry["generation"] != generation:
            return None, generation
        try:
            return kind.model_validate(entry["dashboard"]), generation
        except ValidationError:
            return None, generation

    async def put(self, teacher_id: int, generation: int, dashboard: BaseModel) -> None:
        entry = orjson.dumps({"generation": generation, "dashboard": dashboard.model_dump(mode="json")})
        await self.redis.set(_key(teacher_id), entry, ex=TTL_SECONDS)

    async def invalidate(self, teacher_ids: Iterable[int]) -> None:
        ids = list(teacher_ids)
        if not ids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for teacher_id in ids:
                pipe.incr(_generation_key(teacher_id))
                pipe.expire(_generation_key(teacher_id), GENERATION_TTL_SECONDS)
            pipe.delete(*(_key(teacher_id) for teacher_id in ids))
            await pipe.execute()


def _key(teacher_id: int) -> str:
    return f"teacher-dashboard:{teacher_id}"


def _generation_key(teacher_id: int) -> str:
    return f"teacher-dashboard:{teacher_id}:generation"
