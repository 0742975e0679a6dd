"""Guesses at a secret (a password, a reset token, an invitation code), counted before they are
checked, so that guesses sent at once cannot outrun the limit.

The rate limiter (`stores/ratelimit.py`, the `limits` library) was asked whether one more
failure would fit, then the password was hashed (~50 ms), then the failure was counted: 100
guesses sent at once all passed the question before the first was counted, and the right
password among them was accepted. A guess must be counted *before* it is checked, and one that
turns out right must be given back, which `limits` cannot do; hence this store.

`reserve` counts one attempt, atomically, and refuses it when the window already holds the
limit; the `Attempt` it returns is given back (`give_back`) when the secret was right, and
left counted when it was wrong. In Redis (shared by every process) that is a Lua script of
INCR/DECR; in the process a dict read and written without an `await` in between. A window
opens with a subject's first attempt and lasts the rule's period (`10/15 minutes`: at most 10
in the 15 minutes after the first); a burst never straddles two windows, as it would with
windows aligned on the clock.

Like the rate limiter, an unreachable Redis lets attempts through (logged) rather than refusing
every sign-in: an outage of the limiter must not become an outage of the API.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from limits import parse
from redis import asyncio as aioredis

from stores.ratelimit import STORAGE_ERRORS

log = logging.getLogger(__name__)
KEY_PREFIX = "campusgraph-attempts"

# KEYS[1]: the window's counter. ARGV: the limit, the window's length in milliseconds.
_RESERVE = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if count > tonumber(ARGV[1]) then
  redis.call('DECR', KEYS[1])
  return 0
end
return 1
"""
_GIVE_BACK = """
local count = tonumber(redis.call('GET', KEYS[1]) or '0')
if count > 0 then redis.call('DECR', KEYS[1]) end
return count
"""


@dataclass(frozen=True)
class Attempt:
    """One counted attempt: the window counter it was counted in (None when not enforced)."""

    key: str | None


@dataclass(frozen=True)
class _Window:
    limit: int
    seconds: int


def _window(rule: str) -> _Window:
    item = parse(rule)
    return _Window(limit=item.amount, seconds=item.get_expiry())


def _key(rule: str, scope: str, subject: str) -> str:
    """Subjects (e-mail addresses, IPs) are hashed: a key listing must not hand them out."""
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}:{scope}:{rule}:{digest}"


class AttemptLimiter(Protocol):
    async def reserve(self, rule: str, scope: str, subject: str) -> Attempt | None:
        """Counts one attempt of `subject` under `rule` (e.g. "10/15 minutes"); None, and
        nothing counted, when the window is full."""
        ...

    async def give_back(self, attempt: Attempt) -> None:
        """Un-counts an attempt that turned out right."""
        ...

    async def forget(self, rule: str, scope: str, subject: str) -> None:
        """Forgets the subject's attempts in the current window (a right password clears them)."""
        ...


class RedisAttemptLimiter:
    def __init__(self, redis: aioredis.Redis) -> None:
        self._redis = redis
        self._reserve = redis.register_script(_RESERVE)
        self._give_back = redis.register_script(_GIVE_BACK)

    async def reserve(self, rule: str, scope: str, subject: str) -> Attempt | None:
        window, key = _window(rule), _key(rule, scope, subject)
        try:
            granted = await self._reserve(keys=[key], args=[window.limit, window.seconds * 1000])
        except STORAGE_ERRORS as error:
            log.warning("attempt limits not enforced, Redis is unreachable: %s", type(error).__name__)
            return Attempt(key=None)
        return Attempt(key=key) if int(granted) == 1 else None

    async def give_back(self, attempt: Attempt) -> None:
        if attempt.key is None:
            return
        try:
            await self._give_back(keys=[attempt.key])
        except STORAGE_ERRORS as error:
            log.warning("attempt not given back, Redis is unreachable: %s", type(error).__name__)

    async def forget(self, rule: str, scope: str, subject: str) -> None:
        try:
            await self._redis.delete(_key(rule, scope, subject))
        except STORAGE_ERRORS as error:
            log.warning("attempts not forgotten, Redis is unreachable: %s", type(error).__name__)


class MemoryAttemptLimiter:
    """The in-process twin: counters in a dict, expired windows swept out on each `reserve`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[float, int]] = {}  # key: (window end, count)

    async def reserve(self, rule: str, scope: str, subject: str) -> Attempt | None:
        window, now = _window(rule), self._clock()
        for stale in [key for key, (ends, _) in self._counts.items() if ends <= now]:
            del self._counts[stale]
        key = _key(rule, scope, subject)
        ends, count = self._counts.get(key, (now + window.seconds, 0))
        if count >= window.limit:
            return None
        self._counts[key] = (ends, count + 1)
        return Attempt(key=key)

    async def give_back(self, attempt: Attempt) -> None:
        if attempt.key is None or attempt.key not in self._counts:
            return
        ends, count = self._counts[attempt.key]
        self._counts[attempt.key] = (ends, max(count - 1, 0))

    async def forget(self, rule: str, scope: str, subject: str) -> None:
        self._counts.pop(_key(rule, scope, subject), None)
