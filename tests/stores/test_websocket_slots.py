"""WebSocket slots counted atomically (stores/websocket_slots.py): of 100 connections of one user
admitted at once exactly the cap get a slot, in the process and in Redis shared by two processes;
a released slot lets one more in; a slot not renewed within the lease stops counting; the
process's renewal keeps its live slots and never revives a released one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Collection

from redis import asyncio as aioredis

from stores.websocket_slots import (
    MemorySlotCounter,
    RedisSlotCounter,
    Slot,
    SlotCounter,
    WebSocketCap,
)
from tests.stores.conftest import Clock

CAP = 10


async def admitted(counters: list[SlotCounter], count: int, user_id: int = 7) -> list[Slot]:
    """`count` new slots of the user asked for at once, spread over the counters; those granted."""
    slots = [Slot(user_id, uuid.uuid4().hex) for _ in range(count)]
    granted = await asyncio.gather(
        *(counters[n % len(counters)].acquire(slot, CAP) for n, slot in enumerate(slots))
    )
    return [slot for slot, ok in zip(slots, granted, strict=True) if ok]


async def release_and_other_users(counter: SlotCounter) -> None:
    slots = await admitted([counter], 100)
    assert len(slots) == CAP
    assert await counter.acquire(Slot(7, "one-more"), CAP) is False
    assert await counter.acquire(slots[0], CAP) is True, "a retried acquire of a held slot is granted"
    assert len(await admitted([counter], 100, user_id=8)) == CAP, "another user has their own"
    await counter.release(slots[0])
    assert await counter.acquire(Slot(7, "one-more"), CAP) is True, "released, one more gets in"
    assert await counter.acquire(Slot(7, "and-another"), CAP) is False


async def test_in_the_process_exactly_the_cap_of_slots_asked_for_at_once_are_granted() -> None:
    clock = Clock()
    counter = MemorySlotCounter(lease_seconds=30, clock=clock)
    slots = await admitted([counter], 100)
    assert len(slots) == CAP
    clock.now += 20
    await counter.renew(slots[:4])
    clock.now += 10
    assert len(await admitted([counter], 100)) == CAP - 4, "the unrenewed ones passed their lease"
    await release_and_other_users(MemorySlotCounter(lease_seconds=30, clock=clock))


async def test_in_redis_two_processes_share_the_cap(
    redis_clients: tuple[aioredis.Redis, aioredis.Redis],
) -> None:
    counters: list[SlotCounter] = [RedisSlotCounter(client, lease_seconds=30) for client in redis_clients]
    slots = await admitted(counters, 100)
    assert len(slots) == CAP
    keys = await redis_clients[0].keys("campusgraph-websockets:*")
    assert keys == [b"campusgraph-websockets:7"], "one set per user"
    assert await redis_clients[0].zcard(keys[0]) == CAP
    assert 25_000 < await redis_clients[0].pttl(keys[0]) <= 30_000, "the set expires with its slots"
    await redis_clients[0].delete(*keys)
    await release_and_other_users(counters[1])


async def test_in_redis_a_slot_not_renewed_within_the_lease_stops_counting(
    redis_clients: tuple[aioredis.Redis, aioredis.Redis],
) -> None:
    first, second = (RedisSlotCounter(client, lease_seconds=1.0) for client in redis_clients)
    slots = await admitted([first], 20)
    assert len(slots) == CAP
    await asyncio.sleep(0.6)
    await first.renew(slots[:4])
    await asyncio.sleep(0.6)
    assert len(await admitted([second], 20)) == CAP - 4, "the process that held six is gone"


class GatedCounter(MemorySlotCounter):
    """A counter whose renewals wait for the test to let them through."""

    def __init__(self) -> None:
        super().__init__(lease_seconds=0.3)
        self.renewing = asyncio.Event()
        self.gate = asyncio.Event()

    async def renew(self, slots: Collection[Slot]) -> None:
        self.renewing.set()
        await self.gate.wait()
        await super().renew(slots)


def renewal_tasks() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_name() == "websocket-slots-renewal"]


async def test_the_process_renews_its_live_slots_and_never_revives_a_released_one() -> None:
    cap = WebSocketCap(MemorySlotCounter(lease_seconds=0.3), limit=3, lease_seconds=0.3)
    slots = [await cap.take(7) for _ in range(3)]
    assert None not in slots
    await asyncio.sleep(0.6)
    assert await cap.take(7) is None, "renewed past the lease"
    assert len(renewal_tasks()) == 1, "one renewal task for all of the process's slots"
    for slot in slots:
        assert slot is not None
        await cap.give_back(slot)
    await asyncio.sleep(0.01)
    assert renewal_tasks() == [], "no slot held, no task"

    gated = GatedCounter()
    cap = WebSocketCap(gated, limit=1, lease_seconds=0.3)
    slot = await cap.take(7)
    assert slot is not None
    await asyncio.wait_for(gated.renewing.wait(), 1)
    release = asyncio.create_task(cap.give_back(slot))
    await asyncio.sleep(0.05)
    assert not release.done(), "the release waits for the renewal that holds the slot"
    gated.gate.set()
    await release
    assert await gated.acquire(Slot(7, "next"), 1) is True, "the renewal did not revive the slot"


async def test_an_unreachable_redis_lets_connections_in() -> None:
    unreachable = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    counter = RedisSlotCounter(unreachable, lease_seconds=30)
    slot = Slot(7, "connection")
    assert await counter.acquire(slot, CAP) is True
    await counter.renew([slot])
    await counter.release(slot)
    await unreachable.aclose()
