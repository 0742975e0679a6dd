"""Who is editing a gradebook and which cell each is on, across processes.

Each live subscription is one entry with a TTL that its process renews while the connection
lives (a heartbeat). A process that dies stops renewing, and its entries expire: presence
survives a crash by TTL. In Redis, a hash per class (field: connection id) whose values carry
their own expiry, read with the expired ones dropped; in memory, the same in a dict.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass
from typing import Protocol

import orjson
from redis import asyncio as aioredis

from subscriptions.bus import CONNECTION_ERRORS

PRESENCE_TTL_SECONDS = 30.0
HEARTBEAT_SECONDS = 10.0


@dataclass(frozen=True)
class Editor:
    connection_id: str
    user_id: int
    name: str
    focus: tuple[int, int] | None  # (student id, assignment id)
    expires_at: float

    def to_json(self) -> bytes:
        return orjson.dumps(
            {"userId": self.user_id, "name": self.name, "focus": self.focus, "expiresAt": self.expires_at}
        )

    @classmethod
    def from_json(cls, connection_id: str, raw: bytes | str) -> Editor:
        data = orjson.loads(raw)
        focus = tuple(data["focus"]) if data["focus"] else None
        return cls(connection_id, data["userId"], data["name"], focus, data["expiresAt"])


class Presence(Protocol):
    async def join(self, class_id: int, connection_id: str, user_id: int, name: str) -> None: ...

    async def heartbeat(self, entries: list[tuple[int, str]]) -> None:
        """Renews these (class id, connection id) entries, those that still exist."""

    async def focus(self, class_id: int, user_id: int, cell: tuple[int, int]) -> bool:
        """Moves the user's cursor on each of their connections; False if they are not editing."""

    async def leave(self, class_id: int, connection_id: str) -> None: ...

    async def editors(self, class_id: int) -> list[Editor]: ...

    async def announce(self, class_id: int, editors: bytes) -> bool:
        """Records `editors` as the last announced for the class (by any process); False if they
        already were, so there is nothing new to tell. The record expires with the TTL."""


def _renewed(editor: Editor, ttl: float, focus: tuple[int, int] | None = None) -> Editor:
    return Editor(editor.connection_id, editor.user_id, editor.name, focus or editor.focus, time.time() + ttl)


class MemoryPresence:
    def __init__(self, ttl: float = PRESENCE_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._editors: dict[int, dict[str, Editor]] = {}
        self._announced: dict[int, tuple[bytes, float]] = {}

    def _live(self, class_id: int) -> dict[str, Editor]:
        now = time.time()
        editors = self._editors.setdefault(class_id, {})
        for connection_id in [c for c, e in editors.items() if e.expires_at <= now]:
            del editors[connection_id]
        return editors

    async def join(self, class_id: int, connection_id: str, user_id: int, name: str) -> None:
        editor = Editor(connection_id, user_id, name, None, time.time() + self.ttl)
        self._live(class_id)[connection_id] = editor

    async def heartbeat(self, entries: list[tuple[int, str]]) -> None:
        for class_id, connection_id in entries:
            editors = self._live(class_id)
            if connection_id in editors:
                editors[connection_id] = _renewed(editors[connection_id], self.ttl)

    async def focus(self, class_id: int, user_id: int, cell: tuple[int, int]) -> bool:
        editors = self._live(class_id)
        mine = [c for c, e in editors.items() if e.user_id == user_id]
        for connection_id in mine:
            editors[connection_id] = _renewed(editors[connection_id], self.ttl, cell)
        return bool(mine)

    async def leave(self, class_id: int, connection_id: str) -> None:
        self._live(class_id).pop(connection_id, None)

    async def editors(self, class_id: int) -> list[Editor]:
        return sorted(self._live(class_id).values(), key=lambda e: (e.name, e.connection_id))

    async def announce(self, class_id: int, editors: bytes) -> bool:
        last = self._announced.get(class_id)
        self._announced[class_id] = (editors, time.time() + self.ttl)
        return last is None or last[0] != editors or last[1] <= time.time()


class RedisPresence:
    def __init__(self, redis: aioredis.Redis, ttl: float = PRESENCE_TTL_SECONDS) -> None:
        self.redis = redis
        self.ttl = ttl

    @staticmethod
    def _key(class_id: int) -> str:
        return f"gradebook:{class_id}:editors"

    async def _write(self, entries: list[tuple[int, Editor]]) -> None:
        """Writes the (class id, editor) entries, renewing their hashes' TTL: one round trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for class_id, editor in entries:
                key = self._key(class_id)
                pipe.hset(key, editor.connection_id, editor.to_json())
                pipe.pexpire(key, int(self.ttl * 1000))
            await pipe.execute()

    async def join(self, class_id: int, connection_id: str, user_id: int, name: str) -> None:
        await self._write([(class_id, Editor(connection_id, user_id, name, None, time.time() + self.ttl))])

    async def heartbeat(self, entries: list[tuple[int, str]]) -> None:
        """Two round trips for all the entries: read them, write back those still there."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for class_id, connection_id in entries:
                pipe.hget(self._key(class_id), connection_id)
            found = await pipe.execute()
        await self._write(
            [
                (class_id, _renewed(Editor.from_json(connection_id, raw), self.ttl))
                for (class_id, connection_id), raw in zip(entries, found, strict=True)
                if raw is not None
            ]
        )

    async def focus(self, class_id: int, user_id: int, cell: tuple[int, int]) -> bool:
        mine = [editor for editor in await self.editors(class_id) if editor.user_id == user_id]
        await self._write([(class_id, _renewed(editor, self.ttl, cell)) for editor in mine])
        return bool(mine)

    async def leave(self, class_id: int, connection_id: str) -> None:
        await self.redis.hdel(self._key(class_id), connection_id)

    async def editors(self, class_id: int) -> list[Editor]:
        raw = await self.redis.hgetall(self._key(class_id))
        now = time.time()
        editors = [Editor.from_json(_text(field), value) for field, value in raw.items()]
        expired = [e.connection_id for e in editors if e.expires_at <= now]
        if expired:
            await self.redis.hdel(self._key(class_id), *expired)
        live = [e for e in editors if e.expires_at > now]
        return sorted(live, key=lambda e: (e.name, e.connection_id))

    async def announce(self, class_id: int, editors: bytes) -> bool:
        key = f"gradebook:{class_id}:announced-editors"
        last = await self.redis.set(key, editors, px=int(self.ttl * 1000), get=True)
        return bool(last != editors)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class PresenceKeeper:
    """Renews the presence of this process's editors: one task and one batch per heartbeat for
    all of them (two Redis round trips), not a task and two round trips per subscription."""

    def __init__(self, presence: Presence, every: float = HEARTBEAT_SECONDS) -> None:
        self.presence = presence
        self.every = every
        self._entries: set[tuple[int, str]] = set()
        self._task: asyncio.Task[None] | None = None

    def keep(self, class_id: int, connection_id: str) -> None:
        self._entries.add((class_id, connection_id))
        if self._task is None:
            self._task = asyncio.create_task(self._renew_forever(), name="presence-heartbeat")

    def drop(self, class_id: int, connection_id: str) -> None:
        self._entries.discard((class_id, connection_id))
        if not self._entries and self._task is not None:
            self._task.cancel()
            self._task = None

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            with contextlib.suppress(*CONNECTION_ERRORS):  # missed beats: the entries expire by TTL
                await self.presence.heartbeat(sorted(self._entries))
