"""The event bus delivers typed events, in one process (memory://) and across processes (real
Redis), validating and converting each once for all the subscribers of a process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest
from pydantic import TypeAdapter
from redis import asyncio as aioredis

from errors import SubscriberTooSlow
from subscriptions.bus import MAX_BACKLOG, EventBus
from subscriptions.events import Payload
from tests.conftest import ThrowawayRedis


class Tick(Payload):
    n: int
    text: str = ""


class Other(Payload):
    name: str


async def _collect(bus: EventBus, channel: str, count: int, ready: asyncio.Event) -> list[Tick]:
    received: list[Tick] = []
    async with bus.subscribe(channel, Tick) as events:
        ready.set()
        async for event in events:
            received.append(event)
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
    await memory_bus.publish("class:2", Tick(n=0))
    await memory_bus.publish("class:1", Tick(n=1))
    await memory_bus.publish("class:1", Tick(n=2))
    assert await asyncio.wait_for(listener, 2) == [Tick(n=1), Tick(n=2)]


async def test_an_event_that_is_not_the_channels_is_dropped_and_logged(
    memory_bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    async with memory_bus.subscribe("class:1", Tick) as events:
        with caplog.at_level(logging.WARNING, "subscriptions.bus"):
            await memory_bus.publish("class:1", Other(name="not a tick"))
            await memory_bus.publish("class:1", Tick(n=1))
            assert await asyncio.wait_for(anext(events), 2) == Tick(n=1)
    assert "event on class:1 is not a valid" in caplog.text


async def test_subscribers_share_each_validation_and_conversion(memory_bus: EventBus) -> None:
    """Once per event and process: the same event object for the subscribers of one class (or
    adapter), the same converted object for those of one `convert`, which runs once."""
    calls: list[Tick] = []

    def doubled(event: Tick) -> Tick:
        calls.append(event)
        return Tick(n=event.n * 2)

    adapter: TypeAdapter[Tick] = TypeAdapter(Tick)
    async with (
        memory_bus.subscribe("class:1", Tick) as plain,
        memory_bus.subscribe("class:1", Tick) as plain_too,
        memory_bus.subscribe("class:1", adapter) as adapted,
        memory_bus.subscribe("class:1", Tick, doubled) as converted,
        memory_bus.subscribe("class:1", Tick, doubled) as converted_too,
    ):
        await memory_bus.publish("class:1", Tick(n=4))
        first, second = await anext(plain), await anext(plain_too)
        assert first == Tick(n=4)
        assert first is second
        assert await anext(adapted) == first
        once, again = await anext(converted), await anext(converted_too)
        assert once == Tick(n=8)
        assert once is again
        assert calls == [first]
        assert memory_bus.memo_of(once) == {}  # for the subscribers' shared work on it
        assert memory_bus.memo_of(first) is None


@pytest.fixture
async def redis_buses(throwaway_redis: ThrowawayRedis) -> AsyncIterator[tuple[EventBus, EventBus]]:
    """Two buses with their own Redis clients: two server processes."""
    clients = [aioredis.Redis.from_url(throwaway_redis.url) for _ in range(2)]
    yield EventBus(clients[0]), EventBus(clients[1])
    for client in clients:
        await client.aclose()


async def test_a_subscriber_that_does_not_read_is_ended_not_kept_growing(memory_bus: EventBus) -> None:
    async with (
        memory_bus.subscribe("class:1", Tick) as stalled,
        memory_bus.subscribe("class:1", Tick) as reading,
    ):
        for n in range(MAX_BACKLOG + 5):
            await memory_bus.publish("class:1", Tick(n=n))
            assert (await anext(reading)).n == n  # the bus has handed the event out
        with pytest.raises(SubscriberTooSlow):
            await anext(stalled)
    async with memory_bus.subscribe("class:1", Tick) as again:  # subscribing again works as ever
        await memory_bus.publish("class:1", Tick(n=-1))
        assert await anext(again) == Tick(n=-1)


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
            await publisher.publish("class:7", Tick(n=n, text="é"))
        assert await asyncio.wait_for(listener, 3) == [Tick(n=n, text="é") for n in range(3)]
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
            await publisher.publish("grades", Tick(n=round_number))
            assert await asyncio.wait_for(listener, 3) == [Tick(n=round_number)]
    finally:
        await publisher.disconnect()
        await subscriber.disconnect()


async def test_redis_bus_delivers_to_channels_first_subscribed_at_once(
    redis_buses: tuple[EventBus, EventBus],
) -> None:
    """Subscribers of different channels arriving together (a page opening several
    subscriptions) all hear their events: the subscriptions share one Redis connection."""
    publisher, subscriber = redis_buses
    await publisher.connect()
    await subscriber.connect()
    try:
        readies = [asyncio.Event() for _ in range(8)]
        listeners = [
            asyncio.create_task(_collect(subscriber, f"user:{n}", 1, ready))
            for n, ready in enumerate(readies)
        ]
        await asyncio.gather(*(ready.wait() for ready in readies))
        for n in range(8):
            await publisher.publish(f"user:{n}", Tick(n=n))
        assert await asyncio.wait_for(asyncio.gather(*listeners), 3) == [[Tick(n=n)] for n in range(8)]
    finally:
        await publisher.disconnect()
        await subscriber.disconnect()


@pytest.mark.parametrize("backend", ["memory", "redis"])
async def test_many_events_published_at_once_reach_each_channels_subscribers(
    backend: str, throwaway_redis: ThrowawayRedis
) -> None:
    clients = [aioredis.Redis.from_url(throwaway_redis.url) for _ in range(2)] if backend == "redis" else []
    publisher = EventBus(clients[0]) if clients else EventBus(None)
    subscriber = EventBus(clients[1]) if clients else publisher
    await publisher.connect()
    if subscriber is not publisher:
        await subscriber.connect()
    try:
        readies = [asyncio.Event() for _ in range(3)]
        listeners = [
            asyncio.create_task(_collect(subscriber, f"user:{n}", 2, ready))
            for n, ready in enumerate(readies)
        ]
        await asyncio.gather(*(ready.wait() for ready in readies))
        await publisher.publish_many([(f"user:{n % 3}", Tick(n=n)) for n in range(6)])
        assert await asyncio.wait_for(asyncio.gather(*listeners), 3) == [
            [Tick(n=0), Tick(n=3)],
            [Tick(n=1), Tick(n=4)],
            [Tick(n=2), Tick(n=5)],
        ]
    finally:
        await publisher.disconnect()
        if subscriber is not publisher:
            await subscriber.disconnect()
        for client in clients:
            await client.aclose()
