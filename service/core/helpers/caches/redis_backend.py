"""Redis cache backend: JSON values (never pickle) and tag invalidation by version stamps.

Each tag has a version key holding a random stamp. A stored entry records the stamps of its tags
as they were *before* the source was read; a lookup fetches the entry and the current stamps in
one MGET and treats any difference as a miss. Invalidating a tag writes a new stamp, which drops
every entry under it at once and cannot race with a concurrent store of stale data.

The cache's Redis evicts (`allkeys-lru` in AWS), so a stamp can vanish while entries stored
under it or before it remain. A missing stamp is therefore never a stamp: a lookup that finds
one missing is a miss, and the store that follows creates the stamp (SET NX) and stores the
entry only if it created it (a stamp that appeared meanwhile is an invalidation it may have
missed). No entry is ever stored under a missing stamp, so none can come back when one vanishes.
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

# Tag stamps outlive every entry (entries' TTL is capped below this); an expired or evicted
# stamp only ever turns entries into misses (see above).
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

    def _lookup_keys(self, key: str, tags: Sequence[str]) -> list[str]:
        return [key, *(self._tag_key(t) for t in tags)]

    def _lookup_from(self, values: Sequence[Any]) -> Lookup:
        raw, *stamps = values
        current = [s.decode() if isinstance(s, bytes) else s for s in stamps]
        if raw is not None and None not in current:
            entry = json.loads(raw)
            if entry["s"] == current:
                return Lookup(hit=True, value=entry["v"])
        return Lookup(hit=False, stamp=current)

    async def _create_missing_stamps(self, tags: Sequence[str], stamp: Any) -> list[str] | None:
        """`stamp` with every missing stamp created now; None if another writer made one first."""
        missing = [i for i, value in enumerate(stamp) if value is None]
        if not missing:
            return list(stamp)
        created = list(stamp)
        async with self._redis.pipeline(transaction=False) as pipe:
            for i in missing:
                created[i] = secrets.token_hex(8)
                pipe.set(self._tag_key(tags[i]), created[i], ex=TAG_STAMP_TTL_SECONDS, nx=True)
            results = await pipe.execute()
        self._near.forget([self._tag_key(tags[i]) for i in missing])
        return created if all(results) else None

    async def lookup(self, key: str, tags: Sequence[str]) -> Lookup:
        try:
            values = await self._near.mget(self._lookup_keys(key, tags))
        except (RedisError, OSError) as error:
            raise CacheUnavailableError(str(error)) from error
        return self._lookup_from(values)

    async def store(
        self, key: str, value: Any, *, ttl: int, tags: Sequence[str], stamp: Any
    ) -> None:
        try:
            stamps = await self._create_missing_stamps(tags, stamp)
            if stamps is None:
                return  # a tag was invalidated since the lookup: this value may be stale
            entry = json.dumps({"v": value, "s": stamps}, separators=(",", ":"))
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
