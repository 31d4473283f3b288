"""The near cache against a real, private Redis (one per test: these tests kill its connections,
flush it, stop and restart it).

Whether a read was served locally or went to Redis is read from the server itself:
`INFO commandstats` counts the MGET calls it answered, `INFO stats` the keys they found.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, KeysT

from scripts.stack import HOST, ManagedProcess, free_port, start_redis
from service.core.config import Settings
from service.core.db.redis.near_cache import RedisNearCache, build_near_cache
from service.core.db.redis.redis_client import build_redis_client
from tests.conftest import make_test_settings

PING = 0.1  # the listener's ping interval in these tests: blind after 0.3 s of silence
WITHIN = 2.0  # bound for anything that waits on a message from Redis (normally milliseconds)


async def until(check: Callable[[], Awaitable[bool]], within: float = WITHIN) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, f"not within {within}s"
        await asyncio.sleep(0.01)


async def stop_within(cache: RedisNearCache, seconds: float) -> bool:
    """`cache.stop()`, bounded: whether it returned by itself. If it did not (see
    test_stop_ends_the_listener_whenever_it_is_called), the listener is cancelled until it ends,
    so that the run goes on."""
    task = cache._task
    stopping = asyncio.ensure_future(cache.stop())
    done, _ = await asyncio.wait({stopping}, timeout=seconds)
    stopped_by_itself = bool(done)
    while not done and task is not None:
        task.cancel()
        done, _ = await asyncio.wait({stopping}, timeout=0.05)
    await stopping
    return stopped_by_itself


class GatedRedis(Redis):
    """A real client whose next MGET, once armed, holds its answer until released.

    Redis has answered that read (`answered` is set) when it is held: the test changes the key
    meanwhile, so the read returns the value from before the change, as a read overtaken by a
    write does.
    """

    _gate: asyncio.Event | None = None
    answered: asyncio.Event

    def arm(self) -> asyncio.Event:
        self._gate = asyncio.Event()
        self.answered = asyncio.Event()
        return self._gate

    async def mget(self, keys: KeysT, *args: EncodableT) -> list[bytes | str | None]:
        values = await super().mget(keys, *args)
        gate, self._gate = self._gate, None
        if gate is not None:
            self.answered.set()
            await gate.wait()
        return values


@dataclass
class Harness:
    server: ManagedProcess
    settings: Settings
    redis: Redis  # the client the caches read with
    other: Redis  # another client: writes, INFO, CLIENT KILL
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    caches: list[RedisNearCache] = field(default_factory=list)
    clients: list[Redis] = field(default_factory=list)

    @property
    def tracked(self) -> str:
        return f"{self.run}:tok:"

    @property
    def also_tracked(self) -> str:
        return f"{self.run}:usr:"

    @property
    def untracked(self) -> str:
        return f"{self.run}:other:"

    def listener(self) -> Redis:
        return build_redis_client(self.settings, tracking_listener=True)

    def cache(
        self,
        *,
        redis: Redis | None = None,
        listener_factory: Callable[[], Redis] | None = None,
        **options: Any,
    ) -> RedisNearCache:
        options.setdefault("ping_interval", PING)
        options.setdefault("reconnect_delay", 0.05)
        cache = RedisNearCache(
            redis if redis is not None else self.redis,
            [self.tracked, self.also_tracked],
            listener_factory=listener_factory or self.listener,
            **options,
        )
        self.caches.append(cache)
        return cache

    async def live_cache(self, **options: Any) -> RedisNearCache:
        cache = self.cache(**options)
        await cache.start()
        assert await cache.wait_live(WITHIN)
        return cache

    def gated(self) -> GatedRedis:
        client = GatedRedis(host=HOST, port=self.server.port)
        self.clients.append(client)
        return client

    async def mget_calls(self) -> int:
        stats = await self.other.info("commandstats")
        return int(stats.get("cmdstat_mget", {}).get("calls", 0))

    async def keys_found(self) -> int:
        return int((await self.other.info("stats"))["keyspace_hits"])

    async def read_through(self, cache: RedisNearCache, keys: list[str]) -> list[Any]:
        """Read via the cache and assert that the read went to Redis."""
        before = await self.mget_calls()
        values = await cache.mget(keys)
        assert await self.mget_calls() == before + 1, f"{keys} were served locally"
        return values

    async def read_locally(self, cache: RedisNearCache, keys: list[str]) -> list[Any]:
        """Read via the cache and assert that Redis was not asked."""
        before = await self.mget_calls()
        values = await cache.mget(keys)
        assert await self.mget_calls() == before, f"{keys} were read from Redis"
        return values


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[ManagedProcess]:
    server = start_redis(free_port(), tmp_path)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def harness(
    private_redis: ManagedProcess, stack_env: dict[str, str], run_id: str
) -> AsyncIterator[Harness]:
    settings = make_test_settings(stack_env, run_id, redis_url=private_redis.url)
    harness = Harness(
        private_redis,
        settings,
        build_redis_client(settings),
        Redis(host=HOST, port=private_redis.port),
    )
    try:
        yield harness
    finally:
        for cache in harness.caches:
            await stop_within(cache, WITHIN)
        if private_redis.is_running():
            async for key in harness.other.scan_iter(match=f"{harness.run}:*"):
                await harness.other.delete(key)
        for client in [harness.redis, harness.other, *harness.clients]:
            await client.aclose()


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
