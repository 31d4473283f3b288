"""Two API tasks on one Redis: a revocation made through one is honoured by the other, although
both hold the token's revocation keys in their near caches."""

from __future__ import annotations

import asyncio
import time

import httpx
from fastapi import FastAPI

from service.app.users.container import UsersContainer
from tests.conftest import make_test_settings, private_app
from tests.service.app.users.conftest import API, Account, signed_in

ME = f"{API}/users/me"


async def until_rejected(http: httpx.AsyncClient, account: Account, within: float) -> float:
    """Seconds until the task answers 401 for the account's token; fails after `within`."""
    started = time.monotonic()
    while True:
        status = (await http.get(ME, headers=account.headers)).status_code
        if status == 401:
            return time.monotonic() - started
        assert status == 200, status
        assert time.monotonic() - started < within, "the other task still accepts the token"
        await asyncio.sleep(0.001)


async def hold_the_keys(apps: list[tuple[FastAPI, httpx.AsyncClient]], account: Account) -> None:
    for app, http in apps:
        near_cache = app.state.container.provided(UsersContainer.auth_near_cache)
        assert await near_cache.wait_live()
        for _ in range(3):
            assert (await http.get(ME, headers=account.headers)).status_code == 200
        assert near_cache.size > 0


async def test_a_logout_on_one_task_is_honoured_by_another(
    stack_env: dict[str, str], run_id: str
) -> None:
    settings = make_test_settings(stack_env, f"{run_id}-two-tasks-logout")
    async with private_app(settings) as one, private_app(settings) as other:
        account = await signed_in(one[1])
        await hold_the_keys([one, other], account)

        assert (await one[1].post(f"{API}/auth/logout", headers=account.headers)).status_code == 204
        # At once on the task that wrote the deny-list entry ...
        assert (await one[1].get(ME, headers=account.headers)).status_code == 401
        # ... and on the other as soon as Redis' broadcast reaches it.
        assert await until_rejected(other[1], account, within=1.0) < 1.0


async def test_a_password_change_on_one_task_ends_the_sessions_on_another(
    stack_env: dict[str, str], run_id: str
) -> None:
    settings = make_test_settings(stack_env, f"{run_id}-two-tasks-password")
    async with private_app(settings) as one, private_app(settings) as other:
        account = await signed_in(one[1])
        await hold_the_keys([one, other], account)

        etag = (await other[1].get(ME, headers=account.headers)).headers["etag"]
        changed = await other[1].patch(
            ME,
            json={"current_password": account.password, "new_password": "Another-Horse-7-battery"},
            headers={**account.headers, "If-Match": etag},
        )
        assert changed.status_code == 200, changed.text
        assert (await other[1].get(ME, headers=account.headers)).status_code == 401
        assert await until_rejected(one[1], account, within=1.0) < 1.0
