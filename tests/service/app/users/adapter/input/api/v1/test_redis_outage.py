"""With Redis down, revocation checks fail closed: 503, never a token let through."""

from __future__ import annotations

import asyncio
from pathlib import Path

from scripts.stack import free_port, start_redis
from service.app.users.container import UsersContainer
from tests.conftest import make_test_settings, private_app
from tests.service.app.users.conftest import API, bearer, login, register


async def test_authenticated_requests_are_503_while_redis_is_down(
    stack_env: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    redis = start_redis(free_port(), tmp_path)
    settings = make_test_settings(stack_env, run_id, redis_url=redis.url)
    try:
        async with private_app(settings) as (app, http):
            user = await register(http)
            tokens = (await login(http, str(user["email"]))).json()
            assert (
                await http.get(f"{API}/users/me", headers=bearer(tokens["access_token"]))
            ).status_code == 200

            redis.stop()
            # Revocation state read in the process is served only while its listener is known
            # to hear Redis (near_cache.py); once it has noticed, every read goes to Redis.
            near_cache = app.state.container.provided(UsersContainer.auth_near_cache)
            for _ in range(500):
                if not near_cache.live:
                    break
                await asyncio.sleep(0.01)
            assert not near_cache.live
            down = await http.get(f"{API}/users/me", headers=bearer(tokens["access_token"]))
            assert down.status_code == 503
            assert down.headers["content-type"] == "application/problem+json"
            assert down.json()["code"] == "redis_unavailable"
            assert (await login(http, str(user["email"]))).status_code == 503

            redis.restart()
            # The throwaway Redis keeps no data across the restart: the session is gone, so the
            # old token stays refused (fail closed); signing in again works without an API
            # restart.
            fresh = (await login(http, str(user["email"]))).json()
            up = await http.get(f"{API}/users/me", headers=bearer(fresh["access_token"]))
            assert up.status_code == 200, up.text
    finally:
        redis.stop()
