"""The near cache's test harness: a private Redis per test (these tests kill its connections,
flush it, stop and restart it), and the helpers that tell a local read from a Redis one (the
fixtures are in conftest.py).

Whether a read was served locally or went to Redis is read from the server itself:
`INFO commandstats` counts the MGET calls it answered, `INFO stats` the keys they found.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.typing import EncodableT, KeysT

from scripts.stack import HOST, ManagedProcess
from service.core.config import Settings
from service.core.db.redis.near_cache import RedisNearCache
from service.core.db.redis.redis_client import build_redis_client

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
