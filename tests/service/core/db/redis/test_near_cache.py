"""The near cache against a real, private Redis: what it holds, serves locally and drops."""

from __future__ import annotations

import asyncio

import pytest

from service.core.db.redis.near_cache import RedisNearCache
from tests.service.core.db.redis.near_cache_harness import (
    PING,
    WITHIN,
    Harness,
    stop_within,
    until,
)


async def test_a_second_read_of_tracked_keys_is_served_locally(harness: Harness) -> None:
    cache = await harness.live_cache()
    token, user, absent = harness.tracked + "a", harness.also_tracked + "b", harness.tracked + "z"
    await harness.other.mset({token: b"1", user: b"2"})

    keys = [token, user, absent]
    assert await harness.read_through(cache, keys) == [b"1", b"2", None]
    assert cache.size == 3  # an absent key is held too (as None)
    for _ in range(3):
        assert await harness.read_locally(cache, keys) == [b"1", b"2", None]
        assert await harness.read_locally(cache, [absent, token, token]) == [None, b"1", b"1"]


async def test_keys_outside_the_tracked_prefixes_are_never_held(harness: Harness) -> None:
    cache = await harness.live_cache()
    held, other = harness.tracked + "a", harness.untracked + "a"
    await harness.other.mset({held: b"held", other: b"not held"})

    for _ in range(3):
        assert await harness.read_through(cache, [other]) == [b"not held"]
    assert cache.size == 0

    assert await harness.read_through(cache, [held, other]) == [b"held", b"not held"]
    assert cache.size == 1
    # the next mixed read asks Redis for the untracked key only
    found = await harness.keys_found()
    assert await harness.read_through(cache, [held, other]) == [b"held", b"not held"]
    assert await harness.keys_found() == found + 1
    await harness.other.set(other, b"changed")
    assert await harness.read_through(cache, [other, held]) == [b"changed", b"held"]


@pytest.mark.parametrize("change", ["set", "delete", "expire", "set absent"])
async def test_a_change_by_another_client_is_seen_once_its_invalidation_arrives(
    harness: Harness, change: str
) -> None:
    cache = await harness.live_cache()
    key = harness.tracked + "k"
    expected: bytes | None
    if change == "set absent":
        before, expected = None, b"new"
    elif change == "expire":
        before, expected = b"old", None
        await harness.other.set(key, before, px=500)
    else:
        before, expected = b"old", (b"new" if change == "set" else None)
        await harness.other.set(key, before)
    assert await harness.read_through(cache, [key]) == [before]
    assert await harness.read_locally(cache, [key]) == [before]

    if change in ("set", "set absent"):
        await harness.other.set(key, b"new")
    elif change == "delete":
        await harness.other.delete(key)

    async def seen() -> bool:
        return await cache.mget([key]) == [expected]

    await until(seen)
    # and the new state is held again
    assert await harness.read_locally(cache, [key]) == [expected]


async def test_flushdb_drops_everything(harness: Harness) -> None:
    cache = await harness.live_cache()
    keys = [harness.tracked + "a", harness.also_tracked + "b"]
    await harness.other.mset(dict.fromkeys(keys, b"v"))
    assert await harness.read_through(cache, keys) == [b"v", b"v"]
    assert cache.size == 2

    await harness.other.flushdb()

    async def dropped() -> bool:
        return cache.size == 0

    await until(dropped)
    assert await harness.read_through(cache, keys) == [None, None]


async def test_forget_drops_keys_at_once(harness: Harness) -> None:
    cache = await harness.live_cache()
    kept, forgotten = harness.tracked + "kept", harness.tracked + "forgotten"
    await harness.other.mset({kept: b"1", forgotten: b"2"})
    assert await harness.read_through(cache, [kept, forgotten]) == [b"1", b"2"]

    # no await in between: nothing could have arrived from Redis
    cache.forget([forgotten, harness.tracked + "never read", harness.untracked + "x"])
    assert cache.size == 1

    assert await harness.read_locally(cache, [kept]) == [b"1"]
    assert await harness.read_through(cache, [forgotten]) == [b"2"]
    assert await harness.read_locally(cache, [forgotten, kept]) == [b"2", b"1"]


