"""Redis cache backend: JSON values (never pickle) and tag invalidation by version stamps.

Each tag has a version key holding a random stamp. A stored entry records the stamps of its tags
as they were *before* the source was read; a lookup fetches the entry and the current stamps in
one MGET and treats any difference as a miss. Invalidating a tag writes a new stamp, which drops
every entry under it at once and cannot race with a concurrent store of stale data.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from service.core.db.redis.near_cache import RedisNearCache
from service.core.helpers.caches.base.backend import CacheBackend, CacheUnavailableError, Lookup

# Tag stamps outlive every entry (entries' TTL is capped below this), so an expired stamp can
# only ever turn entries into misses.
TAG_STAMP_TTL_SECONDS = 7 * 24 * 3600
MAX_ENTRY_TTL_SECONDS = 24 * 3600


class RedisCacheBackend(CacheBackend):
    def __init__(
        self, redis: Redis, prefix: str = "cache", near_cache: RedisNearCache | None = None
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        # Entries and tag stamps are read through it; this backend's writes forget their keys.
        self._near = (
            near_cache
            if near_cache is not None
            else RedisNearCache(redis, [self.tracked_prefix(prefix)])
        )

    @staticmethod
    def tracked_prefix(prefix: str) -> str:
        """Every key of the cache (entries and tag stamps) starts with this."""
        return f"{prefix}:"

    def _tag_key(self, tag: str) -> str:
        return f"{self._prefix}:tag:{tag}"

    def lookup_keys(self, key: str, tags: Sequence[str]) -> list[str]:
        return [key, *(self._tag_key(t) for t in tags)]

    def lookup_from(self, values: Sequence[Any]) -> Lookup:
        raw, *stamps = values
        current = [s.decode() if isinstance(s, bytes) else s for s in stamps]
        if raw is not None:
            entry = json.loads(raw)
            if entry["s"] == current:
                return Lookup(hit=True, value=entry["v"])
        return Lookup(hit=False, stamp=current)

    async def lookup(self, key: str, tags: Sequence[str]) -> Lookup:
        try:
            values = await self._near.mget(self.lookup_keys(key, tags))
        except (RedisError, OSError) as error:
            raise CacheUnavailableError(str(error)) from error
        return self.lookup_from(values)

    async def store(
        self, key: str, value: Any, *, ttl: int, tags: Sequence[str], stamp: Any
    ) -> None:
        entry = json.dumps({"v": value, "s": stamp}, separators=(",", ":"))
        try:
            await self._redis.set(key, entry, ex=min(ttl, MAX_ENTRY_TTL_SECONDS))
        except (RedisError, OSError) as error:
            raise CacheUnavailableError(str(error)) from error
        finally:
            self._near.forget([key])

    async def invalidate_tags(self, *tags: str) -> None:
        if not tags:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for tag in tags:
                    pipe.set(self._tag_key(tag), secrets.token_hex(8), ex=TAG_STAMP_TTL_SECONDS)
                await pipe.execute()
        except (RedisError, OSError) as error:
            raise CacheUnavailableError(str(error)) from error
        finally:
            self._near.forget([self._tag_key(tag) for tag in tags])

    async def delete(self, key: str) -> None:
        try:
            await self._redis.delete(key)
        except (RedisError, OSError) as error:
            raise CacheUnavailableError(str(error)) from error
        finally:
            self._near.forget([key])
