"""The event bus: broadcaster on memory:// (one process) or Redis (all processes).

Payloads are JSON objects. Redis pub/sub is at-most-once: events carry versions and
clients re-query after a reconnect; the database, not the bus, is the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from broadcaster import Broadcast, Event
from broadcaster._backends.base import BroadcastBackend
from redis import asyncio as aioredis

log = logging.getLogger(__name__)

CONNECTION_ERRORS = (aioredis.ConnectionError, aioredis.TimeoutError, OSError)


class RedisPubSubBackend(BroadcastBackend):
    """broadcaster's Redis backend, fixed for redis-py 8 and for lost connections.

    broadcaster 0.3.1 marks itself ready before SUBSCRIBE completes, and redis-py 8's
    `listen()` then returns at once, so nothing is ever delivered; and its listener dies
    with the connection. This backend subscribes first, polls `get_message`, and when
    Redis is unreachable keeps retrying and subscribes to its channels again. Events
    published while it was cut off are lost (at-most-once, see the module docstring).
    """

    RETRY_SECONDS = 0.5

    def __init__(self, url: str) -> None:
        self._conn = aioredis.Redis.from_url(url, socket_connect_timeout=2, health_check_interval=10)
        self._pubsub = self._conn.pubsub(ignore_subscribe_messages=True)
        self._channels: set[str] = set()
        self._has_channels = asyncio.Event()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._listener: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        """Starts the listener; it connects by itself, so a Redis that is down does not stop the app."""
        self._listener = asyncio.create_task(self._listen(), name="redis-pubsub-listener")

    async def disconnect(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self._pubsub.aclose()  # type: ignore[no-untyped-call]
        await self._conn.aclose()

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        with contextlib.suppress(*CONNECTION_ERRORS):  # the listener subscribes again once Redis is back
            await self._pubsub.subscribe(channel)
        self._has_channels.set()

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        with contextlib.suppress(*CONNECTION_ERRORS):
            await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: Any) -> None:
        await self._conn.publish(channel, message)

    async def next_published(self) -> Event:
        return await self._queue.get()

    async def _listen(self) -> None:
        while True:
            if not self._channels:
                self._has_channels.clear()
                await self._has_channels.wait()
            try:
                if not self._pubsub.subscribed:
                    await self._pubsub.subscribe(*self._channels)
                message = await self._pubsub.get_message(timeout=1.0)
            except CONNECTION_ERRORS as error:
                log.warning("redis pub/sub unreachable (%s); retrying", type(error).__name__)
                await asyncio.sleep(self.RETRY_SECONDS)
                continue
            if message is not None and message["type"] == "message":
                await self._queue.put(
                    Event(channel=message["channel"].decode(), message=message["data"].decode())
                )


class EventBus:
    """Publishes and subscribes JSON payloads on named channels."""

    def __init__(self, redis_url: str | None) -> None:
        backend = RedisPubSubBackend(redis_url) if redis_url else None
        self._broadcast = Broadcast(backend=backend) if backend else Broadcast("memory://")

    async def connect(self) -> None:
        await self._broadcast.connect()

    async def disconnect(self) -> None:
        await self._broadcast.disconnect()

    async def publish(self, channel: str, payload: dict[str, Any]) -> None:
        """Best effort: events go out after commit, so a lost one must not fail the request
        that committed; subscribers re-query after a reconnect (at-most-once, see above)."""
        try:
            await self._broadcast.publish(channel, orjson.dumps(payload).decode())
        except CONNECTION_ERRORS as error:
            log.warning("event on %s not published: %s", channel, type(error).__name__)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """`async with bus.subscribe(ch) as events: async for payload in events: ...`"""
        async with self._broadcast.subscribe(channel) as subscriber:
            yield _payloads(subscriber)


async def _payloads(subscriber: Any) -> AsyncIterator[dict[str, Any]]:
    async for event in subscriber:
        if event is None:
            return
        yield orjson.loads(event.message)
