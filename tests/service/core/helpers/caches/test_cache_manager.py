"""The tagged cache against the real Redis, and against a Redis that is stopped."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from scripts.stack import free_port, start_redis
from service.core.helpers.caches import (
    CacheManager,
    FunctionKeyMaker,
    RedisCacheBackend,
)


class Source:
    """Counts how often the cached function really ran, per argument value."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []
        self.version = 1

    async def read(self, user_id: str, page: int) -> dict[str, object]:
        self.calls.append((user_id, page))
        return {"user": user_id, "page": page, "version": self.version}


@pytest.fixture
async def redis(stack_env: dict[str, str]) -> AsyncIterator[Redis]:
    client = Redis.from_url(stack_env["REDIS_URL"])
    yield client
    await client.aclose()


def make_cached(manager: CacheManager, source: Source):  # type: ignore[no-untyped-def]
    @manager.cached(ttl=60, tags=["user:{user_id}"])
    async def read(user_id: str, page: int = 1) -> dict[str, object]:
        return await source.read(user_id, page)

    return read


@pytest.fixture
def manager(redis: Redis) -> CacheManager:
    return CacheManager(
        RedisCacheBackend(redis, prefix=f"test:{uuid.uuid4().hex}"),
        FunctionKeyMaker(prefix=f"test:{uuid.uuid4().hex}"),
    )


async def test_a_repeated_call_is_served_from_the_cache(manager: CacheManager) -> None:
    source = Source()
    read = make_cached(manager, source)
    assert await read("a", 1) == await read("a", 1)
    assert source.calls == [("a", 1)]


async def test_calls_with_different_argument_values_never_share_a_key(
    manager: CacheManager,
) -> None:
    source = Source()
    read = make_cached(manager, source)
    results = [await read(user, page) for user in ("a", "b") for page in (1, 2)]
    assert [(r["user"], r["page"]) for r in results] == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
    assert len(source.calls) == 4
    # keyword and positional spellings of one call are one key
    await read(user_id="a", page=2)
    assert len(source.calls) == 4


async def test_invalidating_a_tag_drops_every_entry_under_it_and_only_those(
    manager: CacheManager,
) -> None:
    source = Source()
    read = make_cached(manager, source)
    for page in (1, 2, 3):
        await read("a", page)
    await read("b", 1)
    source.version = 2
    await manager.invalidate("user:a")
    assert [(await read("a", page))["version"] for page in (1, 2, 3)] == [2, 2, 2]
    assert (await read("b", 1))["version"] == 1  # another tag is untouched


async def test_a_value_stored_from_a_read_that_raced_an_invalidation_is_never_served(
    manager: CacheManager,
) -> None:
    source = Source()

    @manager.cached(ttl=60, tags=["user:{user_id}"])
    async def read(user_id: str) -> dict[str, object]:
        value = await source.read(user_id, 1)
        # a writer changes the data and invalidates while this read is still in flight
        source.version += 1
        await manager.invalidate(f"user:{user_id}")
        return value

    stale = await read("a")
    fresh = await read("a")
    assert fresh["version"] != stale["version"]


async def test_with_redis_stopped_a_cached_function_returns_the_source_value(
    tmp_path: Path,
) -> None:
    private = start_redis(free_port(), tmp_path)
    client = Redis.from_url(private.url, socket_connect_timeout=0.5, socket_timeout=0.5)
    try:
        manager = CacheManager(RedisCacheBackend(client, prefix="outage"))
        source = Source()
        read = make_cached(manager, source)
        await read("a", 1)
        private.stop()
        source.version = 2
        assert (await read("a", 1))["version"] == 2
        await manager.invalidate("user:a")  # logged, not raised
    finally:
        await client.aclose()
        private.stop()


def test_arguments_that_have_no_stable_value_are_refused() -> None:
    maker = FunctionKeyMaker()
    with pytest.raises(TypeError, match="object"):
        maker.make(test_arguments_that_have_no_stable_value_are_refused, {"x": object()})


