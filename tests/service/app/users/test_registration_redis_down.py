"""Finding 6 of issue 22: no half-done registration. With Redis (the verification request's
store and the broker) stopped, a registration answers an error and creates nothing: the retry
once Redis is back succeeds, and its verification mail is queued. A registration that answered
201 has its account and its queued verification request.

The test runs its own redis-server (it stops it); the rate limits are off in its app, so the
verification request is the first thing of a registration to need Redis, after the account was
written (the path that used to leave the account behind).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from fastapi import FastAPI

from scripts.stack import free_port, start_redis
from service.app.users.container import UsersContainer
from service.app.users.settings import DEFAULT_RATE_LIMITS
from service.core.container import CoreContainer
from tests.conftest import _drop_test_data, make_test_settings, private_app
from tests.service.app.users.conftest import API, PASSWORD, new_email


async def register(http: httpx.AsyncClient, email: str) -> httpx.Response:
    return await http.post(
        f"{API}/auth/register", json={"email": email, "password": PASSWORD, "full_name": "R"}
    )


async def exists(app: FastAPI, email: str) -> bool:
    repository = await app.state.container.resolve(UsersContainer.repository)
    return await repository.get_by_email(email) is not None


async def queued_verifications(app: FastAPI) -> set[str]:
    """The addresses whose verification request waits for the worker in Redis."""
    queue = await app.state.container.resolve(UsersContainer.recovery_queue)
    redis = await app.state.container.resolve(CoreContainer.redis_client)
    emails = set()
    async for key in redis.scan_iter(match=queue.key_pattern, count=1000):
        raw = await redis.get(key)
        if raw is not None:
            emails.add(json.loads(raw)["email"])
    return emails


async def test_a_registration_is_whole_or_nothing_while_redis_stops(
    stack_env: dict[str, str], run_id: str, tmp_path: Path
) -> None:
    # Persistent (append-only file), as the state Redis is meant to be: what it took before it
    # stopped is there after.
    redis = start_redis(
        free_port(), tmp_path, extra_args=["--appendonly", "yes", "--appendfsync", "always"]
    )
    settings = make_test_settings(
        stack_env,
        run_id + "-register-redis",
        redis_url=redis.url,
        rate_limits=dict.fromkeys(DEFAULT_RATE_LIMITS, ""),
    )
    try:
        async with private_app(settings) as (app, http):
            before = [new_email("before") for _ in range(3)]
            for email in before:
                assert (await register(http, email)).status_code == 201

            # Stopped: every registration is an error, and none leaves an account behind.
            redis.stop()
            down = [new_email("down") for _ in range(4)]
            answers = await asyncio.gather(*(register(http, email) for email in down))
            for email, answer in zip(down, answers, strict=True):
                assert answer.status_code == 503, answer.text
                assert answer.headers["content-type"] == "application/problem+json"
                assert answer.headers["Retry-After"]
                assert not await exists(app, email), f"{email} was created by a 503"

            # Back: the retries succeed (no 409) and every created account has its mail queued.
            redis.restart()
            for email in down:
                retry = await register(http, email)
                assert retry.status_code == 201, retry.text
            for email in before + down:
                assert await exists(app, email)
            assert set(before + down) <= await queued_verifications(app)

            # Stopped in the middle of a burst: each one is whole (201, account, request) or
            # nothing (an error, no account), whichever side of the stop it fell on.
            burst = [new_email("burst") for _ in range(12)]
            tasks = [asyncio.create_task(register(http, email)) for email in burst]
            await asyncio.sleep(0)
            redis.stop()
            answers = await asyncio.gather(*tasks)
            created = {e for e, a in zip(burst, answers, strict=True) if a.status_code == 201}
            for email, answer in zip(burst, answers, strict=True):
                if answer.status_code != 201:  # an error: a problem, and nothing behind it
                    assert answer.headers["content-type"] == "application/problem+json"
                assert await exists(app, email) == (email in created), email
            redis.restart()
            assert created <= await queued_verifications(app)
            await _drop_test_data(app, settings)
    finally:
        redis.stop()
