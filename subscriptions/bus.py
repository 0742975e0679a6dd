"""The event bus: in the process (memory) or through Redis pub/sub (all processes).

Events are the pydantic models of `subscriptions.events`, sent as JSON. Redis pub/sub is
at-most-once: events carry versions and clients re-query after a reconnect; the database,
not the bus, is the truth.

Each process keeps its own registry of the subscribers of each channel, subscribes its
backend to a channel once, and validates (and converts) each event once for all of them.
broadcaster 0.3.1's `Broadcast` is not used for this: when several first subscribers of a
channel arrive together, each replaces the channel's set of queues, so all but one never
receive anything, and their teardown raises KeyError.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, NamedTuple, TypeVar, overload

from broadcaster import Event
from broadcaster._backends.base import BroadcastBackend
from broadcaster._backends.memory import MemoryBackend
from pydantic import BaseModel, TypeAdapter, ValidationError
from redis import asyncio as aioredis

from errors import SubscriberTooSlow

log = logging.getLogger(__name__)

CONNECTION_ERRORS = (aioredis.ConnectionError, aioredis.TimeoutError, OSError)

E = TypeVar("E")
T = TypeVar("T")


class RedisPubSubBackend(BroadcastBackend):
    """broadcaster's Redis backend, fixed for redis-py 8 and for lost connections.

    broadcaster 0.3.1 marks itself ready before SUBSCRIBE completes, and redis-py 8's
    `listen()` then returns at once, so nothing is ever delivered; and its listener dies
    with the connection. This backend subscribes first, polls `get_message`, and when
    Redis is unreachable keeps retrying and subscribes to its channels again. Events
    published while it was cut off are lost (at-most-once, see the module docstring).

    It publishes through the app's client (its pool) and holds one connection of that pool
    for the subscription, whatever the number of channels and subscribers. redis-py's PubSub
    opens that connection on its first command: two SUBSCRIBEs at once would each open one,
    and only the last would be read, so `_lock` lets one command through at a time.
    """

    RETRY_SECONDS = 0.5

    def __init__(self, redis: aioredis.Redis) -> None:
        self._conn = redis
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._channels: set[str] = set()
        self._has_channels = asyncio.Event()
        self._queue: asyncio.Queue[Event] = asyncio.Queue()
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        """Starts the listener; it connects by itself, so a Redis that is down does not stop the app."""
        self._listener = asyncio.create_task(self._listen(), name="redis-pubsub-listener")

    async def disconnect(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self._pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]  # typed from redis 8.2

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        with contextlib.suppress(*CONNECTION_ERRORS):  # the listener subscribes again once Redis is back
            async with self._lock:
                await self._pubsub.subscribe(channel)
        self._has_channels.set()

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        with contextlib.suppress(*CONNECTION_ERRORS):
            async with self._lock:
                await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, message: Any) -> None:
        await self._conn.publish(channel, message)

    async def publish_many(self, messages: Sequence[tuple[str, str]]) -> None:
        """All in one pipelined round trip (not a transaction: each PUBLISH stands alone)."""
        async with self._conn.pipeline(transaction=False) as pipe:
            for channel, message in messages:
                pipe.publish(channel, message)
            await pipe.execute()

    async def next_published(self) -> Event:
        return await self._queue.get()

    async def _listen(self) -> None:
        while True:
            if not self._channels:
                self._has_channels.clear()
                await self._has_channels.wait()
            try:
                if not self._pubsub.subscribed:
                    async with self._lock:
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


class _Reader(NamedTuple):
    """What a subscriber wants an event as: validated by `events`, then `convert`ed (if given)."""

    events: TypeAdapter[Any]
    convert: Callable[[Any], Any] | None


class _Channel:
    """This process's subscribers of one channel: their queues and what each wants an event as."""

    def __init__(self) -> None:
        self.queues: dict[asyncio.Queue[Any], _Reader] = {}
        self.subscribed = False  # the backend is subscribed to the channel
        self.lock = asyncio.Lock()  # one SUBSCRIBE/UNSUBSCRIBE of the channel at a time


_END = object()
_OVERFLOWED = object()
_DROPPED = object()  # an event that could not be validated or converted
MAX_BACKLOG = 1000  # events kept for one subscriber that has not read them yet


