"""Auth state in Redis: deny-list, session generations, refresh families, lock-out counters
and one-time tokens. Every key is documented in docs/data-model.md.

Connection errors propagate: the app turns them into a 503 problem, so a revocation check that
cannot run never lets a token through (fail closed).
"""

from __future__ import annotations

from redis.asyncio import Redis

from service.app.users.domain.ports import OneTimeGrant, OneTimeKind, Rotation, SessionState
from service.core.db.redis.near_cache import RedisNearCache

# KEYS[1] = session key; ARGV[1] = presented refresh jti; ARGV[2] = the new one.
# 1 rotated, 0 missing, -1 reused (and the whole family is deleted).
_ROTATE = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if current ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  return -1
end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 1
"""

# KEYS[1] = lock-out counter: one attempt admitted or refused in one step, counted while in
# flight (so of N concurrent attempts at most the limit reach the hasher), not kept when refused
# (a refusal is no failure).
_ADMIT = """
local count = redis.call('INCR', KEYS[1])
-- The window starts at the first attempt and is not extended by later ones.
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
local ttl = redis.call('TTL', KEYS[1])
if count > tonumber(ARGV[2]) then
  redis.call('DECR', KEYS[1])
  return {0, ttl}
end
return {1, ttl}
"""

# KEYS[1] = lock-out counter: give one attempt back (not a failure), never below zero; the
# window (the key's TTL) is kept.
_REFUND = """
local left = redis.call('DECR', KEYS[1])
if left <= 0 then redis.call('DEL', KEYS[1]) end
return left
"""

_ROTATION = {1: Rotation.ROTATED, 0: Rotation.MISSING, -1: Rotation.REUSED}


def _grant(value: bytes | str | None) -> OneTimeGrant | None:
    if value is None:
        return None
    text = value.decode() if isinstance(value, bytes) else value
    version, _, user_id = text.partition(":")
    if not user_id or not version.isdigit():  # a token minted before grants carried a version
        return None
    return OneTimeGrant(user_id=user_id, credential_version=int(version))


class RedisAuthStore:
    def __init__(self, redis: Redis, prefix: str, near_cache: RedisNearCache | None = None) -> None:
        self._redis = redis
        self._prefix = prefix
        self._rotate = redis.register_script(_ROTATE)
        self._admit = redis.register_script(_ADMIT)
        self._refund = redis.register_script(_REFUND)
        # The revocation keys every request reads; this store's writes to them forget them.
        self._near = (
            near_cache
            if near_cache is not None
            else RedisNearCache(redis, self.revocation_prefixes(prefix))
        )

    @staticmethod
    def revocation_prefixes(prefix: str) -> tuple[str, ...]:
        """The keys `session_state` reads: tracked by the near cache."""
        return (f"{prefix}:deny:", f"{prefix}:gen:", f"{prefix}:session:")

    def _deny(self, token_id: str) -> str:
        return f"{self._prefix}:deny:{token_id}"

    def _generation(self, user_id: str) -> str:
        return f"{self._prefix}:gen:{user_id}"

    def _session(self, session_id: str) -> str:
        return f"{self._prefix}:session:{session_id}"

    def _failures(self, account_key: str) -> str:
        return f"{self._prefix}:login-fail:{account_key}"

    def _one_time(self, kind: OneTimeKind, token_hash: str) -> str:
        return f"{self._prefix}:{kind.value}:{token_hash}"

    async def session_state(
        self, user_id: str, token_id: str, session_id: str | None
    ) -> SessionState:
        keys = [self._deny(token_id), self._generation(user_id)]
        if session_id is not None:
            keys.append(self._session(session_id))
        values = await self._near.mget(keys)
        return SessionState(
            denied=values[0] is not None,
            generation=int(values[1] or 0),
            session_alive=session_id is None or values[2] is not None,
        )

    async def is_denied(self, token_id: str) -> bool:
        return bool(await self._redis.exists(self._deny(token_id)))

    async def generation(self, user_id: str) -> int:
        return int(await self._redis.get(self._generation(user_id)) or 0)

    async def revoke_all(self, user_id: str, *, forget_after: int | None = None) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._generation(user_id))
            if forget_after is not None:
                pipe.expire(self._generation(user_id), forget_after)
            await pipe.execute()
        self._near.forget([self._generation(user_id)])

    async def deny(self, token_id: str, ttl_seconds: int) -> None:
        await self._redis.set(self._deny(token_id), "1", ex=ttl_seconds)
        self._near.forget([self._deny(token_id)])

    async def start_session(self, session_id: str, refresh_id: str, ttl_seconds: int) -> None:
        await self._redis.set(self._session(session_id), refresh_id, ex=ttl_seconds)
        self._near.forget([self._session(session_id)])

    async def rotate_session(self, session_id: str, presented: str, new: str) -> Rotation:
        result = await self._rotate(keys=[self._session(session_id)], args=[presented, new])
        self._near.forget([self._session(session_id)])
        return _ROTATION[int(result)]

    async def end_session(self, session_id: str) -> None:
        await self._redis.delete(self._session(session_id))
        self._near.forget([self._session(session_id)])

    async def admit_login_attempt(
        self, account_key: str, *, limit: int, window_seconds: int
    ) -> tuple[bool, int]:
        admitted, ttl = await self._admit(
            keys=[self._failures(account_key)], args=[window_seconds, limit]
        )
        return bool(admitted), max(1, int(ttl))

    async def refund_login_attempt(self, account_key: str) -> None:
        await self._refund(keys=[self._failures(account_key)])

    async def clear_login_failures(self, account_key: str) -> None:
        await self._redis.delete(self._failures(account_key))

    async def put_one_time(
        self, kind: OneTimeKind, token_hash: str, grant: OneTimeGrant, ttl_seconds: int
    ) -> None:
        value = f"{grant.credential_version}:{grant.user_id}"
        await self._redis.set(self._one_time(kind, token_hash), value, ex=ttl_seconds)

    async def peek_one_time(self, kind: OneTimeKind, token_hash: str) -> OneTimeGrant | None:
        return _grant(await self._redis.get(self._one_time(kind, token_hash)))

    async def take_one_time(self, kind: OneTimeKind, token_hash: str) -> OneTimeGrant | None:
        return _grant(await self._redis.getdel(self._one_time(kind, token_hash)))
