"""Only wrong passwords accumulate toward the lock-out: an attempt whose verification is cut
short (the hasher failing, as a database timeout would, or the request cancelled) is given back,
and so is one refused while the limit's worth were in flight, so neither an outage nor a burst
of the owner's own sign-ins locks the account's owner out."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import httpx
from fastapi import FastAPI

from service.app.users.adapter.output.redis_auth_store import RedisAuthStore
from service.app.users.container import UsersContainer
from service.core.composition import ServiceContainer
from service.core.exceptions import ServiceUnavailableError
from service.core.helpers.password import PasswordCheck, PasswordHasher
from tests.service.app.users.conftest import login, register


class FailingHasher(PasswordHasher):
    """The real hasher, except that verifying is unavailable (a dependency's outage)."""

    async def verify(self, stored_hash: str | None, password: str) -> PasswordCheck:
        raise ServiceUnavailableError("The hasher is unavailable; retry later")


class StalledHasher(PasswordHasher):
    """The real hasher, except that verifying never finishes (the request is cancelled first)."""

    async def verify(self, stored_hash: str | None, password: str) -> PasswordCheck:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


class DistantAuthStore:
    """The real store, reached over a network that makes the give-back wait before its command
    is written (a new connection, a full pool, latency): a cancellation can land there."""

    def __init__(self, store: RedisAuthStore) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def refund_login_attempt(self, account_key: str) -> None:
        await anyio.sleep(0.01)
        await self._store.refund_login_attempt(account_key)


async def test_cancelled_verifications_never_count_toward_the_lock_out(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # A cancel scope cancels level-triggered (anyio; a BaseHTTPMiddleware or a server shutting
    # down cancels a request so): every await inside it is cancelled again, the give-back's
    # included, unless it is shielded.
    user = await register(client)
    container: ServiceContainer = app.state.container
    limit = container.settings.login_max_failures  # type: ignore[attr-defined]
    distant = DistantAuthStore(container.provided(UsersContainer.auth_state))
    with (
        container.override(UsersContainer.password_hasher, StalledHasher()),
        container.override(UsersContainer.auth_state, distant),
    ):
        for attempt in range(1, limit + 3):
            answered: httpx.Response | None = None
            with anyio.move_on_after(0.2):
                answered = await login(client, str(user["email"]))
            # Each attempt reaches the (stalled) hasher: none was refused as locked.
            assert answered is None, f"attempt {attempt}: {answered.status_code} {answered.text}"
    signed_in = await login(client, str(user["email"]))
    assert signed_in.status_code == 200, signed_in.text


async def test_verifications_cut_short_never_count_toward_the_lock_out(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    user = await register(client)
    container: ServiceContainer = app.state.container
    limit = container.settings.login_max_failures  # type: ignore[attr-defined]
    with container.override(UsersContainer.password_hasher, FailingHasher()):
        for _ in range(limit + 2):
            assert (await login(client, str(user["email"]))).status_code == 503
    signed_in = await login(client, str(user["email"]))
    assert signed_in.status_code == 200, signed_in.text
    # Wrong passwords still count: the limit's worth, then locked even for the right one.
    for _ in range(limit):
        assert (await login(client, str(user["email"]), "a wrong password!")).status_code == 401
    assert (await login(client, str(user["email"]))).status_code == 429


class SlowHasher:
    """The real hasher, slow enough that every sign-in of a burst is in flight at once."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self._hasher = hasher

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hasher, name)

    async def verify(self, stored_hash: str | None, password: str) -> PasswordCheck:
        await anyio.sleep(0.3)
        return await self._hasher.verify(stored_hash, password)


async def test_a_burst_of_right_passwords_never_locks_the_owner_out(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    # In flight, an attempt counts (so N concurrent wrong ones verify at most the limit); past
    # the limit it is refused, and a refused attempt was never a failure: it is not kept.
    user = await register(client)
    container: ServiceContainer = app.state.container
    limit = container.settings.login_max_failures  # type: ignore[attr-defined]
    slow = SlowHasher(container.provided(UsersContainer.password_hasher))
    with container.override(UsersContainer.password_hasher, slow):
        burst = await asyncio.gather(
            *(login(client, str(user["email"])) for _ in range(2 * limit + 2))
        )
    assert sorted({r.status_code for r in burst}) == [200, 429]
    assert sum(r.status_code == 200 for r in burst) == limit
    signed_in = await login(client, str(user["email"]))
    assert signed_in.status_code == 200, signed_in.text
