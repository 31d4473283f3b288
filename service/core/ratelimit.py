"""Application rate limits: the `limits` library's moving window on its async Redis storage.

A rule is a name ("login.account", "register.address", ...) and a limit string in the library's
notation ("5/minute", several separated by ";"). `RateLimiter.hit(rule, key)` takes one entry
of every limit of the rule in one atomic Lua step on Redis (the library's `acquire_entry`), so
N concurrent requests can never take more than the limit; past it, `RateLimitedError` answers
429 problem+json with `Retry-After` (the seconds until the oldest entry leaves the window).

The state lives in the noeviction ("state") Redis, on the process's own connection pool: an
evicted counter would reset a limit. Keys carry a digest of the key given (an email or an
address never appears in a Redis key name). A rule that names no limit is not limited.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Mapping
from typing import Any, cast

from limits import RateLimitItem, parse_many
from limits.aio.storage import RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis

from service.core.exceptions import TooManyRequestsError


class RateLimitedError(TooManyRequestsError):
    code = "rate_limited"


def parse_rules(rules: Mapping[str, str]) -> dict[str, list[RateLimitItem]]:
    """Each rule's limits; a malformed limit string raises ValueError (at start-up)."""
    return {name: parse_many(spec) for name, spec in rules.items() if spec.strip()}


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:32]


class RateLimiter:
    def __init__(self, redis: Redis, *, prefix: str, rules: Mapping[str, str]) -> None:
        # The library's redis-py bridge on the process's own pool (documented `connection_pool`
        # option): no second set of connections, closed with the process's client.
        options = cast(dict[str, Any], {"connection_pool": redis.connection_pool})
        storage = RedisStorage(
            "async+redis://", implementation="redispy", key_prefix=f"{prefix}:ratelimit", **options
        )
        self._limiter = MovingWindowRateLimiter(storage)
        self._rules = parse_rules(rules)

    def limits(self, rule: str) -> list[RateLimitItem]:
        return list(self._rules.get(rule, ()))

    async def hit(self, rule: str, key: str) -> None:
        """Take one entry of `rule` for `key`, or raise RateLimitedError."""
        for item in self._rules.get(rule, ()):
            if not await self._limiter.hit(item, rule, digest(key)):
                stats = await self._limiter.get_window_stats(item, rule, digest(key))
                raise RateLimitedError(
                    "Too many requests; try again later",
                    retry_after=max(1, math.ceil(stats.reset_time - time.time())),
                )

    async def clear(self, rule: str, key: str) -> None:
        for item in self._rules.get(rule, ()):
            await self._limiter.clear(item, rule, digest(key))