class EventBus:
    """Publishes and subscribes typed events (`subscriptions.events`) on named channels."""

    def __init__(self, redis: aioredis.Redis | None) -> None:
        self._backend: BroadcastBackend = (
            RedisPubSubBackend(redis) if redis is not None else MemoryBackend("memory://")
        )
        self._channels: dict[str, _Channel] = {}
        self._adapters: dict[type[Any], TypeAdapter[Any]] = {}
        self._memos: dict[int, dict[Hashable, Any]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    async def connect(self) -> None:
        await self._backend.connect()
        self._listener = asyncio.create_task(self._listen(), name="event-bus")

    async def disconnect(self) -> None:
        """Stops listening and ends every subscriber's iteration."""
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        await self._backend.disconnect()
        for channel in self._channels.values():
            for queue in channel.queues:
                queue.put_nowait(_END)

    async def publish(self, channel: str, event: BaseModel) -> None:
        """Best effort: events go out after commit, so a lost one must not fail the request
        that committed; subscribers re-query after a reconnect (at-most-once, see above)."""
        try:
            await self._backend.publish(channel, event.model_dump_json())
        except CONNECTION_ERRORS as error:
            log.warning("event on %s not published: %s", channel, type(error).__name__)

    async def publish_many(self, events: Sequence[tuple[str, BaseModel]]) -> None:
        """`publish` for many events at once (an announcement's recipients): over Redis one round
        trip for them all instead of one each; best effort in the same way."""
        messages = [(channel, event.model_dump_json()) for channel, event in events]
        try:
            if isinstance(self._backend, RedisPubSubBackend):
                await self._backend.publish_many(messages)
            else:
                for channel, message in messages:
                    await self._backend.publish(channel, message)
        except CONNECTION_ERRORS as error:
            log.warning("%d events not published: %s", len(messages), type(error).__name__)

    @overload
    def subscribe(
        self, channel: str, events: type[E] | TypeAdapter[E]
    ) -> AbstractAsyncContextManager[AsyncIterator[E]]: ...

    @overload
    def subscribe(
        self, channel: str, events: type[E] | TypeAdapter[E], convert: Callable[[E], T]
    ) -> AbstractAsyncContextManager[AsyncIterator[T]]: ...

    def subscribe(
        self,
        channel: str,
        events: type[Any] | TypeAdapter[Any],
        convert: Callable[[Any], Any] | None = None,
    ) -> AbstractAsyncContextManager[AsyncIterator[Any]]:
        """`async with bus.subscribe(ch, SomeEvent) as events: async for event in events: ...`

        Once entered, every event published on the channel is received, validated as `events`
        (the channel's event class, or a TypeAdapter of a union of them); one that is not is
        logged and dropped. Events are shared by all the subscribers of this process: read
        them, never change them. `convert` (a function the subscribers share, not a new one
        each) turns an event into what they receive, once per event for all of them.
        """
        reader = _Reader(self._adapter(events), convert)
        return self._subscription(channel, reader)

    def _adapter(self, events: type[Any] | TypeAdapter[Any]) -> TypeAdapter[Any]:
        """One adapter per event class, so that its subscribers share each validation."""
        if isinstance(events, TypeAdapter):
            return events
        adapter = self._adapters.get(events)
        if adapter is None:
            adapter = self._adapters[events] = TypeAdapter(events)
        return adapter

    @asynccontextmanager
    async def _subscription(self, channel: str, reader: _Reader) -> AsyncIterator[AsyncIterator[Any]]:
        queue: asyncio.Queue[Any] = asyncio.Queue(MAX_BACKLOG + 1)  # + 1: room for _OVERFLOWED
        entry = self._channels.setdefault(channel, _Channel())
        entry.queues[queue] = reader
        try:
            if not entry.subscribed:
                async with entry.lock:
                    if not entry.subscribed:
                        await self._backend.subscribe(channel)
                        entry.subscribed = True
            yield _received(queue)
        finally:
            del entry.queues[queue]
            if not entry.queues:
                await self._release(channel, entry)

    def memo_of(self, item: object) -> dict[Hashable, Any] | None:
        """A dict shared by every subscriber that received `item` (a converted event) in this
        process, for work on it that each would otherwise repeat; it lives as long as `item`."""
        return self._memos.get(id(item))

    async def _release(self, channel: str, entry: _Channel) -> None:
        """Unsubscribes the backend from a channel that has no subscriber left. A subscriber that
        arrives meanwhile joins the same entry and waits for the lock, then subscribes again."""
        async with entry.lock:
            if entry.queues:
                return
            if entry.subscribed:
                entry.subscribed = False
                await self._backend.unsubscribe(channel)
            if not entry.queues and self._channels.get(channel) is entry:
                del self._channels[channel]

    async def _listen(self) -> None:
        while True:
            event = await self._backend.next_published()
            entry = self._channels.get(event.channel)
            if entry is None or not entry.queues:
                continue
            validated: dict[TypeAdapter[Any], Any] = {}
            items: dict[_Reader, Any] = {}
            for queue, reader in list(entry.queues.items()):
                if reader not in items:
                    if reader.events not in validated:
                        validated[reader.events] = _validated(reader.events, event)
                    items[reader] = self._converted(reader.convert, validated[reader.events], event.channel)
                if items[reader] is not _DROPPED:
                    _deliver(queue, items[reader])

    def _converted(self, convert: Callable[[Any], Any] | None, item: Any, channel: str) -> Any:
        if convert is None or item is _DROPPED:
            return item
        try:
            item = convert(item)
        except Exception:
            log.exception("event on %s could not be converted; dropped", channel)
            return _DROPPED
        with contextlib.suppress(TypeError):  # an item that cannot be weakly referenced gets no memo
            weakref.finalize(item, self._memos.pop, id(item), None)
            self._memos[id(item)] = {}
        return item


def _validated(events: TypeAdapter[Any], event: Event) -> Any:
    try:
        return events.validate_json(event.message)
    except ValidationError as error:
        log.warning("event on %s is not a valid %s; dropped: %s", event.channel, events, error)
        return _DROPPED


def _deliver(queue: asyncio.Queue[Any], item: Any) -> None:
    """Queues an event for one subscriber; one that has MAX_BACKLOG unread events is dropped
    (its backlog freed, its subscription ended with SubscriberTooSlow) rather than let its
    queue grow without bound."""
    if queue.qsize() < MAX_BACKLOG:
        queue.put_nowait(item)
    elif queue.qsize() == MAX_BACKLOG:
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(_OVERFLOWED)


async def _received(queue: asyncio.Queue[Any]) -> AsyncIterator[Any]:
    while (item := await queue.get()) is not _END:
        if item is _OVERFLOWED:
            raise SubscriberTooSlow
        yield item
