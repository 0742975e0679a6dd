"""Guesses counted before they are checked (stores/attempts.py): of attempts made at once, no more
than the limit get through, in the process and in Redis shared by two processes; a right guess
is given back; a window lasts the rule's period from the first attempt."""

from __future__ import annotations

import asyncio

from redis import asyncio as aioredis

from stores.attempts import Attempt, AttemptLimiter, MemoryAttemptLimiter, RedisAttemptLimiter
from tests.stores.conftest import Clock

RULE = "10/15 minutes"


async def granted(
    limiters: list[AttemptLimiter], count: int, subject: str = "ada@north.test"
) -> list[Attempt]:
    answers = await asyncio.gather(
        *(limiters[n % len(limiters)].reserve(RULE, "login-account", subject) for n in range(count))
    )
    return [answer for answer in answers if answer is not None]


async def give_back_and_forget(limiter: AttemptLimiter) -> None:
    attempts = await granted([limiter], 10)
    assert await limiter.reserve(RULE, "login-account", "ada@north.test") is None
    assert await limiter.reserve(RULE, "login-ip", "ada@north.test") is not None, "another scope"
    assert await limiter.reserve(RULE, "login-account", "bob@north.test") is not None, "another subject"
    await limiter.give_back(attempts[0])
    assert await limiter.reserve(RULE, "login-account", "ada@north.test") is not None, "given back"
    assert await limiter.reserve(RULE, "login-account", "ada@north.test") is None
    await limiter.forget(RULE, "login-account", "ada@north.test")
    assert len(await granted([limiter], 12)) == 10, "forgotten, then counted again"


async def test_in_the_process_no_more_than_the_limit_of_attempts_made_at_once_get_through() -> None:
    clock = Clock()
    limiter = MemoryAttemptLimiter(clock)
    assert len(await granted([limiter], 100)) == 10
    clock.now += 15 * 60 - 1
    assert await limiter.reserve(RULE, "login-account", "ada@north.test") is None, "the window lasts"
    clock.now += 1
    assert len(await granted([limiter], 12)) == 10, "a window from the first attempt after it"
    await give_back_and_forget(MemoryAttemptLimiter(clock))


async def test_in_redis_two_processes_share_the_limit(
    redis_clients: tuple[aioredis.Redis, aioredis.Redis],
) -> None:
    limiters: list[AttemptLimiter] = [RedisAttemptLimiter(client) for client in redis_clients]
    assert len(await granted(limiters, 100)) == 10
    keys = await redis_clients[0].keys("campusgraph-attempts:*")
    assert len(keys) == 1, "one window per subject"
    assert b"ada" not in keys[0], "subjects are hashed in the keys"
    assert 15 * 60 * 1000 - 5_000 < await redis_clients[0].pttl(keys[0]) <= 15 * 60 * 1000
    await redis_clients[0].delete(*keys)
    await give_back_and_forget(limiters[1])


async def test_an_unreachable_redis_lets_attempts_through() -> None:
    unreachable = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    limiter = RedisAttemptLimiter(unreachable)
    attempt = await limiter.reserve(RULE, "login-account", "ada@north.test")
    assert attempt == Attempt(key=None)
    await limiter.give_back(attempt)
    await limiter.forget(RULE, "login-account", "ada@north.test")
    await unreachable.aclose()
