"""Presence entries live while their process renews them, all in one batch, and expire after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis import asyncio as aioredis

from subscriptions.presence import MemoryPresence, Presence, PresenceKeeper, RedisPresence
from tests.conftest import ThrowawayRedis

TTL = 0.6  # renewed every TTL / 6: a beat may come late by most of the TTL and still count


@pytest.fixture(params=["memory", "redis"])
async def presence(
    request: pytest.FixtureRequest, throwaway_redis: ThrowawayRedis
) -> AsyncIterator[Presence]:
    if request.param == "memory":
        yield MemoryPresence(ttl=TTL)
        return
    redis = aioredis.Redis.from_url(throwaway_redis.url)
    yield RedisPresence(redis, ttl=TTL)
    await redis.aclose()


async def connections(presence: Presence, class_id: int) -> list[str]:
    return [editor.connection_id for editor in await presence.editors(class_id)]


async def test_kept_entries_outlive_their_ttl_and_dropped_ones_expire(presence: Presence) -> None:
    keeper = PresenceKeeper(presence, every=TTL / 6)
    for class_id, connection_id in [(1, "a"), (1, "b"), (2, "c")]:
        await presence.join(class_id, connection_id, user_id=7, name="Ada")
        keeper.keep(class_id, connection_id)
    await asyncio.sleep(TTL * 2.5)
    assert (await connections(presence, 1), await connections(presence, 2)) == (["a", "b"], ["c"])
    keeper.drop(1, "a")
    await asyncio.sleep(TTL * 2.5)
    assert (await connections(presence, 1), await connections(presence, 2)) == (["b"], ["c"])
    keeper.drop(1, "b")
    keeper.drop(2, "c")
    await asyncio.sleep(TTL * 2.5)  # nothing kept: the renewing task has stopped and all expire
    assert (await connections(presence, 1), await connections(presence, 2)) == ([], [])
