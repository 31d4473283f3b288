"""Effects that happen once per effect id, however often a task is delivered.

A task that is redelivered (worker killed before its ack, visibility timeout) runs again; its
effects must not. `EffectLedger.once` claims the effect id with SET NX and a lease, performs the
effect, then marks it done for a long TTL: a later run sees "done" and skips it. A run that finds
a live lease (another delivery is performing it, or a dead worker's lease has not expired yet)
raises `EffectInProgress`, which is transient: the task is retried after a backoff.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from service.core.celery_task.errors import TransientTaskError

_DONE = "done"
# Delete the lease only if it is still ours.
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


class EffectInProgress(TransientTaskError):
    pass


class EffectLedger:
    def __init__(
        self, redis: Redis, prefix: str, *, done_ttl_seconds: int, lease_ttl_seconds: int
    ) -> None:
        self._redis = redis
        self._prefix = f"{prefix}:effects"
        self._done_ttl = done_ttl_seconds
        self._lease_ttl = lease_ttl_seconds

    def _key(self, effect_id: str) -> str:
        return f"{self._prefix}:{effect_id}"

    async def is_done(self, effect_id: str) -> bool:
        return await self._redis.get(self._key(effect_id)) in (_DONE, _DONE.encode())

    async def once(self, effect_id: str, effect: Callable[[], Awaitable[object]]) -> bool:
        """Perform `effect` unless it was done already; True when it ran now."""
        key = self._key(effect_id)
        lease = f"lease:{secrets.token_hex(8)}"
        if not await self._redis.set(key, lease, nx=True, ex=self._lease_ttl):
            if await self.is_done(effect_id):
                return False
            raise EffectInProgress(f"effect {effect_id} is being performed by another delivery")
        try:
            await effect()
        except BaseException:
            await self._redis.eval(_RELEASE, 1, key, lease)
            raise
        await self._redis.set(key, _DONE, ex=self._done_ttl)
        return True
