"""Accounts left unverified for UNVERIFIED_ACCOUNT_MAX_AGE_DAYS are removed by a periodic task;
verified accounts and recent ones stay. Checked in-process and through a real worker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from service.app.users.container import UsersContainer
from service.core.celery_task import CeleryApp, create_celery_app
from service.core.config import Settings
from service.core.container import CoreContainer
from tests.service.app.users.conftest import API, bearer, login, new_email, register
from tests.service.core.celery_task.processes import celery_env, celery_worker

pytestmark = pytest.mark.integration


async def accounts(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    """Three accounts: old and unverified, old but verified, recent and unverified."""
    ids = {}
    for kind in ("old_unverified", "old_verified", "recent_unverified"):
        ids[kind] = str((await register(client, new_email(kind)))["id"])
    database = await app.state.container.resolve(CoreContainer.database)
    old = datetime.now(UTC) - timedelta(days=30)
    await database["users"].update_one(
        {"_id": ids["old_unverified"]}, {"$set": {"created_at": old}}
    )
    await database["users"].update_one(
        {"_id": ids["old_verified"]}, {"$set": {"created_at": old, "is_verified": True}}
    )
    return ids


async def remaining(app: FastAPI, ids: dict[str, str]) -> set[str]:
    database = await app.state.container.resolve(CoreContainer.database)
    found = database["users"].find({"_id": {"$in": list(ids.values())}}, {"_id": 1})
    by_id = {value: key for key, value in ids.items()}
    return {by_id[document["_id"]] async for document in found}


async def test_old_unverified_accounts_are_removed(app: FastAPI, client: httpx.AsyncClient) -> None:
    ids = await accounts(app, client)
    users = await app.state.container.resolve(UsersContainer.user_service)

    deleted = await users.delete_unverified_older_than(timedelta(days=7))

    assert deleted >= 1
    assert await remaining(app, ids) == {"old_verified", "recent_unverified"}
    # Running again removes nothing more of these.
    await users.delete_unverified_older_than(timedelta(days=7))
    assert await remaining(app, ids) == {"old_verified", "recent_unverified"}


async def test_a_purged_accounts_tokens_and_cached_profile_go_with_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await register(client)
    token = (await login(client, str(user["email"]))).json()["access_token"]
    assert (await client.get(f"{API}/users/me", headers=bearer(token))).status_code == 200
    database = await app.state.container.resolve(CoreContainer.database)
    await database["users"].update_one(
        {"_id": user["id"]}, {"$set": {"created_at": datetime.now(UTC) - timedelta(days=30)}}
    )
    users = await app.state.container.resolve(UsersContainer.user_service)
    assert await users.delete_unverified_older_than(timedelta(days=7)) >= 1
    after = await client.get(f"{API}/users/me", headers=bearer(token))
    assert after.status_code == 401
    assert after.json()["code"] == "token_revoked"


@pytest.fixture(scope="module")
def worker_app(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CeleryApp]:
    """A real worker on the API's own settings (same database)."""
    log = tmp_path_factory.mktemp("users-tasks") / "worker.log"
    with celery_worker(celery_env(settings), log):
        yield create_celery_app(settings)


async def test_the_worker_runs_the_cleanup_task(
    app: FastAPI, client: httpx.AsyncClient, worker_app: CeleryApp
) -> None:
    ids = await accounts(app, client)
    result = worker_app.send_task("users.delete_unverified_accounts")
    deleted = result.get(timeout=60)
    assert isinstance(deleted, int)
    assert deleted >= 1
    assert await remaining(app, ids) == {"old_verified", "recent_unverified"}


async def reset_grants(app: FastAPI, user_id: str) -> int:
    """The reset tokens waiting in Redis for `user_id` (their values name the account)."""
    settings: Settings = app.state.container.settings
    redis = await app.state.container.resolve(CoreContainer.redis_client)
    found = 0
    async for key in redis.scan_iter(match=f"{settings.redis_key_prefix}:auth:reset:*"):
        value = await redis.get(key)
        if value is not None and value.decode().endswith(f":{user_id}"):
            found += 1
    return found


async def test_the_worker_decides_the_forgot_password_request(
    app: FastAPI, client: httpx.AsyncClient, worker_app: CeleryApp
) -> None:
    """The request path only stores the request and queues `users.deliver_recovery`; the worker
    looks the account up and mints a reset token (and queues its mail) only for a known one."""
    user = await register(client)
    queue = await app.state.container.resolve(UsersContainer.recovery_queue)
    redis = await app.state.container.resolve(CoreContainer.redis_client)
    for email in (str(user["email"]), new_email("nobody")):
        answer = await client.post(f"{API}/auth/password/forgot", json={"email": email})
        assert answer.status_code == 202
    deadline = asyncio.get_running_loop().time() + 60
    while [key async for key in redis.scan_iter(match=queue.key_pattern)]:
        assert asyncio.get_running_loop().time() < deadline, "the worker took no request"
        await asyncio.sleep(0.2)
    assert await reset_grants(app, str(user["id"])) == 1
