"""The event bus delivers, in one process (memory://) and across processes (real Redis)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis import asyncio as aioredis

from resolvers.errors import SubscriberTooSlow
from subscriptions.bus import MAX_BACKLOG, EventBus
from tests.conftest import ThrowawayRedis


async def _collect(bus: EventBus, channel: str, count: int, ready: asyncio.Event) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []
    async with bus.subscribe(channel) as events:
        ready.set()
        async for payload in events:
            received.append(payload)
            if len(received) == count:
                break
    return received


@pytest.fixture
async def memory_bus() -> AsyncIterator[EventBus]:
    bus = EventBus(None)
    await bus.connect()
    yield bus
    await bus.disconnect()


async def test_memory_bus_delivers_to_subscribers_of_the_channel_only(memory_bus: EventBus) -> None:
    ready = asyncio.Event()
    listener = asyncio.create_task(_collect(memory_bus, "class:1", 2, ready))
    await ready.wait()
    await memory_bus.publish("class:2", {"n": 0})
    await memory_bus.publish("class:1", {"n": 1})
    await memory_bus.publish("class:1", {"n": 2})
    assert await asyncio.wait_for(listener, 2) == [{"n": 1}, {"n": 2}]


@pytest.fixture
async def redis_buses(throwaway_redis: ThrowawayRedis) -> AsyncIterator[tuple[EventBus, EventBus]]:
    """Two buses with their own Redis clients: two server processes."""
    clients = [aioredis.Redis.from_url(throwaway_redis.url) for _ in range(2)]
    yield EventBus(clients[0]), EventBus(clients[1])
    for client in clients:
        await client.aclose()


async def test_a_subscriber_that_does_not_read_is_ended_not_kept_growing(memory_bus: EventBus) -> None:
    async with (
        memory_bus.subscribe("class:1") as stalled,
        memory_bus.subscribe("class:1") as reading,
    ):
        for n in range(MAX_BACKLOG + 5):
            await memory_bus.publish("class:1", {"n": n})
            assert (await anext(reading))["n"] == n  # the bus has handed the event out
        with pytest.raises(SubscriberTooSlow):
            await anext(stalled)
    async with memory_bus.subscribe("class:1") as again:  # subscribing again works as ever
        await memory_bus.publish("class:1", {"n": -1})
        assert await anext(again) == {"n": -1}


async def test_redis_bus_delivers_across_connections(redis_buses: tuple[EventBus, EventBus]) -> None:
    """Two buses stand for two server processes: what one publishes, the other receives.

    This is the broadcaster + redis-py 8 trap of DESIGN.md: the stock backend delivers nothing."""
    publisher, subscriber = redis_buses
    await publisher.connect()
    await subscriber.connect()
    try:
        ready = asyncio.Event()
        listener = asyncio.create_task(_collect(subscriber, "class:7", 3, ready))
        await ready.wait()
        for n in range(3):
            await publisher.publish("class:7", {"n": n, "text": "é"})
        assert await asyncio.wait_for(listener, 3) == [{"n": n, "text": "é"} for n in range(3)]
    finally:
        await publisher.disconnect()
        await subscriber.disconnect()


async def test_redis_bus_keeps_delivering_after_all_channels_were_left(
    redis_buses: tuple[EventBus, EventBus],
) -> None:
    publisher, subscriber = redis_buses
    await publisher.connect()
    await subscriber.connect()
    try:
        for round_number in range(2):
            ready = asyncio.Event()
            listener = asyncio.create_task(_collect(subscriber, "grades", 1, ready))
            await ready.wait()
            await publisher.publish("grades", {"round": round_number})
            assert await asyncio.wait_for(listener, 3) == [{"round": round_number}]
    finally:
        await publisher.disconnect()
        await subscriber.disconnect()