@pytest.mark.parametrize("disruption", ["none", "write by another client", "forget", "flushdb"])
async def test_an_invalidation_during_a_read_in_flight_wins(
    harness: Harness, disruption: str
) -> None:
    gated = harness.gated()
    cache = harness.cache(redis=gated)
    await cache.start()
    assert await cache.wait_live(WITHIN)
    key, marker = harness.tracked + "k", harness.tracked + "marker"
    await harness.other.mset({key: b"old", marker: b"m1"})
    # the marker is held: once its invalidation is seen, the key's (sent before it) was handled
    assert await harness.read_through(cache, [marker]) == [b"m1"]

    release = gated.arm()
    read = asyncio.create_task(cache.mget([key]))
    await asyncio.wait_for(gated.answered.wait(), WITHIN)  # Redis answered b"old"; held here

    if disruption == "write by another client":
        await harness.other.set(key, b"new")
        await harness.other.set(marker, b"m2")

        async def key_invalidated() -> bool:
            return await cache.mget([marker]) == [b"m2"]

        await until(key_invalidated)
    elif disruption == "forget":
        cache.forget([key])
    elif disruption == "flushdb":
        await harness.other.flushdb()
        await harness.other.set(key, b"new")

        async def flushed() -> bool:
            return cache.size == 0

        await until(flushed)

    release.set()
    assert await asyncio.wait_for(read, WITHIN) == [b"old"]  # the answer of that read stands
    if disruption == "none":
        assert await harness.read_locally(cache, [key]) == [b"old"]
    else:
        # ... but it was not stored: the next read goes to Redis and sees the change
        expected = b"old" if disruption == "forget" else b"new"
        assert await harness.read_through(cache, [key]) == [expected]
        assert await harness.read_locally(cache, [key]) == [expected]


async def test_nothing_is_held_before_start_or_after_stop(harness: Harness) -> None:
    cache = harness.cache()
    key = harness.tracked + "k"
    await harness.other.set(key, b"1")
    assert cache.enabled
    assert not cache.live
    for _ in range(2):
        assert await harness.read_through(cache, [key]) == [b"1"]
    assert cache.size == 0

    await cache.start()
    assert await cache.wait_live(WITHIN)
    await harness.read_through(cache, [key])
    assert await harness.read_locally(cache, [key]) == [b"1"]

    assert await stop_within(cache, WITHIN)
    assert not cache.live
    assert cache.size == 0
    await harness.other.set(key, b"2")
    for _ in range(2):
        assert await harness.read_through(cache, [key]) == [b"2"]
    assert cache.size == 0
    assert not await cache.wait_live(3 * PING)

    await cache.start()  # and it can be started again
    assert await cache.wait_live(WITHIN)
    await harness.read_through(cache, [key])
    assert await harness.read_locally(cache, [key]) == [b"2"]


async def test_a_cache_without_listener_or_room_reads_through(harness: Harness) -> None:
    key = harness.tracked + "k"
    await harness.other.set(key, b"1")
    no_listener = RedisNearCache(harness.redis, [harness.tracked], ping_interval=PING)
    no_room = harness.cache(max_entries=0)
    for cache in (no_listener, no_room):
        await cache.start()
        assert not cache.enabled
        assert not await cache.wait_live(WITHIN)
        for _ in range(2):
            assert await harness.read_through(cache, [key]) == [b"1"]
        assert await stop_within(cache, WITHIN)


async def test_a_cache_needs_a_prefix(harness: Harness) -> None:
    with pytest.raises(ValueError, match="prefix"):
        RedisNearCache(harness.redis, [], listener_factory=harness.listener)
