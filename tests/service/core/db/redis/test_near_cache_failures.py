"""The near cache against a real, private Redis when things go wrong: a killed listener, Redis
down or unresponsive, a stalled loop, bounds, undecodable keys and racing reads."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, KeysT

from scripts.stack import HOST
from service.core.db.redis.near_cache import build_near_cache
from service.core.db.redis.redis_client import build_redis_client
from tests.service.core.db.redis.near_cache_harness import (
    PING,
    WITHIN,
    Harness,
    stop_within,
    until,
)


async def kill_by_type(other: Redis) -> None:
    assert await other.client_kill_filter(_type="pubsub") == 1


async def kill_by_id(other: Redis) -> None:
    listeners = await other.client_list(_type="pubsub")
    assert len(listeners) == 1
    assert await other.client_kill_filter(_id=listeners[0]["id"]) == 1


@pytest.mark.parametrize(
    ("listener", "kill"),
    [
        ("tracking listener", kill_by_type),
        ("tracking listener", kill_by_id),
        # redis-py heals this one's connection itself (reconnects and subscribes again, without
        # the tracking): the cache must notice anyway
        ("self-healing RESP2 client", kill_by_type),
    ],
)
async def test_a_killed_listener_drops_everything_until_it_is_live_again(
    harness: Harness, listener: str, kill: Callable[[Redis], Awaitable[None]]
) -> None:
    def self_healing() -> Redis:
        return Redis(host=HOST, port=harness.server.port, protocol=2)  # retries by default

    cache = harness.cache(
        listener_factory=self_healing if listener == "self-healing RESP2 client" else None,
        reconnect_delay=0.5,  # a blind window long enough to read in
    )
    await cache.start()
    assert await cache.wait_live(WITHIN)
    key = harness.tracked + "k"
    await harness.other.set(key, b"old")
    await harness.read_through(cache, [key])
    assert await harness.read_locally(cache, [key]) == [b"old"]

    await kill(harness.other)

    async def blind() -> bool:
        return not cache.live and cache.size == 0

    await until(blind, within=5.0)
    # while blind: nothing is held, every read goes to Redis
    await harness.other.set(key, b"new")
    for _ in range(2):
        assert await harness.read_through(cache, [key]) == [b"new"]
    assert cache.size == 0

    assert await cache.wait_live(5.0)
    assert await harness.read_through(cache, [key]) == [b"new"]
    assert await harness.read_locally(cache, [key]) == [b"new"]
    # invalidations flow again on the new connection
    await harness.other.set(key, b"newer")

    async def seen() -> bool:
        return await cache.mget([key]) == [b"newer"]

    await until(seen)


async def test_redis_down_fails_closed_and_the_cache_recovers_after_a_restart(
    harness: Harness,
) -> None:
    cache = await harness.live_cache()
    key = harness.tracked + "k"
    await harness.other.set(key, b"held")
    await harness.read_through(cache, [key])
    assert await harness.read_locally(cache, [key]) == [b"held"]

    harness.server.stop()

    async def blind() -> bool:
        return not cache.live and cache.size == 0

    await until(blind)
    for keys in ([key], [key, harness.untracked + "x"]):
        with pytest.raises(RedisConnectionError):
            await cache.mget(keys)
    await asyncio.sleep(3 * PING)  # the listener keeps trying; still blind, still failing
    assert not cache.live
    with pytest.raises(RedisConnectionError):
        await cache.mget([key])

    harness.server.restart()  # same port, empty (no persistence)
    assert await cache.wait_live(5.0)
    assert await harness.read_through(cache, [key]) == [None]
    assert await harness.read_locally(cache, [key]) == [None]
    await harness.other.set(key, b"after")

    async def seen() -> bool:
        return await cache.mget([key]) == [b"after"]

    await until(seen)
    assert await harness.read_locally(cache, [key]) == [b"after"]


async def test_an_unresponsive_redis_makes_the_cache_blind_and_reads_fail_closed(
    harness: Harness,
) -> None:
    """Redis frozen (SIGSTOP): the connections stay open, nothing answers."""
    impatient = build_redis_client(
        harness.settings.model_copy(update={"redis_timeout_seconds": 0.3})
    )
    harness.clients.append(impatient)
    cache = harness.cache(redis=impatient)
    await cache.start()
    assert await cache.wait_live(WITHIN)
    key = harness.tracked + "k"
    await harness.other.set(key, b"held")
    await harness.read_through(cache, [key])
    assert await harness.read_locally(cache, [key]) == [b"held"]

    pid = harness.server.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:

        async def blind() -> bool:
            return not cache.live

        await until(blind, within=4 * PING + 0.5)

        async def dropped() -> bool:  # the listener gives up at its next turn
            return cache.size == 0

        await until(dropped, within=2 * PING + 0.5)
        assert not cache.live
        with pytest.raises((RedisTimeoutError, RedisConnectionError)):
            await cache.mget([key])
    finally:
        os.kill(pid, signal.SIGCONT)
    assert await cache.wait_live(5.0)
    await harness.read_through(cache, [key])
    assert await harness.read_locally(cache, [key]) == [b"held"]


async def test_after_an_event_loop_stall_held_values_are_not_trusted(harness: Harness) -> None:
    """Invalidations may be waiting unread in the listener's socket after the loop was blocked:
    a read before the listener has caught up goes to Redis."""
    cache = await harness.live_cache()
    key = harness.tracked + "k"
    await harness.other.set(key, b"old")
    await harness.read_through(cache, [key])
    assert await harness.read_locally(cache, [key]) == [b"old"]

    # Blocking calls on purpose: the listener cannot run until the read below awaits.
    with SyncRedis(host=HOST, port=harness.server.port) as blocking:
        blocking.set(key, b"new")
        time.sleep(4 * PING)  # noqa: ASYNC251
        assert not cache.live
        calls = int(blocking.info("commandstats")["cmdstat_mget"]["calls"])
        assert await cache.mget([key]) == [b"new"]
    assert await harness.mget_calls() == calls + 1
    # the listener was not lost, only late: it catches up and the cache is live again
    assert await cache.wait_live(WITHIN)
    await harness.read_through(cache, [key])
    assert await harness.read_locally(cache, [key]) == [b"new"]


async def test_max_entries_bounds_the_table_oldest_out(harness: Harness) -> None:
    cache = await harness.live_cache(max_entries=3)
    keys = [f"{harness.tracked}{i}" for i in range(5)]
    await harness.other.mset({key: key.encode() for key in keys})

    for key in keys:
        await harness.read_through(cache, [key])
    assert cache.size == 3
    assert await harness.read_locally(cache, keys[2:]) == [k.encode() for k in keys[2:]]
    assert await harness.read_through(cache, [keys[0]]) == [keys[0].encode()]  # was out
    # reading keys[0] again put it in and pushed out the oldest held, keys[2]
    assert cache.size == 3
    assert await harness.read_locally(cache, [keys[0], keys[3], keys[4]]) == [
        keys[0].encode(),
        keys[3].encode(),
        keys[4].encode(),
    ]
    assert await harness.read_through(cache, [keys[2]]) == [keys[2].encode()]

    # one read of more keys than fit keeps its last ones
    wide = harness.cache(max_entries=2)
    await wide.start()
    assert await wide.wait_live(WITHIN)
    await harness.read_through(wide, keys)
    assert wide.size == 2
    assert await harness.read_locally(wide, keys[3:]) == [k.encode() for k in keys[3:]]


async def test_max_age_ages_entries_out(harness: Harness) -> None:
    cache = await harness.live_cache(max_age_seconds=0.2)
    key = harness.tracked + "k"
    await harness.other.set(key, b"v")
    await harness.read_through(cache, [key])
    assert await harness.read_locally(cache, [key]) == [b"v"]

    await asyncio.sleep(0.3)
    assert cache.live  # not a lapse of the listener: the entry itself aged out
    assert await harness.read_through(cache, [key]) == [b"v"]
    assert await harness.read_locally(cache, [key]) == [b"v"]


async def test_build_near_cache_takes_its_bounds_from_the_settings(harness: Harness) -> None:
    settings = harness.settings.model_copy(
        update={"redis_near_cache_max_entries": 2, "redis_near_cache_max_age_seconds": 0.2}
    )
    cache = build_near_cache(harness.redis, settings, [harness.tracked])
    harness.caches.append(cache)
    await cache.start()
    assert await cache.wait_live(5.0)
    keys = [f"{harness.tracked}{i}" for i in range(3)]
    await harness.other.mset(dict.fromkeys(keys, b"v"))
    await harness.read_through(cache, keys)
    assert cache.size == 2
    assert await harness.read_locally(cache, keys[1:]) == [b"v", b"v"]
    await asyncio.sleep(0.3)
    await harness.read_through(cache, keys[1:])

    # the listener uses the settings' Redis: a change there is seen
    await harness.other.set(keys[1], b"changed")

    async def seen() -> bool:
        return await cache.mget([keys[1]]) == [b"changed"]

    await until(seen)

    off = build_near_cache(
        harness.redis, settings.model_copy(update={"redis_near_cache_max_entries": 0}), ["x"]
    )
    assert not off.enabled


async def test_a_key_name_that_is_not_utf8_does_not_end_the_listener(harness: Harness) -> None:
    cache = await harness.live_cache()
    harness.caches.remove(cache)  # stopped below, where its error belongs to this test
    key = harness.tracked + "k"
    try:
        await harness.other.set(key, b"old")
        await harness.read_through(cache, [key])
        assert await harness.read_locally(cache, [key]) == [b"old"]

        await harness.other.set(harness.tracked.encode() + b"\xff", b"binary name")
        await harness.other.set(key, b"new")  # its invalidation follows the one above

        async def seen() -> bool:
            return await cache.mget([key]) == [b"new"]

        await until(seen)
        assert await cache.wait_live(WITHIN)
        # The listener still works: the value is held, and a later write still reaches it.
        assert await harness.read_locally(cache, [key]) == [b"new"]
        await harness.other.set(key, b"newer")

        async def seen_again() -> bool:
            return await cache.mget([key]) == [b"newer"]

        await until(seen_again)
    finally:
        await cache.stop()


async def test_stop_ends_the_listener_whenever_it_is_called(harness: Harness) -> None:
    # A listener that pings all the time is in `ping()` often: stop() lands there soon.
    for trial in range(20):
        cache = harness.cache(ping_interval=0.001)
        await cache.start()
        await cache.wait_live(1.0)
        await asyncio.sleep(trial * 0.0005)
        assert await stop_within(cache, 1.0), f"stop() did not return (try {trial + 1})"
        assert not cache.live


class TwoGatedRedis(Redis):
    """A real client whose MGETs are each held, after Redis answered, until their own release."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.gates: list[asyncio.Event] = []
        self.answered: list[asyncio.Event] = []

    async def mget(self, keys: KeysT, *args: EncodableT) -> list[bytes | str | None]:
        gate, answered = asyncio.Event(), asyncio.Event()
        self.gates.append(gate)
        self.answered.append(answered)
        values = await super().mget(keys, *args)
        answered.set()
        await gate.wait()
        return values


