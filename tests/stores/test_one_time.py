"""Single-use values (stores/one_time.py): taken once, gone after their time, in the process and in
Redis (where two processes' stores race for one token and exactly one gets it)."""

from __future__ import annotations

import asyncio

from redis import asyncio as aioredis

from stores.one_time import MemoryOneTimeStore, RedisOneTimeStore
from tests.stores.conftest import Clock


async def test_memory_values_are_taken_once_and_expire() -> None:
    clock = Clock()
    store = MemoryOneTimeStore(clock)
    token = await store.put("code", "user 1", 60)
    other = await store.put("code", "user 2", 60)
    assert token != other
    assert await store.take("state", token) is None, "a token of another kind"
    assert await store.take("code", token) == "user 1"
    assert await store.take("code", token) is None
    clock.now += 60
    assert await store.take("code", other) is None, "expired"


async def test_redis_values_are_taken_once_by_one_of_two_processes(
    redis_clients: tuple[aioredis.Redis, aioredis.Redis],
) -> None:
    first, second = (RedisOneTimeStore(client) for client in redis_clients)
    for _ in range(20):
        token = await first.put("code", "user 1", 60)
        taken = await asyncio.gather(first.take("code", token), second.take("code", token))
        assert sorted(map(str, taken)) == ["None", "user 1"]
    token = await first.put("state", "flow", 600)
    [key] = await redis_clients[0].keys("campusgraph-once:state:*")
    assert token.encode() not in key, "only the token's hash is a key"
    assert 590 < await redis_clients[0].ttl(key) <= 600
    assert await second.take("code", token) is None, "a token of another kind"
    assert await second.take("state", token) == "flow"
