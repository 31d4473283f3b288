"""Findings 1 and 2 of issue 22 and their kin: a recovery or verification token is bound to the
account's credential state, so any credential change kills every token minted before it."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from service.core.helpers.mail import LoggingEmailOutbox
from tests.service.app.users.conftest import (
    API,
    PASSWORD,
    Account,
    bearer,
    login,
    mailed_token,
    register,
)

NEW = "a brand new password"
ATTACKER = "the attacker's password"


async def forgot(
    app: FastAPI, client: httpx.AsyncClient, outbox: LoggingEmailOutbox, email: str
) -> str:
    response = await client.post(f"{API}/auth/password/forgot", json={"email": email})
    assert response.status_code == 202, response.text
    return await mailed_token(app, outbox, email, "password_reset")


async def reset(client: httpx.AsyncClient, token: str, password: str) -> httpx.Response:
    return await client.post(
        f"{API}/auth/password/reset", json={"token": token, "new_password": password}
    )


def assert_dead(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_or_expired_token"


async def test_a_reset_token_dies_when_the_password_changes_on_users_me(
    app: FastAPI, client: httpx.AsyncClient, outbox: LoggingEmailOutbox, account: Account
) -> None:
    """Finding 1: forgot mails T; the owner changes the password (PATCH /users/me); T is dead."""
    token = await forgot(app, client, outbox, account.email)
    changed = await client.patch(
        f"{API}/users/me",
        json={"current_password": PASSWORD, "new_password": NEW},
        headers={**account.headers, "If-Match": "*"},
    )
    assert changed.status_code == 200, changed.text
    assert_dead(await reset(client, token, ATTACKER))
    assert (await login(client, account.email, ATTACKER)).status_code == 401
    assert (await login(client, account.email, NEW)).status_code == 200


async def test_older_reset_tokens_die_when_a_reset_completes(
    app: FastAPI, client: httpx.AsyncClient, outbox: LoggingEmailOutbox, account: Account
) -> None:
    """Finding 2: T1 and T2 mailed; reset with T2 (204); T1 is dead."""
    first = await forgot(app, client, outbox, account.email)
    second = await forgot(app, client, outbox, account.email)
    assert first != second
    assert (await reset(client, second, NEW)).status_code == 204
    assert_dead(await reset(client, first, ATTACKER))
    assert (await login(client, account.email, ATTACKER)).status_code == 401
    assert (await login(client, account.email, NEW)).status_code == 200


async def test_concurrent_resets_with_two_tokens_change_the_password_once(
    app: FastAPI, client: httpx.AsyncClient, outbox: LoggingEmailOutbox, account: Account
) -> None:
    tokens = [await forgot(app, client, outbox, account.email) for _ in range(2)]
    answers = await asyncio.gather(
        reset(client, tokens[0], "first new password"),
        reset(client, tokens[1], "second new password"),
    )
    assert sorted(a.status_code for a in answers) == [204, 400]


async def test_disabling_an_account_kills_its_reset_tokens(
    app: FastAPI,
    client: httpx.AsyncClient,
    outbox: LoggingEmailOutbox,
    account: Account,
    admin: Account,
) -> None:
    token = await forgot(app, client, outbox, account.email)
    for is_active in (False, True):  # disabled, then enabled again: the token stays dead
        answer = await client.patch(
            f"{API}/users/{account.id}", json={"is_active": is_active}, headers=admin.headers
        )
        assert answer.status_code == 200, answer.text
    assert_dead(await reset(client, token, ATTACKER))


async def test_a_completed_verification_kills_the_other_verification_tokens(
    app: FastAPI, client: httpx.AsyncClient, outbox: LoggingEmailOutbox
) -> None:
    user = await register(client)
    email = str(user["email"])
    first = await mailed_token(app, outbox, email, "verify_email")
    tokens = (await login(client, email)).json()
    resend = await client.post(
        f"{API}/auth/verify-email/request", headers=bearer(tokens["access_token"])
    )
    assert resend.status_code == 202
    second = await mailed_token(app, outbox, email, "verify_email")
    assert first != second
    verified = await client.post(f"{API}/auth/verify-email", json={"token": second})
    assert verified.status_code == 200, verified.text
    assert_dead(await client.post(f"{API}/auth/verify-email", json={"token": first}))


async def test_a_verification_token_dies_with_a_password_change(
    app: FastAPI, client: httpx.AsyncClient, outbox: LoggingEmailOutbox
) -> None:
    user = await register(client)
    email = str(user["email"])
    token = await mailed_token(app, outbox, email, "verify_email")
    tokens = (await login(client, email)).json()
    changed = await client.patch(
        f"{API}/users/me",
        json={"current_password": PASSWORD, "new_password": NEW},
        headers={**bearer(tokens["access_token"]), "If-Match": "*"},
    )
    assert changed.status_code == 200, changed.text
    assert_dead(await client.post(f"{API}/auth/verify-email", json={"token": token}))


async def test_promoting_to_admin_kills_reset_tokens(
    app: FastAPI, client: httpx.AsyncClient, outbox: LoggingEmailOutbox, account: Account
) -> None:
    """create-admin and the bootstrap admin promote through `ensure_admin`: a credential change."""
    from service.app.users.container import UsersContainer

    token = await forgot(app, client, outbox, account.email)
    users = await app.state.container.resolve(UsersContainer.user_service)
    await users.ensure_admin(email=account.email, password=None)
    assert_dead(await reset(client, token, ATTACKER))
