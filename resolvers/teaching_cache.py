"""The assembled teacher dashboards, cached per teacher: in Redis (shared by every process) when
configured, else in the process; and `teacher_dashboards_changed`, which the writes that feed
them call after commit.

Each teacher has a generation number that every change to their dashboard increments. A
dashboard is stored with the generation it was assembled at and served only while that is
still the current one, so a dashboard assembled from data read before a change, and stored
after it, is never served. Entries also expire after TTL_SECONDS, which bounds how long the
parts that age by themselves (an upcoming session that has started, a new month) lag.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from redis import asyncio as aioredis
from sqlalchemy import or_, select

from models import ClassTeacher, Enrollment
from models.enums import EnrollmentStatus
from subscriptions.channels import teacher_dashboard_channel

if TYPE_CHECKING:
    from context import AppState

TTL_SECONDS = 60
MAX_MEMORY_ENTRIES = 5000
GENERATION_TTL_SECONDS = 86400


class TeacherDashboardCache(Protocol):
    async def get(self, teacher_id: int) -> tuple[dict[str, Any] | None, int]:
        """The cached dashboard if it is current (else None), and the current generation."""

    async def put(self, teacher_id: int, generation: int, dashboard: dict[str, Any]) -> None:
        """Stores a dashboard assembled at `generation` (as `get` returned it before assembling)."""

    async def invalidate(self, teacher_ids: Iterable[int]) -> None: ...


class MemoryTeacherDashboardCache:
    def __init__(self) -> None:
        self._entries: dict[int, tuple[float, int, dict[str, Any]]] = {}
        self._generations: dict[int, int] = {}

    async def get(self, teacher_id: int) -> tuple[dict[str, Any] | None, int]:
        generation = self._generations.get(teacher_id, 0)
        entry = self._entries.get(teacher_id)
        if entry is None or entry[0] < time.monotonic() or entry[1] != generation:
            return None, generation
        return entry[2], generation

    async def put(self, teacher_id: int, generation: int, dashboard: dict[str, Any]) -> None:
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
    """`teacher-dashboard:<id>` holds {"generation", "dashboard"} (expiring after TTL_SECONDS);
    `teacher-dashboard:<id>:generation` counts the changes."""

    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def get(self, teacher_id: int) -> tuple[dict[str, Any] | None, int]:
        raw, raw_generation = await self.redis.mget(_key(teacher_id), _generation_key(teacher_id))
        generation = int(raw_generation or 0)
        if raw is None:
            return None, generation
        entry = orjson.loads(raw)
        return (entry["dashboard"] if entry["generation"] == generation else None), generation

    async def put(self, teacher_id: int, generation: int, dashboard: dict[str, Any]) -> None:
        entry = orjson.dumps({"generation": generation, "dashboard": dashboard})
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


async def teacher_dashboards_changed(
    app: AppState,
    *,
    teacher_ids: Iterable[int] = (),
    class_ids: Iterable[int] = (),
    student_ids: Iterable[int] = (),
) -> None:
    """After a commit that changed what these teachers, the teachers of these classes, or the
    teachers of these students (whose risk was refreshed) see: drops their cached dashboards
    and tells their subscribers, in every process."""
    teachers = set(teacher_ids)
    classes, students = set(class_ids), set(student_ids)
    if classes or students:
        enrolled = select(Enrollment.class_id).where(
            Enrollment.student_id.in_(students), Enrollment.status == EnrollmentStatus.ACTIVE
        )
        query = (
            select(ClassTeacher.teacher_id)
            .distinct()
            .where(or_(ClassTeacher.class_id.in_(classes), ClassTeacher.class_id.in_(enrolled)))
        )
        async with app.session_factory() as session:
            teachers.update((await session.scalars(query)).all())
    await app.teacher_dashboards.invalidate(teachers)
    for teacher_id in sorted(teachers):
        await app.bus.publish(teacher_dashboard_channel(teacher_id), {})
