"""The cap on one user's concurrent WebSocket connections, counted across every process.

Each open connection holds a slot: an entry (its connection id) in a set per user, stamped with
the time its process last renewed it. A connection is admitted only if, atomically, the user
holds fewer slots than the cap, so of many connections opened at once exactly the cap get in.
Closing a connection, for any reason, gives its slot back; a process that dies without closing
its connections stops renewing their slots, and after the lease nobody counts them any more.

In Redis (shared by every process) the set is a sorted set scored by the last renewal in
milliseconds of Redis's own clock (the processes' clocks may disagree), and each operation is one
Lua script that first prunes the entries older than the lease: admission is a prune, a count and
an add that no other client can interleave. In the process, the same in a dict, read and written
without an `await` in between.

`WebSocketCap` is what a process holds: it admits and releases, and renews all of the process's
slots in one batch (one round trip) every third of the lease, not one task per connection.

Like the attempt limits, an unreachable Redis lets connections in (logged) rather than refusing
every live page: an outage of the counter must not become an outage of the API.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from redis import asyncio as aioredis

from stores.ratelimit import STORAGE_ERRORS

log = logging.getLogger(__name__)
KEY_PREFIX = "campusgraph-websockets"

# Redis's clock in milliseconds, the score of a renewal.
_NOW = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
"""
# KEYS[1]: the user's set. ARGV: the connection id, the cap, the lease in milliseconds. A slot
# already in the set is granted again: a retried call (redis-py retries once when a reply is lost)
# must not be refused by the slot its first try took.
_ACQUIRE = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[3]))
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == false
  and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
)
# KEYS: the users' sets, one per slot. ARGV[1]: the lease in milliseconds; ARGV[1 + i]: the
# connection id of KEYS[i]. A slot pruned meanwhile (a freeze longer than the lease, a Redis
# restart) is added back: its connection is still open.
_RENEW = (
    _NOW
    + """
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[i + 1])
  redis.call('PEXPIRE', key, ARGV[1])
end
return #KEYS
"""
)


@dataclass(frozen=True)
class Slot:
    """One open connection of one user."""

    user_id: int
    connection_id: str


def _key(user_id: int) -> str:
    return f"{KEY_PREFIX}:{user_id}"


class SlotCounter(Protocol):
    async def acquire(self, slot: Slot, limit: int) -> bool:
        """Counts `slot` if the user holds fewer than `limit` live slots; False, and nothing
        counted, otherwise."""
        ...

    async def renew(self, slots: Collection[Slot]) -> None:
        """Stamps these slots as live now."""
        ...

    async def release(self, slot: Slot) -> None: ...


class RedisSlotCounter:
    def __init__(self, redis: aioredis.Redis, lease_seconds: float) -> None:
        self._redis = redis
        self._lease_ms = int(lease_seconds * 1000)
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)

    async def acquire(self, slot: Slot, limit: int) -> bool:
        try:
            granted = await self._acquire(
                keys=[_key(slot.user_id)], args=[slot.connection_id, limit, self._lease_ms]
            )
        except STORAGE_ERRORS as error:
            log.warning("WebSocket cap not enforced, Redis is unreachable: %s", type(error).__name__)
            return True
        return int(granted) == 1

    async def renew(self, slots: Collection[Slot]) -> None:
        if not slots:
            return
        keys = [_key(slot.user_id) for slot in slots]
        try:
            await self._renew(keys=keys, args=[self._lease_ms, *(slot.connection_id for slot in slots)])
        except STORAGE_ERRORS as error:  # missed beats: the slots expire by the lease
            log.warning("WebSocket slots not renewed, Redis is unreachable: %s", type(error).__name__)

    async def release(self, slot: Slot) -> None:
        try:
            await self._redis.zrem(_key(slot.user_id), slot.connection_id)
        except STORAGE_ERRORS as error:
            log.warning("WebSocket slot left to its lease, Redis is unreachable: %s", type(error).__name__)


class MemorySlotCounter:
    """The in-process twin: per user, a dict of connection id → last renewal."""

    def __init__(self, lease_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._lease = lease_seconds
        self._clock = clock
        self._slots: dict[int, dict[str, float]] = {}

    def _live(self, user_id: int) -> dict[str, float]:
        oldest = self._clock() - self._lease
        slots = self._slots.get(user_id, {})
        self._slots[user_id] = live = {c: seen for c, seen in slots.items() if seen > oldest}
        return live

    async def acquire(self, slot: Slot, limit: int) -> bool:
        live = self._live(slot.user_id)
        if slot.connection_id not in live and len(live) >= limit:
            return False
        live[slot.connection_id] = self._clock()
        return True

    async def renew(self, slots: Collection[Slot]) -> None:
        for slot in slots:
            self._slots.setdefault(slot.user_id, {})[slot.connection_id] = self._clock()

    async def release(self, slot: Slot) -> None:
        live = self._live(slot.user_id)
        live.pop(slot.connection_id, None)
        if not live:
            del self._slots[slot.user_id]


class WebSocketCap:
    """This process's slots: admits a connection (`take`), gives its slot back when it closes
    (`give_back`) and renews the slots it holds while any is open, in one batch each time."""

    def __init__(self, counter: SlotCounter, limit: int, lease_seconds: float) -> None:
        self.counter = counter
        self.limit = limit
        self.every = lease_seconds / 3
        self._held: set[Slot] = set()
        self._task: asyncio.Task[None] | None = None
        self._renewal: asyncio.Task[None] | None = None

    async def take(self, user_id: int) -> Slot | None:
        """A slot for a new connection of the user; None when they already hold `limit`."""
        slot = Slot(user_id, uuid.uuid4().hex)
        if not await self.counter.acquire(slot, self.limit):
            return None
        self._held.add(slot)
        if self._task is None:
            self._task = asyncio.create_task(self._renew_forever(), name="websocket-slots-renewal")
        return slot

    async def give_back(self, slot: Slot) -> None:
        self._held.discard(slot)
        if self._renewal is not None and not self._renewal.done():
            # A batch that still holds the slot must not land after the release and revive it.
            await asyncio.wait([self._renewal])
        await self.counter.release(slot)
        if not self._held and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            if self._held:
                self._renewal = asyncio.create_task(self.counter.renew(list(self._held)))
                try:
                    await self._renewal
                except Exception:  # an outage is logged by the counter; the lease covers a missed beat
                    log.exception("WebSocket slots not renewed")