async def test_overlapping_reads_of_a_key_still_store_it(harness: Harness) -> None:
    """Under steady load reads of a hot key overlap all the time: the first to finish stores
    it, whatever reads started after it (they must not take its placeholder away)."""
    gated = TwoGatedRedis(host=HOST, port=harness.server.port)
    harness.clients.append(gated)
    cache = harness.cache(redis=gated)
    await cache.start()
    assert await cache.wait_live(WITHIN)
    key = harness.tracked + "hot"
    await harness.other.set(key, b"v")

    first = asyncio.ensure_future(cache.mget([key]))
    await until_set(gated, 0)
    second = asyncio.ensure_future(cache.mget([key]))
    await until_set(gated, 1)
    gated.gates[0].set()
    assert await first == [b"v"]
    assert cache.size == 1  # held, though the second read is still in flight

    gated.gates[1].set()
    assert await second == [b"v"]
    before = await harness.mget_calls()
    gated_calls = len(gated.gates)
    assert await cache.mget([key]) == [b"v"]
    assert (await harness.mget_calls(), len(gated.gates)) == (before, gated_calls)


async def until_set(client: TwoGatedRedis, index: int) -> None:
    async def answered() -> bool:
        return len(client.answered) > index and client.answered[index].is_set()

    await until(answered)
