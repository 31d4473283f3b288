"""Only wrong passwords accumulate toward the lock-out: an attempt whose verification is cut
short (here the hasher failing, as a database timeout or a cancelled request would) is given
back, so an outage never locks the account's owner out."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from service.app.users.container import UsersContainer
from service.core.composition import ServiceContainer
from service.core.exceptions import ServiceUnavailableError
from service.core.helpers.password import PasswordCheck, PasswordHasher
from tests.service.app.users.conftest import login, register


class FailingHasher(PasswordHasher):
    """The real hasher, except that verifying is unavailable (a dependency's outage)."""

    async def verify(self, stored_hash: str | None, password: str) -> PasswordCheck:
        raise ServiceUnavailableError("The hasher is unavailable; retry later")


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
