"""Gradebook cell locks with a time to live, shared by every process through Redis (SET NX PX),
or kept in the process when there is no Redis. A lock ends when its holder releases it, when
its TTL runs out, or when the holder's live connection to the gradebook closes."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from redis import asyncio as aioredis

LOCK_TTL_SECONDS = 30.0

# Deletes the lock only if its holder asks: a compare-and-delete Redis cannot do in one command.
RELEASE_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if value and cjson.decode(value)['holderId'] == tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], KEYS[1])
  return 1
end
return 0
"""
# Takes a free lock or renews one's own; answers the lock that stands either way.
ACQUIRE_SCRIPT = """
local value = redis.call('GET', KEYS[1])
if value and cjson.decode(value)['holderId'] ~= tonumber(ARGV[1]) then
  return value
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SADD', KEYS[2], KEYS[1])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return ARGV[2]
"""

Cell = tuple[int, int]  # (student id, assignment id)


@dataclass(frozen=True)
class CellLock:
    student_id: int
    assignment_id: int
    holder_id: int
    holder_name: str
    expires_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """As stored in Redis and carried by gradebook events."""
        return {
            "studentId": self.student_id,
            "assignmentId": self.assignment_id,
            "holderId": self.holder_id,
            "holderName": self.holder_name,
            "expiresAt": self.expires_at.timestamp(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellLock:
        return cls(
            student_id=data["studentId"],
            assignment_id=data["assignmentId"],
            holder_id=data["holderId"],
            holder_name=data["holderName"],
            expires_at=datetime.fromtimestamp(data["expiresAt"], UTC),
        )

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    @classmethod
    def from_json(cls, raw: bytes | str) -> CellLock:
        return cls.from_dict(orjson.loads(raw))


class CellLocks(Protocol):
    async def acquire(self, class_id: int, cell: Cell, holder_id: int, holder_name: str) -> CellLock:
        """Takes or renews the lock; returns the lock that now stands (someone else's if taken)."""

    async def release(self, class_id: int, cell: Cell, holder_id: int) -> bool: ...

    async def of_class(self, class_id: int) -> dict[Cell, CellLock]: ...

    async def release_all(self, class_id: int, holder_id: int) -> list[CellLock]: ...


def _new_lock(cell: Cell, holder_id: int, holder_name: str, ttl: float) -> CellLock:
    return CellLock(cell[0], cell[1], holder_id, holder_name, datetime.fromtimestamp(time.time() + ttl, UTC))


class MemoryCellLocks:
    def __init__(self, ttl: float = LOCK_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._locks: dict[int, dict[Cell, CellLock]] = {}

    def _live(self, class_id: int) -> dict[Cell, CellLock]:
        now = datetime.now(UTC)
        locks = self._locks.setdefault(class_id, {})
        for cell in [cell for cell, lock in locks.items() if lock.expires_at <= now]:
            del locks[cell]
        return locks

    async def acquire(self, class_id: int, cell: Cell, holder_id: int, holder_name: str) -> CellLock:
        locks = self._live(class_id)
        current = locks.get(cell)
        if current is not None and current.holder_id != holder_id:
            return current
        locks[cell] = _new_lock(cell, holder_id, holder_name, self.ttl)
        return locks[cell]

    async def release(self, class_id: int, cell: Cell, holder_id: int) -> bool:
        locks = self._live(class_id)
        if cell in locks and locks[cell].holder_id == holder_id:
            del locks[cell]
            return True
        return False

    async def of_class(self, class_id: int) -> dict[Cell, CellLock]:
        return dict(self._live(class_id))

    async def release_all(self, class_id: int, holder_id: int) -> list[CellLock]:
        locks = self._live(class_id)
        mine = [lock for lock in locks.values() if lock.holder_id == holder_id]
        for lock in mine:
            del locks[(lock.student_id, lock.assignment_id)]
        return mine


class RedisCellLocks:
    def __init__(self, redis: aioredis.Redis, ttl: float = LOCK_TTL_SECONDS) -> None:
        self.redis = redis
        self.ttl = ttl
        self._acquire = redis.register_script(ACQUIRE_SCRIPT)
        self._release = redis.register_script(RELEASE_SCRIPT)

    @staticmethod
    def _keys(class_id: int, cell: Cell) -> list[str]:
        return [f"gradebook:{class_id}:lock:{cell[0]}:{cell[1]}", f"gradebook:{class_id}:locks"]

    async def acquire(self, class_id: int, cell: Cell, holder_id: int, holder_name: str) -> CellLock:
        wanted = _new_lock(cell, holder_id, holder_name, self.ttl)
        standing = await self._acquire(
            keys=self._keys(class_id, cell), args=[holder_id, wanted.to_json(), int(self.ttl * 1000)]
        )
        return CellLock.from_json(standing)

    async def release(self, class_id: int, cell: Cell, holder_id: int) -> bool:
        return bool(await self._release(keys=self._keys(class_id, cell), args=[holder_id]))

    async def of_class(self, class_id: int) -> dict[Cell, CellLock]:
        index = f"gradebook:{class_id}:locks"
        keys = sorted(_text(key) for key in await self.redis.smembers(index))
        if not keys:
            return {}
        values = await self.redis.mget(keys)
        expired = [key for key, value in zip(keys, values, strict=True) if value is None]
        if expired:
            await self.redis.srem(index, *expired)
        locks = [CellLock.from_json(value) for value in values if value is not None]
        return {(lock.student_id, lock.assignment_id): lock for lock in locks}

    async def release_all(self, class_id: int, holder_id: int) -> list[CellLock]:
        released = []
        for cell, lock in (await self.of_class(class_id)).items():
            if lock.holder_id == holder_id and await self.release(class_id, cell, holder_id):
                released.append(lock)
        return released


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
