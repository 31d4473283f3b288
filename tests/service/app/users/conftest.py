"""Helpers for the users tests: accounts, tokens and the mail the app queued."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from service.app.users.container import UsersContainer
from service.core.composition import ServiceContainer
from service.core.container import CoreContainer
from service.core.helpers.mail import LoggingEmailOutbox

PASSWORD = "correct horse battery"
API = "/api/v1"


def new_email(tag: str = "user") -> str:
    return f"{tag}-{uuid.uuid4().hex[:10]}@example.com"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Account:
    id: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access_token)


async def register(
    client: httpx.AsyncClient, email: str | None = None, password: str = PASSWORD
) -> dict[str, object]:
    response = await client.post(
        f"{API}/auth/register",
        json={"email": email or new_email(), "password": password, "full_name": "Test User"},
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(f"{API}/auth/login", json={"email": email, "password": password})


async def signed_in(client: httpx.AsyncClient, email: str | None = None) -> Account:
    user = await register(client, email)
    response = await login(client, str(user["email"]))
    assert response.status_code == 200, response.text
    tokens = response.json()
    return Account(
        id=str(user["id"]),
        email=str(user["email"]),
        password=PASSWORD,
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
    )


async def signed_in_admin(app: FastAPI, client: httpx.AsyncClient) -> Account:
    email = new_email("admin")
    users = await app.state.container.resolve(UsersContainer.user_service)
    admin, created = await users.ensure_admin(email=email, password=PASSWORD)
    assert created
    response = await login(client, email)
    assert response.status_code == 200, response.text
    tokens = response.json()
    return Account(admin.id, email, PASSWORD, tokens["access_token"], tokens["refresh_token"])


@pytest.fixture
def outbox(app: FastAPI) -> Iterator[LoggingEmailOutbox]:
    """Mail goes to an in-memory outbox for this test (a provider override, undone after)."""
    container: ServiceContainer = app.state.container
    memory = LoggingEmailOutbox()
    with container.override(UsersContainer.email_outbox, memory):
        yield memory


async def run_recovery_requests(app: FastAPI) -> int:
    """What the worker's `users.deliver_recovery` does, for every request waiting in Redis
    (the tests' API process has no worker): the number of mails it queued."""
    container: ServiceContainer = app.state.container
    queue = await container.resolve(UsersContainer.recovery_queue)
    auth = await container.resolve(UsersContainer.auth_service)
    redis = await container.resolve(CoreContainer.redis_client)
    sent = 0
    async for key in redis.scan_iter(match=queue.key_pattern, count=1000):
        request_id = (key.decode() if isinstance(key, bytes) else key).rsplit(":", 1)[-1]
        sent += await auth.deliver_recovery(request_id)
    return sent


async def mailed_token(app: FastAPI, outbox: LoggingEmailOutbox, to: str, kind: str) -> str:
    """The raw token of the newest mail of `kind` to `to` (from its `token: ...` line), after
    the waiting recovery requests were delivered."""
    await run_recovery_requests(app)
    for message in reversed(outbox.sent):
        if message.to == to and message.kind == kind:
            match = re.search(r"^token: (\S+)$", message.text, re.MULTILINE)
            assert match, message.text
            return match.group(1)
    raise AssertionError(f"no {kind} mail to {to}")


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    return await signed_in(client)


@pytest.fixture
async def admin(app: FastAPI, client: httpx.AsyncClient) -> Account:
    return await signed_in_admin(app, client)
