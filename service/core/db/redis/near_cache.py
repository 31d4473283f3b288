"""Process-local copies of hot Redis keys, kept coherent by Redis' server-assisted client-side
caching (`CLIENT TRACKING ... BCAST PREFIX ...`).

Every authenticated request reads its token's revocation state (and the caller's cached
profile) from Redis; the same few keys, read thousands of times a second, almost never change.
This cache keeps those values in the process and drops them when Redis says they changed:

- one listener connection (RESP2) asks Redis to broadcast every change to a key under the
  tracked prefixes to itself, and receives the key names on `__redis__:invalidate`; a message
  without keys (FLUSHDB / FLUSHALL) drops everything;
- a value is served locally only while that listener is known to be alive: it is pinged every
  `ping_interval` seconds, and if nothing has been heard for `3 * ping_interval` (or it is
  reconnecting) every read goes to Redis again, so a Redis outage still fails closed;
- a read installs a placeholder before its round trip (or shares the one of a read already in
  flight) and stores the value only if that placeholder survived: an invalidation that lands
  while the read is in flight wins;
- writes made by this process drop their keys here at once (`forget`), so a revocation takes
  effect on the next request of the process that made it; other processes follow when the
  broadcast reaches them (one network hop, well under a millisecond in a VPC);
- entries also age out after `max_age_seconds`, a backstop for a lost message, and the table
  holds at most `max_entries` keys (oldest out first).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from service.core.config import RedisRole, Settings
from service.core.db.redis.redis_client import build_redis_client

logger = logging.getLogger(__name__)

INVALIDATION_CHANNEL = "__redis__:invalidate"


class _Pending:
    """The placeholder of one in-flight read (compared by identity)."""

    __slots__ = ()


_MISSING = object()


class RedisNearCache:
    def __init__(
        self,
        redis: Redis,
        prefixes: Sequence[str],
        *,
        listener_factory: Callable[[], Redis] | None = None,
        max_entries: int = 10_000,
        max_age_seconds: float = 30.0,
        ping_interval: float = 1.0,
        reconnect_delay: float = 0.5,
    ) -> None:
        if not prefixes:
            raise ValueError("a near cache needs at least one tracked prefix")
        self._redis = redis
        self._prefixes = tuple(prefixes)
        self._listener_factory = listener_factory
        self._max_entries = max_entries
        self._max_age = max_age_seconds
        self._ping_interval = ping_interval
        self._reconnect_delay = reconnect_delay
        # key -> (value, expires_at) or a _Pending placeholder
        self._entries: dict[str, tuple[Any, float] | _Pending] = {}
        self._heard_at = 0.0  # monotonic time the listener last heard from Redis; 0: not live
        self._task: asyncio.Task[None] | None = None

    @property
    def enabled(self) -> bool:
        return self._listener_factory is not None and self._max_entries > 0

    @property
    def live(self) -> bool:
        """Whether local values may be served: the listener is subscribed and heard recently."""
        return self._heard_at > 0 and time.monotonic() - self._heard_at < 3 * self._ping_interval

    @property
    def size(self) -> int:
        """Values held (in-flight reads not counted)."""
        return sum(1 for entry in self._entries.values() if not isinstance(entry, _Pending))

    async def start(self) -> None:
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._listen(), name="redis-near-cache")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            # Cancelled until it ends: on Python 3.11 a cancel that lands as redis-py's
            # `wait_for` completes is swallowed (CPython gh-86296), so one is not enough.
            while not task.done():
                task.cancel()
                await asyncio.wait({task}, timeout=0.1)
            if not task.cancelled() and task.exception() is not None:
                logger.error("near cache listener failed", exc_info=task.exception())
        self._go_blind()

    async def wait_live(self, within: float = 5.0) -> bool:
        """For start-up and tests: wait until local values may be served."""
        deadline = time.monotonic() + within
        while not self.live:
            if time.monotonic() > deadline or not self.enabled:
                return False
            await asyncio.sleep(0.01)
        return True

    async def mget(self, keys: Sequence[str]) -> list[Any]:
        """Like `MGET`: values (bytes or None) in the order of `keys`. Redis errors propagate."""
        if not self.live:
            return list(await self._redis.mget(keys))
        now = time.monotonic()
        values: list[Any] = []
        missing: list[int] = []
        for index, key in enumerate(keys):
            entry = self._entries.get(key)
            if entry is not None and not isinstance(entry, _Pending) and entry[1] > now:
                values.append(entry[0])
            else:
                values.append(_MISSING)
                missing.append(index)
        if not missing:
            return values
        wanted = [keys[i] for i in missing]
        placeholders = {key: self._pending(key) for key in wanted if key.startswith(self._prefixes)}
        fetched = await self._redis.mget(wanted)
        expires_at = time.monotonic() + self._max_age
        for index, key, value in zip(missing, wanted, fetched, strict=True):
            values[index] = value
            placeholder = placeholders.get(key)
            # Stored only if no invalidation (or flush) removed the placeholder meanwhile.
            if placeholder is not None and self._entries.get(key) is placeholder:
                self._entries[key] = (value, expires_at)
        return values

    def forget(self, keys: Sequence[str]) -> None:
        """Drop keys this process has just written (or is about to)."""
        for key in keys:
            self._entries.pop(key, None)

    def _pending(self, key: str) -> _Pending:
        current = self._entries.get(key)
        if isinstance(current, _Pending):
            # Share the read already in flight's placeholder: replacing it would reject that
            # read's store, and under steady concurrent load no read would ever store.
            return current
        placeholder = _Pending()
        self._entries.pop(key, None)  # re-inserted last: the table stays in age order
        self._entries[key] = placeholder
        if len(self._entries) > self._max_entries:
            del self._entries[next(iter(self._entries))]
        return placeholder

    def _go_blind(self) -> None:
        self._heard_at = 0.0
        self._entries.clear()

    def _invalidate(self, data: Any) -> None:
        if data is None:  # FLUSHDB / FLUSHALL
            self._entries.clear()
            return
        for key in data:
            # Held keys are text; a name that is not UTF-8 cannot be one of them.
            name = key.decode("utf-8", "surrogateescape") if isinstance(key, bytes) else key
            self._entries.pop(name, None)

    async def _listen(self) -> None:
        assert self._listener_factory is not None
        while True:
            client = self._listener_factory()
            pubsub = client.pubsub()
            try:
                await self._subscribe(pubsub)
                await self._receive(pubsub)
            except (RedisError, OSError) as error:
                logger.warning("near cache listener lost Redis", extra={"error": str(error)})
            except Exception:  # never end silently: go blind, report, and listen again
                logger.exception("near cache listener failed; reconnecting")
            finally:
                self._go_blind()
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
                with contextlib.suppress(RedisError, OSError):
                    await client.aclose()
            await asyncio.sleep(self._reconnect_delay)

    async def _subscribe(self, pubsub: PubSub) -> None:
        await pubsub.connect()  # type: ignore[no-untyped-call]
        connection = pubsub.connection
        assert connection is not None
        await connection.send_command("CLIENT", "ID")
        client_id = await connection.read_response()
        prefixes: list[str] = []
        for prefix in self._prefixes:
            prefixes += ["PREFIX", prefix]
        await connection.send_command(
            "CLIENT", "TRACKING", "ON", "REDIRECT", client_id, "BCAST", *prefixes
        )
        await connection.read_response()
        await pubsub.subscribe(INVALIDATION_CHANNEL)

    async def _receive(self, pubsub: PubSub) -> None:
        pinged_at = 0.0
        subscribed = False
        while True:
            message = await pubsub.get_message(timeout=self._ping_interval)
            now = time.monotonic()
            if message is not None:
                kind = message["type"]
                if kind == "subscribe":
                    if subscribed:  # redis-py reconnected and resubscribed, without tracking
                        raise RedisError("the tracking connection was re-established")
                    # Only now are changes tracked; anything cached before is unknown state.
                    self._entries.clear()
                    subscribed = True
                elif kind == "message":
                    self._invalidate(message["data"])
                if subscribed:
                    self._heard_at = now
            if now - pinged_at >= self._ping_interval:
                await pubsub.ping()
                pinged_at = now
            if self._heard_at and now - self._heard_at >= 3 * self._ping_interval:
                raise RedisError("no answer from Redis on the tracking connection")


def build_near_cache(
    redis: Redis, settings: Settings, prefixes: Sequence[str], role: RedisRole = "state"
) -> RedisNearCache:
    """A near cache of the API (started by its lifespan; a process that never starts it, such
    as the Celery worker, reads straight from Redis). Its listener subscribes to the same
    Redis as `redis` (`role`): invalidations come only from the server that holds the keys."""
    return RedisNearCache(
        redis,
        prefixes,
        listener_factory=lambda: build_redis_client(settings, tracking_listener=True, role=role),
        max_entries=settings.redis_near_cache_max_entries,
        max_age_seconds=settings.redis_near_cache_max_age_seconds,
    )