def test_keys_differ_by_function_and_by_value() -> None:
    maker = FunctionKeyMaker(prefix="p")

    def one() -> None: ...

    def two() -> None: ...

    assert maker.make(one, {"a": 1}) != maker.make(two, {"a": 1})
    assert maker.make(one, {"a": 1}) != maker.make(one, {"a": "1"})
    assert maker.make(one, {"a": 1, "b": 2}) == maker.make(one, {"b": 2, "a": 1})


async def test_two_managers_on_one_redis_share_entries_and_invalidations(redis: Redis) -> None:
    """Two processes (API and CLI, API and worker), each with its own container and manager on
    the same cache: what one invalidates the other no longer serves."""
    prefix = f"test:{uuid.uuid4().hex}"

    def manager() -> CacheManager:
        return CacheManager(
            RedisCacheBackend(redis, prefix=prefix), FunctionKeyMaker(prefix=f"{prefix}:entry")
        )

    api, cli = manager(), manager()
    source = Source()
    api_read, cli_read = make_cached(api, source), make_cached(cli, source)
    await api_read("a", 1)
    await cli_read("a", 1)
    assert len(source.calls) == 1  # the same entry
    await cli.invalidate("user:a")
    await api_read("a", 1)
    assert len(source.calls) == 2


async def test_each_manager_names_its_entries_with_its_own_key_maker(redis: Redis) -> None:
    """Apps with different key prefixes on one Redis do not read each other's entries."""
    first_prefix, second_prefix = (f"test:{uuid.uuid4().hex}" for _ in range(2))
    source = Source()
    first = make_cached(
        CacheManager(
            RedisCacheBackend(redis, prefix=first_prefix),
            FunctionKeyMaker(prefix=f"{first_prefix}:entry"),
        ),
        source,
    )
    second = make_cached(
        CacheManager(
            RedisCacheBackend(redis, prefix=second_prefix),
            FunctionKeyMaker(prefix=f"{second_prefix}:entry"),
        ),
        source,
    )
    await first("a", 1)
    await second("a", 1)
    assert len(source.calls) == 2
    assert [k async for k in redis.scan_iter(match=f"{second_prefix}:entry*")]
    await first("a", 1)
    assert len(source.calls) == 2


async def test_an_evicted_tag_stamp_never_brings_a_stale_entry_back(redis: Redis) -> None:
    """The cache's Redis evicts (allkeys-lru): a tag's stamp can vanish while entries remain.
    An entry stored before the tag's first invalidation used to record the missing stamp, so
    when the invalidation's stamp was evicted later, the stale entry matched again."""
    prefix = f"test:{uuid.uuid4().hex}"
    backend = RedisCacheBackend(redis, prefix=prefix)
    tags = ["user:a"]
    key = f"{prefix}:entry:a"
    first = await backend.lookup(key, tags)
    assert not first.hit
    await backend.store(key, "old", ttl=60, tags=tags, stamp=first.stamp)
    assert (await backend.lookup(key, tags)).value == "old"
    await backend.invalidate_tags(*tags)
    assert not (await backend.lookup(key, tags)).hit
    await redis.delete(f"{prefix}:tag:user:a")  # what eviction does to the stamp
    assert not (await backend.lookup(key, tags)).hit


async def test_a_store_after_a_missing_stamp_loses_to_an_invalidation(redis: Redis) -> None:
    """A lookup that found a stamp missing may not store under a stamp that appeared since:
    that stamp is an invalidation the value read from the source may predate."""
    prefix = f"test:{uuid.uuid4().hex}"
    backend = RedisCacheBackend(redis, prefix=prefix)
    tags = ["user:b"]
    key = f"{prefix}:entry:b"
    miss = await backend.lookup(key, tags)
    await backend.invalidate_tags(*tags)  # between the read of the source and the store
    await backend.store(key, "maybe-stale", ttl=60, tags=tags, stamp=miss.stamp)
    assert not (await backend.lookup(key, tags)).hit
    fresh = await backend.lookup(key, tags)
    await backend.store(key, "fresh", ttl=60, tags=tags, stamp=fresh.stamp)
    assert (await backend.lookup(key, tags)).value == "fresh"
