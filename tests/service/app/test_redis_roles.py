"""Two Redis roles: what must never be evicted (auth state, the Celery broker, the outbox) goes
to REDIS_URL, the evictable tagged cache to REDIS_CACHE_URL (each its own server in AWS, with
`noeviction` and `allkeys-lru`). Here two real Redis servers stand in for the two groups."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from scripts.stack import free_port, start_redis
from service.core.container import CoreContainer
from tests.conftest import make_test_settings, private_app
from tests.service.app.users.conftest import API, bearer, login, register


async def keys(url: str, pattern: str) -> list[str]:
    client = Redis.from_url(url, decode_responses=True)
    try:
        return [key async for key in client.scan_iter(match=pattern, count=1000)]
    finally:
        await client.aclose()


async def test_auth_state_and_cache_entries_live_in_their_own_redis(
    stack_env: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    state = start_redis(free_port(), tmp_path / "state")
    cache = start_redis(free_port(), tmp_path / "cache")
    settings = make_test_settings(
        stack_env, f"{run_id}-roles", redis_url=state.url, redis_cache_url=cache.url
    )
    prefix = settings.redis_key_prefix
    try:
        async with private_app(settings) as (app, http):
            user = await register(http)
            tokens = (await login(http, str(user["email"]))).json()
            for _ in range(2):
                me = await http.get(f"{API}/users/me", headers=bearer(tokens["access_token"]))
                assert me.status_code == 200
            assert await app.state.container.provided(CoreContainer.cache_near_cache).wait_live()
            assert (
                await http.post(f"{API}/auth/logout", headers=bearer(tokens["access_token"]))
            ).status_code == 204
            assert (
                await http.get(f"{API}/users/me", headers=bearer(tokens["access_token"]))
            ).status_code == 401

            assert await keys(cache.url, f"{prefix}:cache:*"), "the profile is cached"
            assert not await keys(state.url, f"{prefix}:cache:*")
            assert await keys(state.url, f"{prefix}:auth:*"), "sessions and the deny-list"
            assert not await keys(cache.url, f"{prefix}:auth:*")
            assert not await keys(cache.url, f"{prefix}:celery:*")
    finally:
        state.stop()
        cache.stop()
