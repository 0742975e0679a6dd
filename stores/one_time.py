"""Single-use values with a time to live: the SSO flow's state (10 minutes) and its one-time codes
(60 seconds).

`put` files a value under a new random token and hands the token out; `take` returns the value
once and forgets it, so of two processes presenting the same token at once exactly one gets it.
In Redis that is one GETDEL, atomic across processes; in the process, a dict read and deleted
without an `await` in between. Only the token's SHA-256 is used as the key: the tokens are
credentials for as long as they live, and a key listing must not hand them out.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from typing import Protocol

from redis import asyncio as aioredis

KEY_PREFIX = "campusgraph-once"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _key(kind: str, token: str) -> str:
    return f"{KEY_PREFIX}:{kind}:{hashlib.sha256(token.encode()).hexdigest()}"


class OneTimeStore(Protocol):
    async def put(self, kind: str, value: str, ttl_seconds: int) -> str:
        """Files `value` for `ttl_seconds`; the new token that takes it."""
        ...

    async def take(self, kind: str, token: str) -> str | None:
        """The value filed under `token`, once; None when unknown, taken or expired."""
        ...


class RedisOneTimeStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis

    async def put(self, kind: str, value: str, ttl_seconds: int) -> str:
        token = new_token()
        await self._redis.set(_key(kind, token), value, ex=ttl_seconds)
        return token

    async def take(self, kind: str, token: str) -> str | None:
        value: bytes | str | None = await self._redis.getdel(_key(kind, token))
        return value.decode() if isinstance(value, bytes) else value


class MemoryOneTimeStore:
    """The in-process twin: one dict, expired entries swept out on each `put`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._values: dict[str, tuple[float, str]] = {}

    async def put(self, kind: str, value: str, ttl_seconds: int) -> str:
        now = self._clock()
        for key in [key for key, (expires, _) in self._values.items() if expires <= now]:
            del self._values[key]
        token = new_token()
        self._values[_key(kind, token)] = (now + ttl_seconds, value)
        return token

    async def take(self, kind: str, token: str) -> str | None:
        entry = self._values.pop(_key(kind, token), None)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]
